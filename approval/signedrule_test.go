package approval_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
)

// TestSignedTenantDecidesNothingUnsigned: in a tenant that requires
// signed decisions, what would have been approved automatically (no
// approval required, a rule's auto_approve) waits for people and then
// gets a grant with their signed approval; a rule's deny still denies; a
// break-glass request of a tenant that enabled break-glass is activated
// and gets a grant (lockbox.UnsignedDecisionAllowed). The log of all of it
// verifies offline: server and verifier apply the same rule.
func TestSignedTenantDecidesNothingUnsigned(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		setup      func(h *harness)
		in         lockbox.NewRequest
		want       lockbox.Status // right after review
		approveNow bool           // then a signed approval
	}{
		"NoApprovalRequired": {func(h *harness) { h.mustSettings(lockbox.SettingsPatch{RequireApproval: ptr(false)}) }, validRequest(), lockbox.StatusPending, true},
		"PolicyAutoApprove":  {func(h *harness) { h.setPolicy(rule("diag", `request.service == "exchange"`, auto)) }, validRequest(), lockbox.StatusPending, true},
		"PolicyDeny":         {func(h *harness) { h.setPolicy(rule("no", `request.service == "exchange"`, deny)) }, validRequest(), lockbox.StatusDenied, false},
		"BreakGlass":         {func(h *harness) { h.enableBreakGlass(60) }, breakGlassRequest(), lockbox.StatusActive, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newPasskeyHarness(t)
			a := h.mustRegister("approver@contoso.test")
			tc.setup(h)
			h.requireSigned(true)
			r := h.MustPending(tc.in)
			if r.Status != tc.want {
				t.Fatalf("after review: %s (policy %+v), want %s", r.Status, r.Policy, tc.want)
			}
			if name == "PolicyAutoApprove" && (r.Policy == nil || r.Policy.Outcome != lockbox.OutcomeAutoApprove) {
				t.Errorf("the rule's outcome is not recorded: %+v", r.Policy)
			}
			// People decide, so they are asked to.
			if asked := slices.Contains(h.emailsOf(r), string(lockbox.NoticePending)+" approver@contoso.test"); asked != (tc.want == lockbox.StatusPending) {
				t.Errorf("approver asked = %v; emails %v", asked, h.emailsOf(r))
			}
			if tc.approveNow {
				if _, err := h.svc.Act(h.as("approver@contoso.test"), r.ID, lockbox.EventApprove,
					h.signed("approver@contoso.test", a, r, lockbox.EventApprove, lockbox.Changes{})); err != nil {
					t.Fatal(err)
				}
			}
			if tc.want != lockbox.StatusDenied {
				h.MustGrant(r)
			}
			if rep := h.verifyLog("contoso"); !rep.OK() {
				t.Fatalf("the server's own log fails the offline rule: %+v", rep.Problems)
			}
		})
	}
}

