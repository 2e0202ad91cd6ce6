package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
)

func TestUsageErrorsExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"NoCommand", nil, "needs a command"},
		{"UnknownCommand", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"UnknownSubcommand", []string{"requests", "lst"}, `unknown command "lst" for "lockbox requests"; did you mean list?`},
		{"GroupWithoutSubcommand", []string{"requests"}, "lockbox requests needs a command"},
		{"UnknownFlag", []string{"requests", "list", "--bogus"}, "unknown flag: --bogus"},
		{"BadFormat", []string{"requests", "list", "-o", "yaml"}, `unknown output format "yaml"`},
		{"CSVNotForShow", []string{"requests", "show", "LB-1", "-o", "csv"}, "unknown output format"},
		{"BadStatus", []string{"requests", "list", "--status", "open"}, `unknown status "open"`},
		{"BadLimit", []string{"requests", "list", "--limit", "-1"}, "--limit"},
		{"BadCreatedAfter", []string{"requests", "list", "--created-after", "yesterday"}, "RFC 3339"},
		{"ShowMissingID", []string{"requests", "show"}, "expected 1 argument(s) (ID|REFERENCE), got 0"},
		{"ShowTwoIDs", []string{"requests", "show", "a", "b"}, "got 2"},
		{"CreateMissingFlags", []string{"requests", "create", "--tenant", "contoso"}, `required flag(s)`},
		{"BadDuration", createArgs("--duration", "2 hours"), "not a duration"},
		{"PartMinuteDuration", createArgs("--duration", "90s"), "whole number of minutes"},
		{"ZeroDuration", createArgs("--duration", "0s"), "greater than zero"},
		{"BadStart", createArgs("--duration", "2h", "--start", "tomorrow"), "RFC 3339"},
		{"ReviewNeither", []string{"requests", "review", "LB-1"}, "exactly one of --approve or --deny"},
		{"ReviewBoth", []string{"requests", "review", "LB-1", "--approve", "--deny"}, "exactly one of --approve or --deny"},
		{"ApproveMissingID", []string{"requests", "approve"}, "expected 1 argument"},
		{"SettingsNothing", []string{"settings", "set", "--tenant", "contoso"}, "nothing to change"},
		{"SettingsBadTTL", []string{"settings", "set", "--tenant", "contoso", "--request-ttl", "12"}, "not a duration"},
		{"SettingsBadBool", []string{"settings", "set", "--tenant", "contoso", "--require-approval=maybe"}, "require-approval"},
		{"UsersAddMissingRole", []string{"users", "add", "--tenant", "t", "--email", "e@x.test"}, `"role"`},
		{"ClockBadDuration", []string{"dev", "clock", "advance", "soon"}, "not a positive duration"},
		{"ClockNegative", []string{"dev", "clock", "advance", "--", "-1h"}, "not a positive duration"},
		{"BadServerFlag", []string{"--server", "lockbox.example", "whoami"}, "http:// or https://"},
		{"VersionArgs", []string{"version", "extra"}, "expected 0 argument"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{}
			r := runFake(t, f, signedIn(), tt.args...)
			if r.code != 2 {
				t.Errorf("exit code = %d, want 2; stderr:\n%s", r.code, r.stderr)
			}
			if !strings.Contains(r.stderr, tt.want) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.want)
			}
			if !strings.HasPrefix(r.stderr, "lockbox: ") || !strings.Contains(r.stderr, "--help' for usage.") {
				t.Errorf("stderr = %q, want a 'lockbox: ' message and a usage hint", r.stderr)
			}
			if len(f.calls) != 0 {
				t.Errorf("a usage error called the API: %v", f.calls)
			}
		})
	}
}

func createArgs(extra ...string) []string {
	return append([]string{"requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-1", "--reason", "why"}, extra...)
}

func TestHelpExits0(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"requests", "--help"}, {"requests", "create", "--help"}, {"help", "settings"}} {
		r := runFake(t, &fakeAPI{}, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
			t.Errorf("%v: exit %d, stdout %q", args, r.code, r.stdout)
		}
	}
}

