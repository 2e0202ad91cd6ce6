package approval_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestRequireApprovalsRuleSetsQuorum: a matching require_approvals rule
// replaces the tenant's approvals_required for that request, down as well
// as up (docs/policies.md): with a tenant quorum of 3, a request matching
// a rule that requires 2 is approved by the second distinct approver, and
// one matching a rule that requires 4 still waits after the third, while a
// request matching no rule keeps the tenant's 3.
func TestRequireApprovalsRuleSetsQuorum(t *testing.T) {
	t.Parallel()
	needs4 := lockbox.PolicyAction{Kind: lockbox.ActionRequireApprovals, RequireApprovals: 4}
	for _, tc := range []struct {
		name    string
		service string
		ops     []string
		want    int
	}{
		{"Down", "exchange", []string{"Get-MailboxStatistics"}, 2},
		{"Up", "exchange", []string{"Export-MailboxDiagnosticLogs"}, 4},
		{"NoMatch", "onedrive", []string{"Get-Drive"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			approvers := h.addApprovers(4)
			h.setQuorum(3)
			h.setPolicy(
				rule("reads-need-two", `request.service == "exchange" && request.operations.all(o, o.startsWith("Get-"))`, needs2),
				rule("exports-need-four", `request.operations.exists(o, o.startsWith("Export-"))`, needs4))
			in := validRequest()
			in.Service, in.Operations = tc.service, tc.ops
			r := h.MustPending(in)
			if r.ApprovalsRequired != tc.want {
				t.Fatalf("quorum %d, want %d (policy %+v)", r.ApprovalsRequired, tc.want, r.Policy)
			}
			for i := range tc.want {
				if r.Status != lockbox.StatusPending {
					t.Fatalf("%s after %d of %d approvals, want pending", r.Status, i, tc.want)
				}
				r = h.MustAct(approvers[i], r, lockbox.EventApprove)
			}
			if r.Status != lockbox.StatusApproved && r.Status != lockbox.StatusActive {
				t.Fatalf("%s after %d approvals, want approved", r.Status, tc.want)
			}
			if len(r.Approvals) != tc.want {
				t.Errorf("%d approvals recorded, want %d", len(r.Approvals), tc.want)
			}
		})
	}
}
