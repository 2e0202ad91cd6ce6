package approval_test

import (
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestAccessReport: the operator's actions, allowed and blocked, counted
// per approved operation from the audit log; the report so far while
// active, the final one written (and emailed) when access ends and served
// as written afterwards, even for actions attempted after the end.
func TestAccessReport(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	in := validRequest()
	in.Operations = []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}
	r := h.MustActive(in)
	g := h.MustGrant(r)
	do := func(op string) {
		t.Helper()
		if _, err := h.svc.RecordOperatorAction(h.service(), lockbox.AccessCheck{Token: g.Token, Operation: op, Resource: "mailbox:alice"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, op := range []string{"Get-Mailbox", "Get-Mailbox", "Repair-Mailbox", "Remove-Mailbox", "Remove-Mailbox", "Set-Mailbox"} {
		do(op)
	}
	so, err := h.svc.AccessReport(h.as("approver@contoso.test"), r.Reference)
	if err != nil || so.Final || so.AllowedTotal != 3 || so.BlockedTotal != 3 {
		t.Fatalf("report so far: %+v, %v", so, err)
	}
	h.MustAct("operator@provider.test", r, lockbox.EventComplete)
	do("Get-Mailbox") // after the end: blocked, and not in the final report
	rep, err := h.svc.AccessReport(h.as("auditor@contoso.test"), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &lockbox.AccessReport{RequestID: r.ID, Reference: r.Reference, Tenant: "contoso", Service: "exchange",
		Status: lockbox.StatusCompleted, Final: true,
		Operations: []lockbox.OperationReport{{Operation: "Get-Mailbox", Allowed: 2}, {Operation: "Get-MailboxStatistics"},
			{Operation: "Repair-Mailbox", Allowed: 1}},
		Blocked: []lockbox.BlockedReport{{Operation: "Remove-Mailbox", Count: 2}, {Operation: "Set-Mailbox", Count: 1}},
		Unused:  []string{"Get-MailboxStatistics"}, AllowedTotal: 3, BlockedTotal: 3}
	if diff := cmp.Diff(want, rep, cmpIgnoreTimes); diff != "" {
		t.Errorf("final report (-want +got):\n%s", diff)
	}
	if rep.AccessEndedAt == nil || rep.AccessStartsAt == nil {
		t.Errorf("report times: %v..%v", rep.AccessStartsAt, rep.AccessEndedAt)
	}
	if n := h.ops(r)[lockbox.OpRequestAccessReport]; n != 1 {
		t.Errorf("%d access_report records, want 1", n)
	}
	var mailed int
	for _, line := range h.sent() {
		if _, ok := cutPrefix(line, "email "+lockbox.NoticeAccessReport+" "); ok {
			mailed++
		}
	}
	if mailed != 2 { // admin and approver of contoso
		t.Errorf("report emailed %d times, want 2", mailed)
	}
	// Who may not see the request gets not found; a request that never
	// gave access has no report.
	_, err = h.svc.AccessReport(h.as("admin@fabrikam.test"), r.ID)
	wantCode(t, err, lockbox.ENOTFOUND)
	p := h.MustPending(validRequest())
	h.MustAct("approver@contoso.test", p, lockbox.EventDeny)
	_, err = h.svc.AccessReport(h.as("approver@contoso.test"), p.ID)
	wantCode(t, err, lockbox.ECONFLICT)
}

var cmpIgnoreTimes = cmp.FilterPath(func(p cmp.Path) bool {
	s := p.String()
	return s == "AccessStartsAt" || s == "AccessEndedAt"
}, cmp.Ignore())

// TestAccessReportCountsAnActionOfTheSameCommit: an operator action
// recorded just before the completion, committed in the same group (the
// store writes a group's records only at its commit), is in the final
// report, as it is before the report in the log.
func TestAccessReportCountsAnActionOfTheSameCommit(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t) // SQLite: one writer, so Updates queued behind a held one join its group
	r := h.MustActive(validRequest())
	g := h.MustGrant(r)
	service, operator := h.service(), h.as("operator@provider.test") // signed in before the writer is held

	release := make(chan struct{})
	held := storetest.HoldWriter(t, h.store, release, func(lockbox.Tx) error { return nil })
	var wg sync.WaitGroup
	var decision *lockbox.AccessDecision
	var actErr, completeErr error
	wg.Go(func() {
		decision, actErr = h.svc.RecordOperatorAction(service, lockbox.AccessCheck{Token: g.Token, Operation: "Get-MailboxStatistics"})
	})
	storetest.WaitQueued(t, 1)
	wg.Go(func() {
		_, completeErr = h.svc.Act(operator, r.ID, lockbox.EventComplete, lockbox.Decision{})
	})
	storetest.WaitQueued(t, 2)
	close(release)
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if actErr != nil || !decision.Allowed || completeErr != nil {
		t.Fatalf("action: %+v, %v; completion: %v", decision, actErr, completeErr)
	}

	rep, err := h.svc.AccessReport(h.as("approver@contoso.test"), r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, rec := range h.audit(r.Tenant) {
		if rec.RequestID == r.ID {
			order = append(order, rec.Operation)
		}
	}
	if i, j := slices.Index(order, lockbox.OpOperatorAction), slices.Index(order, lockbox.OpRequestAccessReport); i < 0 || j < i {
		t.Fatalf("log order %v: want the action, then the report", order)
	}
	if !rep.Final || rep.AllowedTotal != 1 {
		t.Errorf("final report: %d allowed (final %v), want the 1 action before it in the log: %v", rep.AllowedTotal, rep.Final, order)
	}
}