func TestAPIErrorExit1(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"Conflict", lockbox.Errorf(lockbox.ECONFLICT, "A request that is denied cannot be approved."),
			"lockbox: A request that is denied cannot be approved.\n"},
		{"Unauthenticated", lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session has expired."),
			"lockbox: Your session has expired. Run `lockbox login --server URL --email E`.\n"},
		{"UnauthenticatedSaysSignInAgain", lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session is invalid or has expired; sign in again."),
			"lockbox: Your session is invalid or has expired; sign in again. Run `lockbox login --server URL --email E`.\n"},
		{"Transport", os.ErrDeadlineExceeded, "lockbox: i/o timeout\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runFake(t, &fakeAPI{err: tt.err}, signedIn(), "requests", "approve", "LB-7K3Q9MXA")
			if r.code != 1 {
				t.Errorf("exit code = %d, want 1", r.code)
			}
			if diff := cmp.Diff(tt.want, r.stderr); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

func TestNotSignedIn(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	r := runFake(t, f, nil, "requests", "list")
	want := "lockbox: not signed in: run `lockbox login --server URL --email E`\n"
	if r.code != 1 || r.stderr != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
	if len(f.dials) != 0 {
		t.Errorf("dialled %v without credentials", f.dials)
	}
}

// TestCommandCalls checks which API call each command makes, with what.
func TestCommandCalls(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	after := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	yes, no, ttl, maxA, rem := true, false, 360, 90, 0
	tests := []struct {
		name string
		args []string
		want []call
	}{
		{"Create", createArgs("--duration", "2h", "--start", "2026-11-22T09:00:00+01:00", "--operation", "Get-Mailbox", "--operation", "Repair-Mailbox"),
			[]call{{"CreateRequest", []any{lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-1",
				Reason: "why", Operations: []string{"Get-Mailbox", "Repair-Mailbox"}, DurationMinutes: 120, StartTime: &start}}}}},
		{"CreateDefaults", createArgs("--duration", "90m"),
			[]call{{"CreateRequest", []any{lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-1",
				Reason: "why", DurationMinutes: 90}}}}},
		{"List", []string{"requests", "list", "--tenant", "contoso", "--status", "pending", "--status", "approved,active",
			"--service", "exchange", "--created-after", "2026-11-01T01:00:00+01:00", "--limit", "5"},
			[]call{{"ListRequests", []any{lockbox.RequestFilter{Tenant: "contoso", Service: "exchange", Limit: 5, CreatedAfter: &after,
				Status: []lockbox.Status{lockbox.StatusPending, lockbox.StatusApproved, lockbox.StatusActive}}}}}},
		{"Show", []string{"requests", "show", "LB-7K3Q9MXA"}, []call{{"GetRequest", []any{"LB-7K3Q9MXA"}}}},
		{"ReviewApprove", []string{"requests", "review", "LB-1", "--approve", "--comment", "ok"},
			[]call{{"Act", []any{"LB-1", lockbox.EventReviewApprove, lockbox.Decision{Comment: "ok"}}}}},
		{"ReviewDeny", []string{"requests", "review", "LB-1", "--deny"},
			[]call{{"Act", []any{"LB-1", lockbox.EventReviewDeny, lockbox.Decision{}}}}},
		{"Approve", []string{"requests", "approve", "id1", "--comment", "go ahead"},
			[]call{{"Act", []any{"id1", lockbox.EventApprove, lockbox.Decision{Comment: "go ahead"}}}}},
		{"Deny", []string{"requests", "deny", "id1"}, []call{{"Act", []any{"id1", lockbox.EventDeny, lockbox.Decision{}}}}},
		{"Cancel", []string{"requests", "cancel", "id1"}, []call{{"Act", []any{"id1", lockbox.EventCancel, lockbox.Decision{}}}}},
		{"Revoke", []string{"requests", "revoke", "id1"}, []call{{"Act", []any{"id1", lockbox.EventRevoke, lockbox.Decision{}}}}},
		{"Complete", []string{"requests", "complete", "id1"}, []call{{"Act", []any{"id1", lockbox.EventComplete, lockbox.Decision{}}}}},
		{"SettingsGet", []string{"settings", "get", "--tenant", "contoso"}, []call{{"GetSettings", []any{"contoso"}}}},
		{"SettingsSetSome", []string{"settings", "set", "--tenant", "contoso", "--require-approval=false", "--request-ttl", "6h"},
			[]call{{"UpdateSettings", []any{"contoso", lockbox.SettingsPatch{RequireApproval: &no, RequestTTLMinutes: &ttl}}}}},
		{"SettingsSetRest", []string{"settings", "set", "--tenant", "contoso", "--require-approval", "true", "--max-duration", "1h30m",
			"--reminder", "0", "--notify-email", "a@x.test", "--notify-email", "b@x.test"},
			[]call{{"UpdateSettings", []any{"contoso", lockbox.SettingsPatch{RequireApproval: &yes, MaxAccessMinutes: &maxA,
				ReminderMinutesBeforeExpiry: &rem, NotifyEmails: &[]string{"a@x.test", "b@x.test"}}}}}},
		{"SettingsClearNotify", []string{"settings", "set", "--tenant", "contoso", "--notify-email", ""},
			[]call{{"UpdateSettings", []any{"contoso", lockbox.SettingsPatch{NotifyEmails: &[]string{}}}}}},
		{"UsersList", []string{"users", "list", "--tenant", "contoso"}, []call{{"ListTenantUsers", []any{"contoso"}}}},
		{"UsersAdd", []string{"users", "add", "--tenant", "contoso", "--email", "new@contoso.test", "--role", "lockbox_approver",
			"--role", "audit_reader", "--name", "New", "--password", "pw"},
			[]call{{"AddTenantUser", []any{"contoso", lockbox.NewUser{Email: "new@contoso.test", Name: "New", Password: "pw",
				Roles: []lockbox.Role{lockbox.RoleLockboxApprover, lockbox.RoleAuditReader}}}}}},
		{"UsersSetRoles", []string{"users", "set-roles", "--tenant", "contoso", "--email", "u@contoso.test", "--role", "global_admin"},
			[]call{{"UpdateTenantUser", []any{"contoso", "u@contoso.test", lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}}}}},
		{"UsersRemove", []string{"users", "remove", "--tenant", "contoso", "--email", "u@contoso.test"},
			[]call{{"RemoveTenantUser", []any{"contoso", "u@contoso.test"}}}},
		{"TenantsList", []string{"tenants", "list"}, []call{{"ListTenants", nil}}},
		{"TenantsCreate", []string{"tenants", "create", "--name", "fabrikam", "--display-name", "Fabrikam", "--admin-email",
			"admin@fabrikam.test", "--admin-name", "Ada"},
			[]call{{"CreateTenant", []any{lockbox.NewTenant{Name: "fabrikam", DisplayName: "Fabrikam", Admin: lockbox.NewUser{
				Email: "admin@fabrikam.test", Name: "Ada", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}}}}}},
		{"StaffList", []string{"staff", "list"}, []call{{"ListStaff", nil}}},
		{"StaffAdd", []string{"staff", "add", "--email", "op@provider.test", "--role", "operator"},
			[]call{{"AddStaff", []any{lockbox.NewUser{Email: "op@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}}}}}},
		{"ServiceAccountCreate", []string{"service-accounts", "create", "mailstore"}, []call{{"CreateServiceAccount", []any{"mailstore"}}}},
		{"ServicesList", []string{"services", "list"}, []call{{"ListServices", nil}}},
		{"ServicesShow", []string{"services", "show", "exchange"}, []call{{"GetService", []any{"exchange"}}}},
		{"ServicesSetKeepsDisplayName", []string{"services", "set", "exchange", "--operation", "Get-Mailbox", "--operation", "Repair-Mailbox"},
			[]call{{"GetService", []any{"exchange"}}, {"PutService", []any{lockbox.Service{Name: "exchange",
				DisplayName: "Exchange Online", Operations: []string{"Get-Mailbox", "Repair-Mailbox"}}}}}},
		{"ServicesSetNew", []string{"services", "set", "yammer", "--operation", "Get-Thread"},
			[]call{{"GetService", []any{"yammer"}}, {"PutService", []any{lockbox.Service{Name: "yammer", Operations: []string{"Get-Thread"}}}}}},
		{"ServicesSetDisplayName", []string{"services", "set", "exchange", "--operation", "Get-Mailbox", "--display-name", "EXO"},
			[]call{{"PutService", []any{lockbox.Service{Name: "exchange", DisplayName: "EXO", Operations: []string{"Get-Mailbox"}}}}}},
		{"Whoami", []string{"whoami"}, []call{{"Me", nil}}},
		{"ClockAdvance", []string{"dev", "clock", "advance", "12h"}, []call{{"AdvanceClock", []any{12 * time.Hour}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{}
			r := runFake(t, f, signedIn(), tt.args...)
			if r.code != 0 {
				t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]dial{{"http://127.0.0.1:8080", "tok"}}, f.dials); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCommandOutput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"Create", createArgs("--duration", "2h"), "LB-7K3Q9MXA pending_review (expires 2026-11-21T21:00:00Z)\n"},
		{"Approve", []string{"requests", "approve", "LB-7K3Q9MXA"}, "LB-7K3Q9MXA pending (expires 2026-11-21T21:00:00Z)\n"},
		{"List", []string{"requests", "list"}, "" +
			"REFERENCE    STATUS          TENANT   SERVICE   SR              DURATION  REQUESTED BY            CREATED               EXPIRES\n" +
			"LB-7K3Q9MXA  pending_review  contoso  exchange  SR-2026-004211  2h        operator@provider.test  2026-11-21T09:00:00Z  2026-11-21T21:00:00Z\n"},
		{"UsersCSVDefused", []string{"users", "list", "--tenant", "contoso", "-o", "csv"},
			"EMAIL,NAME,ROLES,CREATED\n'=cmd|' /C calc'!A0,,global_admin,2026-11-21T09:00:00Z\n"},
		{"SettingsGet", []string{"settings", "get", "--tenant", "contoso"}, "" +
			"Require approval:          true\n" +
			"Request TTL:               12h\n" +
			"Max access duration:       4h\n" +
			"Reminder before expiry:    2h\n" +
			"Notify emails:             -\n" +
			"Approvals required:        1\n" +
			"Max total access:          8h\n" +
			"Require signed decisions:  false\n" +
			"Require MFA:               false\n" +
			"Break-glass:               off (at most 1h when on)\n" +
			"Escalation:                off\n"},
		{"SettingsSet", []string{"settings", "set", "--tenant", "contoso", "--require-approval=false", "--notify-email", "a@x.test"},
			"Updated settings of contoso: --require-approval=false --request-ttl=12h --max-duration=4h --reminder=2h --notify-email=\"a@x.test\" --approvals-required=1 --require-signed-decisions=false --require-mfa=false\n"},
		{"ServiceAccountTokenShown", []string{"service-accounts", "create", "mailstore"},
			"Created service account mailstore.\nToken (shown only once): sa-token-xyz\n"},
		{"StaffInitialPasswordShown", []string{"staff", "add", "--email", "op@provider.test", "--role", "operator"},
			"Added op@provider.test as operator.\nInitial password (shown only once): initial-pw-123\n"},
		{"TenantCreate", []string{"tenants", "create", "--name", "fabrikam", "--admin-email", "admin@fabrikam.test"},
			"Created tenant fabrikam with global admin admin@fabrikam.test.\nInitial password (shown only once): tenant-admin-pw\n"},
		{"UsersRemove", []string{"users", "remove", "--tenant", "contoso", "--email", "u@contoso.test"},
			"Removed u@contoso.test from contoso.\n"},
		{"ClockAdvance", []string{"dev", "clock", "advance", "12h"},
			"Server clock moved forward 12h0m0s; it is now 2026-11-21T21:00:00Z.\n"},
		{"Whoami", []string{"whoami"}, "" +
			"Email:   approver@contoso.test\n" +
			"Name:    -\n" +
			"Tenant:  contoso\n" +
			"Roles:   lockbox_approver\n" +
			"ID:      u1\n" +
			"Server:  http://127.0.0.1:8080\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runFake(t, &fakeAPI{}, signedIn(), tt.args...)
			if r.code != 0 {
				t.Fatalf("exit code = %d; stderr:\n%s", r.code, r.stderr)
			}
			if diff := cmp.Diff(tt.want, r.stdout); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
		})
	}
}

func TestShowListsEveryField(t *testing.T) {
	t.Parallel()
	r := runFake(t, &fakeAPI{}, signedIn(), "requests", "show", "LB-7K3Q9MXA")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(requestFields) {
		t.Errorf("show printed %d lines, want %d:\n%s", len(lines), len(requestFields), r.stdout)
	}
	for _, want := range []string{"Reference:", "LB-7K3Q9MXA", "Reason:", "Mailbox fails to load", "Decided by:", "Access ends:", "ID:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("show output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestJSONOutputIsTheAPIObject(t *testing.T) {
	t.Parallel()
	r := runFake(t, &fakeAPI{}, signedIn(), "requests", "show", "LB-7K3Q9MXA", "-o", "json")
	var got lockbox.AccessRequest
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("show -o json: %v\n%s", err, r.stdout)
	}
	if diff := cmp.Diff(sampleRequest(), &got); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}

	r = runFake(t, &fakeAPI{}, signedIn(), "requests", "list", "-o", "json")
	var list []*lockbox.AccessRequest
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 {
		t.Fatalf("list -o json = %v, %v\n%s", list, err, r.stdout)
	}
}

func TestListAllFollowsCursors(t *testing.T) {
	t.Parallel()
	req := func(ref string) *lockbox.AccessRequest { r := sampleRequest(); r.Reference = ref; return r }
	f := &fakeAPI{pages: map[string]*lockbox.RequestPage{
		"":   {Requests: []*lockbox.AccessRequest{req("LB-1"), req("LB-2")}, NextCursor: "c2"},
		"c2": {Requests: []*lockbox.AccessRequest{req("LB-3")}, NextCursor: "c3"},
		"c3": {Requests: []*lockbox.AccessRequest{req("LB-4")}},
	}}
	r := runFake(t, f, signedIn(), "requests", "list", "--all", "--limit", "2", "-o", "csv")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var cursors []string
	for _, c := range f.calls {
		cursors = append(cursors, c.Args[0].(lockbox.RequestFilter).Cursor)
	}
	if diff := cmp.Diff([]string{"", "c2", "c3"}, cursors); diff != "" {
		t.Errorf("cursors (-want +got):\n%s", diff)
	}
	if n := strings.Count(r.stdout, "\n"); n != 5 {
		t.Errorf("CSV has %d lines, want header + 4:\n%s", n, r.stdout)
	}

	// Without --all: one page, and a hint with the next cursor on stderr.
	f.calls = nil
	r = runFake(t, f, signedIn(), "requests", "list")
	if len(f.calls) != 1 || !strings.Contains(r.stderr, "--cursor c2") {
		t.Errorf("calls %v, stderr %q; want one call and a hint", f.calls, r.stderr)
	}

	// A server that repeats a cursor must not make the CLI loop forever.
	f.pages["c3"].NextCursor = "c2"
	if r := runFake(t, f, signedIn(), "requests", "list", "--all"); r.code != 1 {
		t.Errorf("repeated cursor: exit %d, want 1", r.code)
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "cfg")
	env := map[string]string{"LOCKBOX_CONFIG_DIR": dir, "LOCKBOX_PASSWORD": "hunter2"}
	f := &fakeAPI{}
	r := runFake(t, f, env, "login", "--server", "http://127.0.0.1:8080/", "--email", "Approver@Contoso.test")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]call{{"Login", []any{"approver@contoso.test", "hunter2"}}}, f.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]dial{{"http://127.0.0.1:8080", ""}}, f.dials); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}
	for _, secret := range []string{"hunter2", "secret-session-token"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("login printed a secret: %q / %q", r.stdout, r.stderr)
		}
	}
	got, err := loadCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &credentials{Server: "http://127.0.0.1:8080", Email: "approver@contoso.test",
		Token: "secret-session-token", ExpiresAt: t0.Add(12 * time.Hour)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("saved credentials (-want +got):\n%s", diff)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, credentialsFile), 0o600)

	// Later commands use the saved session.
	f = &fakeAPI{}
	if r := runFake(t, f, map[string]string{"LOCKBOX_CONFIG_DIR": dir}, "whoami"); r.code != 0 {
		t.Fatalf("whoami: exit %d: %s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]dial{{"http://127.0.0.1:8080", "secret-session-token"}}, f.dials); diff != "" {
		t.Errorf("dials (-want +got):\n%s", diff)
	}

	// Logout forgets it.
	r = runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_CONFIG_DIR": dir}, "logout")
	if r.code != 0 || r.stdout != "Signed out.\n" {
		t.Errorf("logout: exit %d, stdout %q", r.code, r.stdout)
	}
	if r := runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_CONFIG_DIR": dir}, "whoami"); r.code != 1 {
		t.Errorf("whoami after logout: exit %d, want 1", r.code)
	}
}

