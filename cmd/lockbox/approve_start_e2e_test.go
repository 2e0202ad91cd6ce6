package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestEndToEndApproveWithLaterStart: `lockbox requests approve --start`
// approves a later start than asked: an earlier one is refused, the later
// one is what the request and its access window carry (the operator's ask
// kept beside it), and access begins only then, on the server's clock.
func TestEndToEndApproveWithLaterStart(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-11", "--reason", "Mailbox fails to load.", "--duration", "1h",
		"--operation", "Get-MailboxStatistics")
	mgr.mustRun("requests", "review", r.Reference, "--approve")
	approver.wantFail(1, "not bring it forward", "requests", "approve", r.Reference, "--start", "2020-01-01T09:00:00Z")
	if got := approver.request("requests", "show", r.Reference); got.Status != lockbox.StatusPending || len(got.Approvals) != 0 {
		t.Fatalf("a refused approval changed the request: %s, %+v", got.Status, got.Approvals)
	}

	before := time.Now()
	r = approver.request("requests", "approve", r.Reference, "--start", "+2h", "--comment", "after the backup")
	start := r.StartTime
	if start == nil || start.Before(before.Add(2*time.Hour-time.Second)) || start.After(time.Now().Add(2*time.Hour)) {
		t.Fatalf("approved start %v, want about 2h from now", start)
	}
	if r.Status != lockbox.StatusApproved || r.RequestedStartTime != nil || !r.AccessStartsAt.Equal(*start) ||
		r.AccessEndsAt.Sub(*r.AccessStartsAt) != time.Hour || len(r.Approvals) != 1 || r.Approvals[0].StartTime == nil {
		t.Fatalf("approved: %s, requested start %v, access %v–%v, approvals %+v",
			r.Status, r.RequestedStartTime, r.AccessStartsAt, r.AccessEndsAt, r.Approvals)
	}
	if out := approver.mustRun("requests", "show", r.Reference); !strings.Contains(out, "from "+formatTime(*start)) {
		t.Fatalf("show lacks the approved start %s:\n%s", formatTime(*start), out)
	}

	// Access begins at the approved start, not at the approval.
	approver.mustRun("dev", "clock", "advance", "1h59m")
	if got := op.request("requests", "show", r.Reference); got.Status != lockbox.StatusApproved {
		t.Fatalf("a minute before the approved start: %s", got.Status)
	}
	approver.mustRun("dev", "clock", "advance", "2m")
	if got := op.request("requests", "show", r.Reference); got.Status != lockbox.StatusActive {
		t.Fatalf("a minute after the approved start: %s", got.Status)
	}
}

// TestEndToEndBreakGlassExtensionCap: extensions of access that started
// by break-glass stay within the tenant's break_glass.max_minutes: the CLI
// reports the refusal, and an extension within it is approved.
func TestEndToEndBreakGlassExtensionCap(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	op, mgr, approver := srv.as("operator@provider.test"), srv.as("manager@provider.test"), srv.as("approver@contoso.test")
	approver.mustRun("settings", "set", "--break-glass=true", "--break-glass-max", "45m")
	r := op.request("requests", "create", "--tenant", "contoso", "--service", "exchange",
		"--service-request", "SR-12", "--reason", "Outage.", "--duration", "30m", "--break-glass", "--incident", "INC-12")
	if r = mgr.request("requests", "review", r.Reference, "--approve"); r.Status != lockbox.StatusActive || r.DurationMinutes != 30 {
		t.Fatalf("reviewed break-glass: %s for %d minutes", r.Status, r.DurationMinutes)
	}
	op.wantFail(1, "break-glass access, which may last at most 45 minutes", "requests", "extend", r.Reference, "--minutes", "16m", "--reason", "More.")
	op.mustRun("requests", "extend", r.Reference, "--minutes", "15m", "--reason", "More.")
	if r = approver.request("requests", "extension", "approve", r.Reference); r.AccessEndsAt.Sub(*r.AccessStartsAt) != 45*time.Minute {
		t.Fatalf("after the extension: %v", r.AccessEndsAt.Sub(*r.AccessStartsAt))
	}
	op.wantFail(1, "at most 0 more", "requests", "extend", r.Reference, "--minutes", "1m", "--reason", "More.")
}
