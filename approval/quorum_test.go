package approval_test

import (
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// addApprovers adds n lockbox approvers to contoso and returns their
// addresses.
func (h *harness) addApprovers(n int) []string {
	h.t.Helper()
	admin := h.as("admin@contoso.test")
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("approver%02d@contoso.test", i)
		if _, err := h.svc.AddTenantUser(admin, "contoso", lockbox.NewUser{Email: out[i],
			Roles: []lockbox.Role{lockbox.RoleLockboxApprover}, Password: "correct horse battery staple"}); err != nil {
			h.t.Fatalf("add %s: %v", out[i], err)
		}
	}
	return out
}

// setQuorum sets contoso's approvals_required.
func (h *harness) setQuorum(n int) {
	h.t.Helper()
	if _, err := h.svc.UpdateSettings(h.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{ApprovalsRequired: ptr(n)}); err != nil {
		h.t.Fatal(err)
	}
}

// TestQuorum: a 2-of-N request stays pending after one approval (audited
// as request.approval_recorded), refuses the same approver twice with 409
// (and an audited refusal), and is approved by a second, distinct approver.
func TestQuorum(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setQuorum(2)
	r := h.MustPending(validRequest())
	if r.ApprovalsRequired != 2 {
		t.Fatalf("approvals_required = %d, want 2", r.ApprovalsRequired)
	}
	r = h.MustAct("approver@contoso.test", r, lockbox.EventApprove)
	if r.Status != lockbox.StatusPending || len(r.Approvals) != 1 || r.Approvals[0].By != "approver@contoso.test" {
		t.Fatalf("after one of two: %s with %+v", r.Status, r.Approvals)
	}
	_, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove, lockbox.Decision{})
	wantCode(t, err, lockbox.ECONFLICT)
	r = h.MustAct("admin@contoso.test", r, lockbox.EventApprove)
	if r.Status != lockbox.StatusActive || len(r.Approvals) != 2 || *r.DecidedBy != "admin@contoso.test" {
		t.Fatalf("after two of two: %s with %+v", r.Status, r.Approvals)
	}
	n := h.ops(r)
	if n[lockbox.OpRequestApprovalRecorded] != 1 || n[lockbox.OpRequestApproved] != 1 || n[lockbox.OpRequestDecisionRefused] != 1 {
		t.Fatalf("audit %v: want one approval_recorded, one approved, one refusal", n)
	}
	// The quorum is the one the request was given when it became pending.
	h.setQuorum(1)
	if got := h.stored(r.ID).ApprovalsRequired; got != 2 {
		t.Fatalf("stored quorum %d after a settings change", got)
	}
}

// TestQuorumOneDenyDenies: one deny after a partial approval denies.
func TestQuorumOneDenyDenies(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setQuorum(3)
	r := h.MustPending(validRequest())
	h.MustAct("approver@contoso.test", r, lockbox.EventApprove)
	if r = h.MustAct("admin@contoso.test", r, lockbox.EventDeny); r.Status != lockbox.StatusDenied {
		t.Fatalf("status %s, want denied", r.Status)
	}
}

// TestQuorumNarrowing: under a quorum the narrowest approval applies, the
// request keeps what was requested, and widening answers 400 leaving no
// trace.
func TestQuorumNarrowing(t *testing.T) {
	t.Parallel()
	h := newGrantHarness(t)
	h.setQuorum(2)
	in := validRequest()
	in.Operations = []string{"Get-Mailbox", "Get-MailboxStatistics", "Repair-Mailbox"}
	r := h.MustPending(in)
	approve := func(email string, d lockbox.Decision) (*lockbox.AccessRequest, error) {
		return h.svc.Act(h.as(email), r.ID, lockbox.EventApprove, d)
	}
	before := len(h.audit("contoso"))
	_, err := approve("approver@contoso.test", lockbox.Decision{Changes: lockbox.Changes{DurationMinutes: ptr(121)}})
	wantCode(t, err, lockbox.EINVALID)
	if n := len(h.audit("contoso")); n != before || len(h.stored(r.ID).Approvals) != 0 {
		t.Fatalf("a widening approval left %d audit records and %d approvals", n-before, len(h.stored(r.ID).Approvals))
	}
	if _, err := approve("approver@contoso.test", lockbox.Decision{Changes: lockbox.Changes{
		DurationMinutes: ptr(60), Operations: []string{"Get-Mailbox", "Get-MailboxStatistics"}}}); err != nil {
		t.Fatal(err)
	}
	got, err := approve("admin@contoso.test", lockbox.Decision{Changes: lockbox.Changes{
		DurationMinutes: ptr(90), Operations: []string{"Get-MailboxStatistics", "Repair-Mailbox"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != lockbox.StatusActive || got.DurationMinutes != 60 || fmt.Sprint(got.Operations) != "[Get-MailboxStatistics]" ||
		got.RequestedDurationMinutes != 120 || len(got.RequestedOperations) != 3 || !got.AccessEndsAt.Equal(got.AccessStartsAt.Add(60*60e9)) {
		t.Fatalf("approved %s for %d min %v (requested %d min %v) %v..%v", got.Status, got.DurationMinutes, got.Operations,
			got.RequestedDurationMinutes, got.RequestedOperations, got.AccessStartsAt, got.AccessEndsAt)
	}
	g := h.MustGrant(got)
	if d := h.check(g.Token, "Repair-Mailbox"); d.Allowed {
		t.Fatal("an operation no approver kept is allowed")
	}
	if d := h.check(g.Token, "Get-MailboxStatistics"); !d.Allowed {
		t.Fatalf("the approved operation is refused: %s", d.Reason)
	}
}

// TestRaceOfQuorumApprovers: 32 distinct approvers of a 3-of-N request
// approve at once: exactly three approvals are recorded, the request is
// approved once, and the other 29 get 409 with an audited refusal.
func TestRaceOfQuorumApprovers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	approvers := h.addApprovers(32)
	h.setQuorum(3)
	r := h.MustPending(validRequest())
	wins := raceEach(t, h, r, approvers, lockbox.EventApprove)
	got := h.stored(r.ID)
	n := h.ops(r)
	if wins != 3 || len(got.Approvals) != 3 || got.Status != lockbox.StatusActive {
		t.Fatalf("%d winners, %d approvals stored, status %s; want 3, 3, active", wins, len(got.Approvals), got.Status)
	}
	if n[lockbox.OpRequestApprovalRecorded] != 2 || n[lockbox.OpRequestApproved] != 1 || n[lockbox.OpRequestDecisionRefused] != 29 {
		t.Fatalf("audit %v: want 2 approval_recorded, 1 approved, 29 refusals", n)
	}
	seen := map[string]bool{}
	for _, a := range got.Approvals {
		if seen[a.By] {
			t.Fatalf("%s counted twice in %+v", a.By, got.Approvals)
		}
		seen[a.By] = true
	}
}