func TestLoginWithoutServer(t *testing.T) {
	t.Parallel()
	r := runFake(t, &fakeAPI{}, nil, "login", "--email", "a@b.test")
	if r.code != 2 || !strings.Contains(r.stderr, "--server is required") {
		t.Errorf("exit %d, stderr %q; want 2 and --server is required", r.code, r.stderr)
	}
}

func TestLoginWithoutPassword(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	r := runFake(t, f, nil, "login", "--server", "http://127.0.0.1:8080", "--email", "a@b.test")
	if r.code != 1 || !strings.Contains(r.stderr, "LOCKBOX_PASSWORD") || len(f.calls) != 0 {
		t.Errorf("exit %d, stderr %q, calls %v", r.code, r.stderr, f.calls)
	}
}

func TestLoginFailureSavesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	f := &fakeAPI{err: lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Wrong email or password.")}
	r := runFake(t, f, map[string]string{"LOCKBOX_CONFIG_DIR": dir, "LOCKBOX_PASSWORD": "x"},
		"login", "--server", "http://127.0.0.1:8080", "--email", "a@b.test")
	if r.code != 1 || r.stderr != "lockbox: Wrong email or password.\n" {
		t.Errorf("exit %d, stderr %q", r.code, r.stderr)
	}
	if c, _ := loadCredentials(dir); c != nil {
		t.Errorf("failed login saved %+v", c)
	}
}

