package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// e2e is a real `lockbox serve --dev` on 127.0.0.1:0 and a CLI user with
// their own config directory.
type e2e struct {
	t      *testing.T
	url    string
	config string
	// newPassword answers the prompt for a new password (LOCKBOX_NEW_PASSWORD).
	newPassword string
}

func startE2E(t *testing.T) *e2e {
	t.Helper()
	ctx := context.Background()
	rs, err := startServer(ctx, serverConfig{Listen: "127.0.0.1:0", Dev: true, WorkerPoll: 50 * time.Millisecond,
		Database: filepath.Join(t.TempDir(), "lockbox.db"), PasswordMemoryKiB: 64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := rs.Close(ctx); err != nil {
			t.Errorf("graceful shutdown: %v", err)
		}
	})
	return &e2e{t: t, url: rs.URL()}
}

// as signs in as email in a fresh config directory and returns a CLI user.
func (e *e2e) as(email string) *e2e {
	e.t.Helper()
	u := &e2e{t: e.t, url: e.url, config: e.t.TempDir()}
	u.mustRun("login", "--server", e.url, "--email", email)
	return u
}

// runCLI runs one command line in-process, exactly as the binary would.
func (e *e2e) runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	env := map[string]string{"LOCKBOX_CONFIG_DIR": e.config, "LOCKBOX_PASSWORD": "lockbox-dev", "LOCKBOX_NEW_PASSWORD": e.newPassword}
	code = run(context.Background(), args, strings.NewReader(""), &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

func (e *e2e) mustRun(args ...string) string {
	e.t.Helper()
	code, out, errOut := e.runCLI(args...)
	if code != 0 {
		e.t.Fatalf("lockbox %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// request runs a command that prints a request as JSON and decodes it.
func (e *e2e) request(args ...string) lockbox.AccessRequest {
	e.t.Helper()
	var r lockbox.AccessRequest
	out := e.mustRun(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		e.t.Fatalf("lockbox %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return r
}

func (e *e2e) wantFail(code int, substr string, args ...string) {
	e.t.Helper()
	got, _, errOut := e.runCLI(args...)
	if got != code || !strings.Contains(errOut, substr) {
		e.t.Fatalf("lockbox %s: exit %d, stderr %q; want exit %d mentioning %q", strings.Join(args, " "), got, errOut, code, substr)
	}
}

func TestEndToEndThroughTheCLI(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, other := srv.as("approver@contoso.test"), srv.as("admin@fabrikam.test")

	// The operator files a request; the manager reviews it.
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-2026-004211", "--reason", "Mailbox fails to load.",
		"--duration", "2h", "--operation", "Get-MailboxStatistics")
	if r.Status != lockbox.StatusPendingReview || !strings.HasPrefix(r.Reference, "LB-") || r.DurationMinutes != 120 {
		t.Fatalf("created: %+v", r)
	}
	op.wantFail(1, "support manager", "requests", "review", r.ID, "--approve")
	approver.wantFail(1, "not found", "requests", "show", r.Reference)
	r = mgr.request("requests", "review", r.Reference, "--approve", "--comment", "needed for SR")
	if r.Status != lockbox.StatusPending {
		t.Fatalf("reviewed: %s", r.Status)
	}

	// The tenant's approver finds it by reference and approves it; another
	// tenant cannot see it at all.
	if out := approver.mustRun("requests", "list", "--status", "pending"); !strings.Contains(out, r.Reference) {
		t.Fatalf("approver's pending list lacks %s:\n%s", r.Reference, out)
	}
	other.wantFail(1, "not found", "requests", "approve", r.Reference)
	r = approver.request("requests", "approve", r.Reference, "--comment", "OK for 2h")
	if r.Status != lockbox.StatusActive || r.AccessEndsAt.Sub(*r.AccessStartsAt) != 2*time.Hour {
		t.Fatalf("approved: %+v", r)
	}
	approver.wantFail(1, "cannot be approved", "requests", "approve", r.Reference)

	// The operator completes it.
	r = op.request("requests", "complete", r.Reference, "--comment", "fixed")
	if r.Status != lockbox.StatusCompleted {
		t.Fatalf("completed: %s", r.Status)
	}
	if out := op.mustRun("requests", "list", "-o", "csv"); !strings.Contains(out, r.Reference) || !strings.Contains(out, "completed") {
		t.Fatalf("csv listing:\n%s", out)
	}

	// A second request is revoked by the tenant while active.
	r2 := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-2", "--reason", "again", "--duration", "30m")
	mgr.mustRun("requests", "review", r2.ID, "--approve")
	approver.mustRun("requests", "approve", r2.Reference)
	if r2 = approver.request("requests", "revoke", r2.Reference, "--comment", "enough"); r2.Status != lockbox.StatusRevoked {
		t.Fatalf("revoked: %s", r2.Status)
	}
}

// TestEndToEndQuorumWithNarrowing: a tenant that requires two approvers;
// the first approves less than was asked, the second approves, and the
// narrowest applies.
func TestEndToEndQuorumWithNarrowing(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr := srv.as("operator@provider.test"), srv.as("manager@provider.test")
	approver, admin := srv.as("approver@contoso.test"), srv.as("admin@contoso.test")
	admin.mustRun("settings", "set", "--tenant", "contoso", "--approvals-required", "2")
	admin.wantFail(1, "between 1 and 5", "settings", "set", "--tenant", "contoso", "--approvals-required", "6")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-7", "--reason", "Mailbox fails to load.", "--duration", "2h",
		"--operation", "Get-MailboxStatistics", "--operation", "Repair-Mailbox")
	mgr.mustRun("requests", "review", r.ID, "--approve")
	approver.wantFail(1, "shorten", "requests", "approve", r.Reference, "--duration", "3h")
	r = approver.request("requests", "approve", r.Reference, "--duration", "1h", "--operation", "Get-MailboxStatistics")
	if r.Status != lockbox.StatusPending || len(r.Approvals) != 1 || r.DurationMinutes != 60 {
		t.Fatalf("after one of two approvals: %s, %+v, %d min", r.Status, r.Approvals, r.DurationMinutes)
	}
	approver.wantFail(1, "already approved", "requests", "approve", r.Reference)
	if out := admin.mustRun("requests", "show", r.Reference); !strings.Contains(out, "1 of 2 approver@contoso.test (1h, Get-MailboxStatistics)") {
		t.Fatalf("show lacks the approval so far:\n%s", out)
	}
	r = admin.request("requests", "approve", r.Reference)
	if r.Status != lockbox.StatusActive || r.AccessEndsAt.Sub(*r.AccessStartsAt) != time.Hour ||
		strings.Join(r.Operations, ",") != "Get-MailboxStatistics" || r.RequestedDurationMinutes != 120 {
		t.Fatalf("approved: %s for %v with %v", r.Status, r.AccessEndsAt.Sub(*r.AccessStartsAt), r.Operations)
	}

	// More time: the operator asks, two approvers approve the extension.
	approver.wantFail(1, "Only the operator who filed", "requests", "extend", r.Reference, "--minutes", "30m", "--reason", "x")
	r = op.request("requests", "extend", r.Reference, "--minutes", "30m", "--reason", "Repair still running.")
	if x := r.PendingExtension(); x == nil || x.Minutes != 30 {
		t.Fatalf("after asking: %+v", r.Extensions)
	}
	approver.mustRun("requests", "extension", "approve", r.Reference, "--comment", "fine")
	r = admin.request("requests", "extension", "approve", r.Reference)
	if r.AccessEndsAt.Sub(*r.AccessStartsAt) != 90*time.Minute || r.Extensions[0].Status != lockbox.ExtensionApproved {
		t.Fatalf("after the extension: %v, %+v", r.AccessEndsAt.Sub(*r.AccessStartsAt), r.Extensions)
	}
	if out := op.mustRun("requests", "show", r.Reference); !strings.Contains(out, "30m approved") {
		t.Fatalf("show lacks the extension:\n%s", out)
	}
}

// TestEndToEndBreakGlass: the tenant enables break-glass; the operator
// files one with an incident, a manager reviews it, it is active at once
// (capped), the tenant revokes it, reads the access report and
// acknowledges it.
func TestEndToEndBreakGlass(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	approver.mustRun("settings", "set", "--break-glass=true", "--break-glass-max", "30m")
	op.wantFail(1, "incident", "requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-5", "--reason", "Outage.", "--duration", "2h", "--break-glass")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-5", "--reason", "Outage.", "--duration", "2h", "--break-glass", "--incident", "INC-4711",
		"--operation", "Get-Mailbox", "--operation", "Repair-Mailbox")
	if r = mgr.request("requests", "review", r.Reference, "--approve"); r.Status != lockbox.StatusActive || r.DurationMinutes != 30 {
		t.Fatalf("reviewed break-glass: %s for %d minutes", r.Status, r.DurationMinutes)
	}
	approver.request("requests", "revoke", r.Reference)
	if out := approver.mustRun("requests", "list", "--needs-review"); !strings.Contains(out, r.Reference) {
		t.Fatalf("--needs-review lacks %s:\n%s", r.Reference, out)
	}
	out := approver.mustRun("requests", "report", r.Reference)
	for _, want := range []string{"final", "Unused operations:  Get-Mailbox, Repair-Mailbox", "Repair-Mailbox  yes"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if r = approver.request("requests", "acknowledge", r.Reference, "--comment", "Checked."); r.NeedsReview {
		t.Fatalf("acknowledged request still needs review")
	}
	approver.wantFail(1, "already acknowledged", "requests", "acknowledge", r.Reference)
}

func TestEndToEndExpiryWithTheDevClock(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "teams",
		"--service-request", "SR-9", "--reason", "Team membership broken.", "--duration", "1h")
	mgr.mustRun("requests", "review", r.Reference, "--approve")
	approver.mustRun("dev", "clock", "advance", "12h1m")
	approver.wantFail(1, "expired", "requests", "approve", r.Reference)
	if got := approver.request("requests", "show", r.Reference); got.Status != lockbox.StatusExpired {
		t.Fatalf("after 12h1m: %s", got.Status)
	}
}

func TestEndToEndSettingsAndRoles(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	admin, approver, provider := srv.as("admin@contoso.test"), srv.as("approver@contoso.test"), srv.as("admin@provider.test")
	approver.mustRun("settings", "set", "--tenant", "contoso", "--require-approval=false", "--request-ttl", "2h")
	if out := approver.mustRun("settings", "get", "--tenant", "contoso", "-o", "json"); !strings.Contains(out, `"require_approval": false`) {
		t.Fatalf("settings:\n%s", out)
	}
	approver.wantFail(1, "role", "users", "add", "--tenant", "contoso", "--email", "x@contoso.test", "--role", "lockbox_approver")
	provider.wantFail(1, "role", "users", "add", "--tenant", "contoso", "--email", "x@contoso.test", "--role", "lockbox_approver")
	admin.mustRun("users", "add", "--tenant", "contoso", "--email", "x@contoso.test", "--role", "lockbox_approver")
	if out := admin.mustRun("users", "list", "--tenant", "contoso"); !strings.Contains(out, "x@contoso.test") {
		t.Fatalf("users:\n%s", out)
	}
	admin.wantFail(2, "", "requests", "review", "LB-X", "--approve", "--deny")
}
