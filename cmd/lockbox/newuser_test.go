package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// commandAt builds the whole command tree and returns the command at path.
func commandAt(t *testing.T, path ...string) *cobra.Command {
	t.Helper()
	a := &app{stdin: strings.NewReader(""), getenv: func(string) string { return "" }}
	cmd, rest, err := a.rootCmd().Find(path)
	if err != nil || len(rest) != 0 {
		t.Fatalf("no command %v: %v (left %v)", path, err, rest)
	}
	return cmd
}

// TestFieldAsFlag: an API error about a field names the flag that sends it
// — where the message names the field, and only there — and leaves prose
// alone. The cases are what a new user met.
func TestFieldAsFlag(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		cmd        []string
		field, msg string
		want       string
	}{
		{"WordInsideProse", []string{"requests", "create"}, "service", `Service "nosuch" is not in the services catalog.`,
			`--service: Service "nosuch" is not in the services catalog.`},
		{"OtherFieldInMessage", []string{"settings", "set"}, "escalation.notify",
			"escalation.notify needs at least one address when escalation.after_minutes is set.",
			"--escalate-notify needs at least one address when --escalate-after is set."},
		{"ApproveDuration", []string{"requests", "approve"}, "duration_minutes",
			"An approval may shorten the access, not lengthen it: duration_minutes must be between 1 and 60; got 540.",
			"An approval may shorten the access, not lengthen it: --duration (in minutes) must be between 1 and 60; got 540."},
		{"ApproveStart", []string{"requests", "approve"}, "start_time", "start_time may be at most 30 days ahead.",
			"--start may be at most 30 days ahead."},
		{"ApproveOperations", []string{"requests", "approve"}, "operations", `Operation "X" was not requested ([A]): an approval may only remove operations.`,
			`--operation: Operation "X" was not requested ([A]): an approval may only remove operations.`},
		{"ExtendMinutes", []string{"requests", "extend"}, "minutes", "minutes must be between 1 and 240; got 540.",
			"--minutes (in minutes) must be between 1 and 240; got 540."},
		{"ExtendMinutesProse", []string{"requests", "extend"}, "minutes", "The whole access may last at most 480 minutes in this tenant.",
			"--minutes (in minutes): The whole access may last at most 480 minutes in this tenant."},
		{"ExtendReason", []string{"requests", "extend"}, "reason", "reason is required.", "--reason is required."},
		{"DenyComment", []string{"requests", "deny"}, "comment", "comment is 2001 characters long; the limit is 2000.",
			"--comment is 2001 characters long; the limit is 2000."},
		{"WebhookURL", []string{"webhooks", "create"}, "url", `url's port must be a number from 1 to 65535; got "99999".`,
			`--url's port must be a number from 1 to 65535; got "99999".`},
		{"WebhookEvents", []string{"webhooks", "create"}, "events", `Unknown webhook event "x"; use any of request.created.`,
			`--event: Unknown webhook event "x"; use any of request.created.`},
		{"SettingsTTL", []string{"settings", "set"}, "request_ttl_minutes", "request_ttl_minutes must be between 60 and 10080; got 5.",
			"--request-ttl (in minutes) must be between 60 and 10080; got 5."},
		{"SettingsNested", []string{"settings", "set"}, "break_glass.max_minutes", "break_glass.max_minutes must be between 1 and 240; got 300.",
			"--break-glass-max (in minutes) must be between 1 and 240; got 300."},
		{"CreateServiceRequest", []string{"requests", "create"}, "service_request", "service_request must not start or end with spaces.",
			"--service-request must not start or end with spaces."},
		{"CreateOperations", []string{"requests", "create"}, "operations", `Operation "Nope" is not a pre-approved operation of service exchange.`,
			`--operation: Operation "Nope" is not a pre-approved operation of service exchange.`},
		{"UsersRoles", []string{"users", "add"}, "roles", `Unknown role "x"; use one of global_admin.`,
			`--role: Unknown role "x"; use one of global_admin.`},
		{"FieldWithoutFlag", []string{"requests", "create"}, "name", "name is required.", "name is required."},
		{"NoField", []string{"requests", "create"}, "", "The service is unavailable.", "The service is unavailable."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := fieldAsFlag(commandAt(t, tc.cmd...), tc.field, tc.msg); got != tc.want {
				t.Errorf("fieldAsFlag(%v, %q, %q)\n got %q\nwant %q", tc.cmd, tc.field, tc.msg, got, tc.want)
			}
		})
	}
}

