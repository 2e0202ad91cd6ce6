package approval_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
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
