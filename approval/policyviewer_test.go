package approval_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// TestPolicyErrorsForViewers: every caller who may see a request sees
// what the tenant's rules decided (outcome, deciding rule, matches,
// quorum), but the rules that failed to evaluate, whose messages can quote
// the tenant's expressions, reach only those who may read the rules: the
// tenant's global admins and lockbox approvers. The same on every path
// that returns a request (get, list, an action's answer), and the stored
// decision keeps them.
func TestPolicyErrorsForViewers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.setPolicy(
		rule("needs-two", `request.operations.exists(o, o.startsWith("Get-"))`, needs2),
		rule("zone-from-input", `now.getHours(request.service_request) < 25`, deny), // SR-… is no time zone
	)
	r := h.MustPending(validRequest())
	full := h.stored(r.ID).Policy
	if full == nil || full.Outcome != lockbox.OutcomeRequireApprovals || full.Rule != "needs-two" ||
		full.ApprovalsRequired != 2 || len(full.Errors) != 1 || full.Errors[0].ID != "zone-from-input" {
		t.Fatalf("stored decision %+v, want require_approvals by needs-two with zone-from-input's error", full)
	}
	redacted := *full
	redacted.Errors = nil

	for _, tc := range []struct {
		name string
		who  string
		// act is an action the role may take on a request the tenant's
		// rules decided (review: on its way there); "" for none.
		act        lockbox.Event
		wantErrors bool
	}{
		{"Requester", "operator@provider.test", lockbox.EventCancel, false},
		{"SupportManager", "manager@provider.test", lockbox.EventReviewApprove, false},
		{"ProviderAdmin", "admin@provider.test", "", false},
		{"TenantApprover", "approver@contoso.test", lockbox.EventApprove, true},
		{"TenantGlobalAdmin", "admin@contoso.test", lockbox.EventDeny, true},
		{"TenantAuditReader", "auditor@contoso.test", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := &redacted
			if tc.wantErrors {
				want = full
			}
			ctx := h.as(tc.who)
			got, err := h.svc.GetRequest(ctx, r.Reference)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got.Policy); diff != "" {
				t.Errorf("get: policy (-want +got):\n%s", diff)
			}
			page, err := h.svc.ListRequests(ctx, lockbox.RequestFilter{Tenant: "contoso"})
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, x := range page.Requests {
				if x.ID == r.ID {
					listed = true
					if diff := cmp.Diff(want, x.Policy); diff != "" {
						t.Errorf("list: policy (-want +got):\n%s", diff)
					}
				}
			}
			if !listed {
				t.Errorf("list: %s is not listed", r.Reference)
			}
			if tc.act != "" {
				var other *lockbox.AccessRequest
				if tc.act == lockbox.EventReviewApprove {
					other = h.MustFile(validRequest())
				} else {
					other = h.MustPending(validRequest())
				}
				out := h.MustAct(tc.who, other, tc.act)
				if diff := cmp.Diff(want, out.Policy); diff != "" {
					t.Errorf("%s: the answer's policy (-want +got):\n%s", tc.act, diff)
				}
				if st := h.stored(other.ID).Policy; st == nil || len(st.Errors) != 1 {
					t.Errorf("%s: stored decision %+v lost its error", tc.act, st)
				}
			}
			if st := h.stored(r.ID).Policy; !cmp.Equal(full, st) {
				t.Errorf("the stored decision changed: %+v", st)
			}
		})
	}
}