// TestFieldAsFlagThroughTheCLI: what the person reads on stderr for an
// approval the server refuses.
func TestFieldAsFlagThroughTheCLI(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{err: lockbox.FieldErrorf(lockbox.EINVALID, "duration_minutes",
		"An approval may shorten the access, not lengthen it: duration_minutes must be between 1 and 60; got 540.")}
	r := runFake(t, f, signedIn(), "requests", "approve", "LB-7K3Q9MXA", "--duration", "9h")
	if r.code != 1 || !strings.Contains(r.stderr, "--duration (in minutes) must be between 1 and 60") || strings.Contains(r.stderr, "duration_minutes") {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestEmptyFileRefused: an empty --file is refused by the CLI, naming the
// file, before anything is sent.
func TestEmptyFileRefused(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "rules.json")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, file := range []string{empty, "-"} {
		f := &fakeAPI{}
		r := runFake(t, f, signedIn(), "policy", "set", "--tenant", "contoso", "--file", file)
		if r.code != 2 || !strings.Contains(r.stderr, "is empty: it must hold a JSON object") || strings.Contains(r.stderr, "request body") || len(f.calls) != 0 {
			t.Errorf("--file %s: exit %d, stderr %q, calls %v", file, r.code, r.stderr, f.calls)
		}
	}
}

// TestOutputFlag: -o/--output is the format in every command, as in
// kubectl and gh; --format still works for old scripts, with a note on
// stderr that keeps stdout clean.
func TestOutputFlag(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"requests", "list", "--output", "json"},
		{"requests", "list", "-o", "json"},
		{"requests", "list", "--format", "json"},
	} {
		r := runFake(t, &fakeAPI{}, signedIn(), args...)
		var reqs []lockbox.AccessRequest
		if err := json.Unmarshal([]byte(r.stdout), &reqs); r.code != 0 || err != nil || len(reqs) != 1 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q, %v", args, r.code, r.stdout, r.stderr, err)
		}
		if deprecated := strings.Contains(r.stderr, "--format is deprecated"); deprecated != (args[2] == "--format") {
			t.Errorf("%v: stderr %q", args, r.stderr)
		}
	}
	r := runFake(t, &fakeAPI{}, signedIn(), "audit", "search", "--tenant", "contoso", "--output", "audit.csv")
	if r.code != 2 || !strings.Contains(r.stderr, "name a file with --file") {
		t.Errorf("audit search --output audit.csv: exit %d, stderr %q", r.code, r.stderr)
	}
	// Every command that has a format has it as -o/--output, none as --format.
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f := c.Flags().Lookup("format"); f != nil {
			if o := c.Flags().Lookup("output"); o == nil || o.Shorthand != "o" || !f.Hidden {
				t.Errorf("%s: --format without a hidden alias role or -o/--output", c.CommandPath())
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(commandAt(t))
}

// TestFlagUsageHasNoBackquotes: cobra shows a backquoted word of a flag's
// usage as its placeholder ("--token-ttl lockbox login"), so none has one.
func TestFlagUsageHasNoBackquotes(t *testing.T) {
	t.Parallel()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if strings.Contains(f.Usage, "`") {
				t.Errorf("%s --%s: usage %q has a backquote", c.CommandPath(), f.Name, f.Usage)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(commandAt(t))
	r := runFake(t, &fakeAPI{}, nil, "serve", "--help")
	if !strings.Contains(r.stdout, "--token-ttl duration") {
		t.Errorf("serve --help:\n%s", r.stdout)
	}
}

// TestCompleteFlagValues: the values the shell completes, fixed ones and
// those asked of the server.
func TestCompleteFlagValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args       []string
		want, lack []string
	}{
		{[]string{"__complete", "audit", "search", "-o", ""}, []string{"table", "json", "csv"}, nil},
		{[]string{"__complete", "audit", "search", "--output", ""}, []string{"table", "json", "csv"}, nil},
		{[]string{"__complete", "requests", "show", "-o", ""}, []string{"table", "json"}, []string{"csv"}},
		{[]string{"__complete", "settings", "set", "--break-glass", ""}, []string{"true", "false"}, nil},
		{[]string{"__complete", "settings", "set", "--require-mfa", ""}, []string{"true", "false"}, nil},
		{[]string{"__complete", "serve", "--log-format", ""}, []string{"text", "json"}, nil},
		{[]string{"__complete", "requests", "create", "--service", "exchange", "--operation", ""}, []string{"Get-Mailbox"}, nil},
		{[]string{"__complete", "requests", "create", "--operation", ""}, nil, []string{"Get-Mailbox"}},
		{[]string{"__complete", "requests", "approve", "LB-7K3Q9MXA", "--operation", ""}, []string{"Get-MailboxStatistics", "Repair-Mailbox"}, nil},
		{[]string{"__complete", "audit", "search", "--operation", ""}, []string{"request.approved", "operator.action"}, nil},
		{[]string{"__complete", "audit", "search", "--record-type", ""}, []string{lockbox.AuditRecordTypes[0]}, nil},
		{[]string{"__complete", "users", "list", "--tenant", ""}, []string{"contoso"}, nil},
		{[]string{"__complete", "audit", "search", "--tenant", ""}, []string{"contoso", lockbox.ProviderLog}, nil},
		{[]string{"__complete", "requests", "list", "--tenant", ""}, []string{"contoso"}, []string{lockbox.ProviderLog}},
	} {
		r := runFake(t, &fakeAPI{}, signedIn(), tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w+"\n") {
				t.Errorf("%v: completions %q lack %s", tc.args, r.stdout, w)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(r.stdout, l+"\n") {
				t.Errorf("%v: completions %q offer %s", tc.args, r.stdout, l)
			}
		}
	}
	// A tenant's user, who may not list tenants, is offered their own.
	var stdout strings.Builder
	env := withEnv(signedIn(), "LOCKBOX_CONFIG_DIR", t.TempDir())
	a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &strings.Builder{}, getenv: func(k string) string { return env[k] },
		dial: func(string, string) api { return &listTenantsRefused{&fakeAPI{}} }}
	a.execute(context.Background(), []string{"__complete", "settings", "get", "--tenant", ""})
	if !strings.Contains(stdout.String(), "contoso\n") {
		t.Errorf("tenant user: completions %q", stdout.String())
	}
}