// TestSignedTenantBreakGlassGrant: a break-glass activation gets a grant
// unsigned only while the tenant enables break-glass; one written into
// the database of a tenant that does not gets none, and the verifier
// names its record whatever actor it claims.
func TestSignedTenantBreakGlassGrant(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	r := h.MustPending(breakGlassRequest()) // break-glass off: it waits
	if r.Status != lockbox.StatusPending {
		t.Fatalf("break-glass request of a tenant without break-glass: %s", r.Status)
	}
	ctx := context.Background()
	err := h.store.Update(ctx, func(tx lockbox.Tx) error {
		x, err := tx.GetRequest(ctx, r.ID)
		if err != nil {
			return err
		}
		now := time.Now().UTC().Truncate(time.Microsecond)
		end := now.Add(time.Hour)
		prev, sys := x.Version, lockbox.System.Email
		x.Status, x.Version, x.NeedsReview = lockbox.StatusActive, x.Version+1, true
		x.DecidedBy, x.DecidedAt, x.AccessStartsAt, x.AccessEndsAt, x.Deadline = &sys, &now, &now, &end, &end
		x.DurationMinutes = 60
		if err := tx.UpdateRequest(ctx, x, prev); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, &lockbox.AuditRecord{ID: "forged-" + x.ID, Time: now, Tenant: x.Tenant,
			RecordType: lockbox.RecordLockboxDecision, Operation: lockbox.OpRequestBreakGlassActivated, UserID: "system",
			ActorType: lockbox.ActorSystem, RequestID: x.ID, Result: lockbox.ResultSucceeded,
			AuditData: map[string]any{"reference": x.Reference, "from": "pending", "to": "active"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.IssueGrant(h.as("operator@provider.test"), r.ID)
	wantCode(t, err, lockbox.ECONFLICT)
	rep := h.verifyLog("contoso")
	if len(rep.Problems) != 1 || rep.Problems[0].Kind != auditlog.ProblemUnsignedDecision || !strings.Contains(rep.Problems[0].Message, "system") {
		t.Fatalf("problems = %+v, want the forged activation named", rep.Problems)
	}
	h.enableBreakGlass(60) // now the tenant lets it stand: the grant follows the setting
	h.MustGrant(r)
}

// TestAuditVerifyForgedAsSystem: an approval written into the database and
// log as the system's or a policy's, in a tenant that requires signatures,
// is named (it used to pass: only tenant users' records were checked).
func TestAuditVerifyForgedAsSystem(t *testing.T) {
	t.Parallel()
	for actor, by := range map[string]string{lockbox.ActorSystem: "system", lockbox.ActorPolicy: "policy:diag", lockbox.ActorProviderStaff: "admin@provider.test"} {
		t.Run(actor, func(t *testing.T) {
			t.Parallel()
			h := newPasskeyHarness(t)
			h.mustRegister("approver@contoso.test")
			h.requireSigned(true)
			forged := forgeApprovalAs(t, h.store, h.MustPending(validRequest()), "approver@contoso.test", actor, by)
			rep := h.verifyLog("contoso")
			if len(rep.Problems) != 1 || rep.Problems[0].Kind != auditlog.ProblemUnsignedDecision ||
				!strings.Contains(rep.Problems[0].Message, forged.ID) || !strings.Contains(rep.Problems[0].Message, by) {
				t.Fatalf("problems = %+v, want the forged approval of %s by a %s named", rep.Problems, forged.ID, actor)
			}
		})
	}
}

// TestAuditVerifyNotesSigningTurnedOff: signing turned off, an unsigned
// approval, signing on again: the verification passes (an admin may do
// this) but its report notes who turned it off.
func TestAuditVerifyNotesSigningTurnedOff(t *testing.T) {
	t.Parallel()
	h := newPasskeyHarness(t)
	h.mustRegister("approver@contoso.test")
	h.requireSigned(true)
	h.requireSigned(false)
	h.MustAct("approver@contoso.test", h.MustPending(validRequest()), lockbox.EventApprove)
	h.requireSigned(true)
	rep := h.verifyLog("contoso")
	if !rep.OK() {
		t.Fatalf("problems = %+v", rep.Problems)
	}
	if len(rep.Notes) != 1 || rep.Notes[0].Kind != auditlog.NoteSigningTurnedOff || !strings.Contains(rep.Notes[0].Message, "admin@contoso.test") {
		t.Fatalf("notes = %+v, want require_signed_decisions turned off named with its author", rep.Notes)
	}
}

// TestSimulateWhatReallyHappens: simulate answers what the workflow would
// do (decidedAtOnce), break-glass and signed decisions included.
func TestSimulateWhatReallyHappens(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		setup      func(h *harness)
		breakGlass bool
		want       lockbox.Event
		approvals  int
	}{
		"AutoApprove":        {func(h *harness) { h.setPolicy(rule("diag", "true", auto)) }, false, lockbox.EventPolicyApprove, 0},
		"AutoApproveSigned":  {func(h *harness) { h.setPolicy(rule("diag", "true", auto)); h.requireSigned(true) }, false, "", 1},
		"NoApprovalRequired": {func(h *harness) { h.mustSettings(lockbox.SettingsPatch{RequireApproval: ptr(false)}) }, false, lockbox.EventSystemApprove, 0},
		"NoApprovalSigned": {func(h *harness) {
			h.mustSettings(lockbox.SettingsPatch{RequireApproval: ptr(false)})
			h.requireSigned(true)
		}, false, "", 1},
		"DenySigned":              {func(h *harness) { h.setPolicy(rule("no", "true", deny)); h.requireSigned(true) }, false, lockbox.EventPolicyDeny, 0},
		"BreakGlass":              {func(h *harness) { h.enableBreakGlass(30); h.setPolicy(rule("two", "true", needs2)) }, true, lockbox.EventBreakGlass, 0},
		"BreakGlassSigned":        {func(h *harness) { h.enableBreakGlass(30); h.requireSigned(true) }, true, lockbox.EventBreakGlass, 0},
		"BreakGlassNotEnabled":    {func(h *harness) {}, true, "", 1},
		"BreakGlassDeniedByRule":  {func(h *harness) { h.enableBreakGlass(30); h.setPolicy(rule("no", "true", deny)) }, true, lockbox.EventPolicyDeny, 0},
		"RequireApprovalsNoBreak": {func(h *harness) { h.setPolicy(rule("two", "true", needs2)) }, false, "", 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := newPasskeyHarness(t)
			tc.setup(h)
			out, err := h.svc.SimulatePolicy(h.as("approver@contoso.test"), "contoso", lockbox.PolicySimulation{
				Request: lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-Mailbox"}, BreakGlass: tc.breakGlass}})
			if err != nil {
				t.Fatal(err)
			}
			if out.DecidedAtOnce != tc.want || out.ApprovalsRequired != tc.approvals || out.RequireApproval != (tc.want == "") {
				t.Errorf("simulated %+v; want %q needing %d", out, tc.want, tc.approvals)
			}
			// And the real thing does the same.
			in := validRequest()
			if tc.breakGlass {
				in = breakGlassRequest()
			}
			r := h.MustPending(in)
			if got := (r.Status == lockbox.StatusPending); got != (tc.want == "") {
				t.Errorf("the real request is %s; simulated %q", r.Status, tc.want)
			}
		})
	}
}