func TestServerAndTokenPrecedence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	saved := &credentials{Server: "https://saved.example", Email: "a@b.test", Token: "saved-token"}
	if err := saveCredentials(dir, saved); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want dial
	}{
		{"Saved", nil, nil, dial{"https://saved.example", "saved-token"}},
		{"SavedSameServerFlag", nil, []string{"--server", "https://saved.example/"}, dial{"https://saved.example", "saved-token"}},
		{"EnvToken", map[string]string{"LOCKBOX_TOKEN": "env-token"}, nil, dial{"https://saved.example", "env-token"}},
		{"EnvBoth", map[string]string{"LOCKBOX_SERVER": "https://env.example", "LOCKBOX_TOKEN": "env-token"}, nil,
			dial{"https://env.example", "env-token"}},
		{"FlagsWin", map[string]string{"LOCKBOX_SERVER": "https://env.example", "LOCKBOX_TOKEN": "env-token"},
			[]string{"--server", "https://flag.example", "--token", "flag-token"}, dial{"https://flag.example", "flag-token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeAPI{}
			env := withEnv(tt.env, "LOCKBOX_CONFIG_DIR", dir)
			r := runFake(t, f, env, append(tt.args, "whoami")...)
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if diff := cmp.Diff([]dial{tt.want}, f.dials); diff != "" {
				t.Errorf("dials (-want +got):\n%s", diff)
			}
		})
	}

	// The saved token is never sent to another server.
	f := &fakeAPI{}
	r := runFake(t, f, map[string]string{"LOCKBOX_CONFIG_DIR": dir}, "--server", "https://other.example", "whoami")
	if r.code != 1 || !strings.Contains(r.stderr, "not signed in") || len(f.dials) != 0 {
		t.Errorf("exit %d, stderr %q, dials %v", r.code, r.stderr, f.dials)
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &stdout, &stderr, func(string) string { return "" })
		if code != 0 || !strings.HasPrefix(stdout.String(), "lockbox ") || !strings.Contains(stdout.String(), "commit ") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, stdout.String(), stderr.String())
		}
		outs = append(outs, stdout.String())
	}
	if outs[0] != outs[1] {
		t.Errorf("version and --version differ: %q, %q", outs[0], outs[1])
	}
}