// listTenantsRefused answers ListTenants as the server does a tenant's user.
type listTenantsRefused struct{ *fakeAPI }

func (l *listTenantsRefused) ListTenants(context.Context) ([]*lockbox.Tenant, error) {
	return nil, lockbox.Errorf(lockbox.EFORBIDDEN, "Only provider admins list tenants.")
}

// TestAuditSearchSince: audit search --since takes what --start takes,
// relative or absolute, through the one time parser.
func TestAuditSearchSince(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"24h", time.Now().Add(-24 * time.Hour)},
		{"2026-12-04T09:00:00Z", time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)},
	} {
		cmd := commandAt(t, "audit", "search")
		if err := cmd.ParseFlags([]string{"--since", tc.in}); err != nil {
			t.Fatalf("--since %s: %v", tc.in, err)
		}
		got, err := time.Parse(time.RFC3339, cmd.Flags().Lookup("start").Value.String())
		if err != nil || got.Sub(tc.want).Abs() > time.Minute {
			t.Errorf("--since %s: start %v (%v), want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestResetPasswordOwnTenant: a tenant's global admin need not type
// --tenant to reset a colleague's password, as in the other users commands.
func TestResetPasswordOwnTenant(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	r := runFake(t, f, signedIn(), "users", "reset-password", "auditor@contoso.test")
	last := f.calls[len(f.calls)-1]
	if r.code != 0 || last.Method != "ResetTenantUserPassword" || last.Args[0] != "contoso" {
		t.Errorf("exit %d, stderr %q, calls %v", r.code, r.stderr, f.calls)
	}
}

// expiringLogin answers every token but the dev service token as the
// server answers an expired login.
type expiringLogin struct {
	*fakeAPI
	token string
}

func (e *expiringLogin) AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error) {
	if e.token != approval.DevServiceToken {
		return time.Time{}, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session is invalid or has expired; sign in again.")
	}
	return e.fakeAPI.AdvanceClock(ctx, d)
}

// TestDevClockExpiredLogin: a saved login that has expired does not stop
// `lockbox dev clock`: the dev service token stands in, on the saved
// login's server. A token given explicitly is never replaced.
func TestDevClockExpiredLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      map[string]string
		code     int
		lastDial dial
	}{
		{"SavedLogin", nil, 0, dial{"http://127.0.0.1:8080", approval.DevServiceToken}},
		{"ExplicitToken", map[string]string{"LOCKBOX_TOKEN": "mine"}, 1, dial{"http://127.0.0.1:8080", "mine"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := saveCredentials(dir, &credentials{Server: "http://127.0.0.1:8080", Email: "operator@provider.test",
				Token: "expired", ExpiresAt: time.Now().Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
			env := withEnv(tc.env, "LOCKBOX_CONFIG_DIR", dir)
			f := &fakeAPI{}
			var stdout, stderr strings.Builder
			a := &app{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] },
				dial: func(server, token string) api {
					f.dials = append(f.dials, dial{server, token})
					return &expiringLogin{f, token}
				}}
			code := a.execute(context.Background(), []string{"dev", "clock", "advance", "12h1m"})
			if code != tc.code || len(f.dials) == 0 || f.dials[len(f.dials)-1] != tc.lastDial {
				t.Errorf("exit %d, stdout %q, stderr %q, dials %v", code, stdout.String(), stderr.String(), f.dials)
			}
		})
	}
}
