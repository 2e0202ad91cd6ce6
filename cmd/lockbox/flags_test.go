package main

import (
	"github.com/lockboxhq/lockbox"
	"strings"
	"testing"
	"time"
)

// TestParseMinutes: the syntax is lockbox.ParseMinutes' (tested there);
// a flag adds "greater than zero", unless zero is allowed.
func TestParseMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		in        string
		allowZero bool
		want      int
		wantErr   bool
	}{
		{"Hours", "2h", false, 120, false},
		{"PartMinute", "90s", false, 0, true},
		{"Zero", "0", false, 0, true},
		{"ZeroAllowed", "0", true, 0, false},
		{"ZeroMinutesAllowed", "0m", true, 0, false},
		{"Negative", "-1h", true, 0, true},
		{"Garbage", "two hours", false, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseMinutes(tt.in, tt.allowZero)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseMinutes(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("parseMinutes(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	berlin := time.FixedZone("CET", 3600)
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"UTC", "2026-11-21T09:00:00Z", time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC), false},
		{"OffsetToUTC", "2026-11-21T10:30:00+01:00", time.Date(2026, 11, 21, 9, 30, 0, 0, time.UTC), false},
		{"DateOnlyIsLocalMidnight", "2026-12-04", time.Date(2026, 12, 3, 23, 0, 0, 0, time.UTC), false},
		{"LocalDateTime", "2026-11-21T09:00", time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), false},
		{"LocalDateTimeSpace", "2026-11-21 09:00:00", time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC), false},
		{"HoursAgo", "24h", now.Add(-24 * time.Hour), false},
		{"DaysAgo", "7d", now.Add(-7 * 24 * time.Hour), false},
		{"Ahead", "+2h", now.Add(2 * time.Hour), false},
		{"Negative", "-2h", time.Time{}, true},
		{"Words", "yesterday", time.Time{}, true},
		{"BadDate", "2026-13-01", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTimeAt(tt.in, now, berlin)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTime(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if !got.Equal(tt.want) || (err == nil && got.Location() != time.UTC) {
				t.Errorf("parseTime(%q) = %v, want %v in UTC", tt.in, got, tt.want)
			}
		})
	}
}

func TestStatusesValue(t *testing.T) {
	t.Parallel()
	var v statusesValue
	if err := v.Set("pending"); err != nil {
		t.Fatal(err)
	}
	if err := v.Set("approved,active"); err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), "pending,approved,active"; got != want {
		t.Errorf("statuses = %q, want %q", got, want)
	}
	if err := v.Set("pendng"); err == nil {
		t.Error("unknown status accepted")
	}
}

// TestNewUserFlags: what a new user typed works, and errors speak in flags.
func TestNewUserFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string // in stdout (code 0) or stderr
	}{
		{"RequireApprovalFalse", []string{"settings", "set", "--tenant", "contoso", "--require-approval", "false"}, 0, "--require-approval=false"},
		{"RequireApprovalEquals", []string{"settings", "set", "--tenant", "contoso", "--require-approval=true"}, 0, "--require-approval=true"},
		{"RequireApprovalNotBool", []string{"settings", "set", "--tenant", "contoso", "--require-approval", "maybe"}, 2, "is not true or false"},
		{"FieldNamedAsFlag", []string{"settings", "set", "--tenant", "contoso", "--request-ttl", "30m"}, 1, "--request-ttl (in minutes) must be between"},
		{"SinceRelative", []string{"requests", "list", "--since", "24h"}, 0, ""},
		{"StartDate", []string{"requests", "create", "--tenant", "contoso", "--service", "exchange", "--service-request", "SR-1",
			"--reason", "r", "--duration", "1h", "--start", "2026-12-04"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := runFake(t, &fakeAPI{}, map[string]string{"LOCKBOX_SERVER": "http://lockbox.test", "LOCKBOX_TOKEN": "t"}, tc.args...)
			out := r.stdout
			if tc.code != 0 {
				out = r.stderr
			}
			if r.code != tc.code || !strings.Contains(out, tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d with %q", r.code, r.stdout, r.stderr, tc.code, tc.want)
			}
			if strings.Contains(r.stderr, "request_ttl_minutes") {
				t.Errorf("stderr names the API field: %q", r.stderr)
			}
		})
	}
}

// TestDevClockWithServerOnly: --server is enough for a dev server's clock;
// the dev service token stands in for a saved login.
func TestDevClockWithServerOnly(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	r := runFake(t, f, nil, "--server", "http://127.0.0.1:8080", "dev", "clock", "advance", "1h")
	if r.code != 0 || len(f.dials) != 1 || f.dials[0].Token != "dev-service-token" {
		t.Errorf("exit %d, stderr %q, dials %v", r.code, r.stderr, f.dials)
	}
	if r := runFake(t, &fakeAPI{}, nil, "dev", "clock", "advance", "1h"); r.code != 1 || !strings.Contains(r.stderr, "not signed in") {
		t.Errorf("without --server: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestFlagValueCompletion: the shell completes flag values, not only names.
func TestFlagValueCompletion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "requests", "list", "--status", ""}, []string{"pending", "active"}},
		{[]string{"__complete", "requests", "list", "-o", ""}, []string{"table", "json", "csv"}},
		{[]string{"__complete", "settings", "set", "--require-approval", ""}, []string{"true", "false"}},
		{[]string{"__complete", "users", "add", "--role", ""}, []string{"lockbox_approver"}},
		{[]string{"__complete", "requests", "create", "--service", ""}, []string{"exchange"}},
	} {
		r := runFake(t, &fakeAPI{}, signedIn(), tc.args...)
		for _, w := range tc.want {
			if !strings.Contains(r.stdout, w+"\n") {
				t.Errorf("%v: completions %q lack %s", tc.args, r.stdout, w)
			}
		}
	}
}

// TestOwnTenantDefault: a tenant's user need not type --tenant; provider
// staff must, and are told so before anything is asked of the server.
func TestOwnTenantDefault(t *testing.T) {
	t.Parallel()
	f := &fakeAPI{}
	r := runFake(t, f, signedIn(), "settings", "get")
	if r.code != 0 || len(f.calls) != 2 || f.calls[1].Method != "GetSettings" || f.calls[1].Args[0] != "contoso" {
		t.Errorf("tenant user: exit %d, stderr %q, calls %v", r.code, r.stderr, f.calls)
	}
	staff := &fakeAPI{me: &lockbox.User{Email: "operator@provider.test", Roles: []lockbox.Role{lockbox.RoleOperator}}}
	r = runFake(t, staff, signedIn(), "users", "list")
	if r.code != 2 || !strings.Contains(r.stderr, "--tenant is required") || len(staff.calls) != 1 {
		t.Errorf("provider staff: exit %d, stderr %q, calls %v", r.code, r.stderr, staff.calls)
	}
}