func TestDescribeBuild(t *testing.T) {
	t.Parallel()
	bi := &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-12-05T18:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		bi   *debug.BuildInfo
		link buildStamp
		want string
	}{
		{bi, buildStamp{}, "v1.4.0 (commit 0123456789ab-dirty, commit date 2026-12-05T18:00:00Z, go"},
		{bi, buildStamp{"v2.0.0", "", "2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z"}, "v2.0.0 (commit 0123456789ab-dirty, commit date 2026-12-06T00:00:00Z, built 2026-12-07T00:00:00Z, "},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildStamp{"v2.1.0", "fedcba987654", "", ""}, "v2.1.0 (commit fedcba987654, commit date unknown, go"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, buildStamp{}, "dev (commit unknown, commit date unknown, go"},
		{nil, buildStamp{}, "dev (commit unknown, commit date unknown, go"},
	} {
		if got := describeBuild(tc.bi, tc.link); !strings.HasPrefix(got, tc.want) {
			t.Errorf("describeBuild = %q, want prefix %q", got, tc.want)
		}
	}
}

func TestTokensNotPrintedInErrors(t *testing.T) {
	t.Parallel()
	r := runFake(t, &fakeAPI{}, nil, "--token", "very-secret", "--server", "https://u:pw-secret@x.example", "whoami")
	if r.code != 2 {
		t.Errorf("exit %d, want 2", r.code)
	}
	if strings.Contains(r.stderr, "very-secret") || strings.Contains(r.stderr, "pw-secret") {
		t.Errorf("stderr leaks a secret: %q", r.stderr)
	}
}
