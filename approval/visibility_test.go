package approval_test

import (
	"context"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestListingAgreesWithGet: on the real store, every account lists exactly
// the requests it may open, with and without a tenant filter, so the query
// constraint (lockbox.RequestScope.Constrain, run as each store's SQL) and
// the predicate (lockbox.CanSeeRequest) are one rule. The requests cover
// each tenant × reached the tenant or not × each of two filers.
func TestListingAgreesWithGet(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.svc.AddStaff(h.as("admin@provider.test"), lockbox.NewUser{Email: "both@provider.test",
		Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}, Password: approval.DevPassword}); err != nil {
		t.Fatal(err)
	}
	var ours []*lockbox.AccessRequest
	for _, tenant := range []string{"contoso", "fabrikam"} {
		for _, filer := range []string{"operator@provider.test", "operator2@provider.test"} {
			in := validRequest()
			in.Tenant = tenant
			ours = append(ours, h.mustFileAs(filer, in), // pending review: not yet the tenant's
				h.MustAct("manager@provider.test", h.mustFileAs(filer, in), lockbox.EventReviewApprove))
		}
	}
	svcAccount, err := h.svc.Authenticate(ctx, approval.DevServiceToken)
	if err != nil {
		t.Fatal(err)
	}
	viewers := map[string]context.Context{"service account": lockbox.NewContextWithUser(ctx, svcAccount)}
	for _, email := range []string{"admin@provider.test", "operator@provider.test", "operator2@provider.test",
		"manager@provider.test", "both@provider.test", "admin@contoso.test", "approver@contoso.test",
		"auditor@contoso.test", "admin@fabrikam.test"} {
		viewers[email] = h.as(email)
	}
	// How many of the 8 each sees, from SPEC §2: a guard against agreeing on nothing.
	wantCount := map[string]int{"service account": 0, "admin@provider.test": 8, "operator@provider.test": 4,
		"operator2@provider.test": 4, "manager@provider.test": 8, "both@provider.test": 8,
		"admin@contoso.test": 2, "approver@contoso.test": 2, "auditor@contoso.test": 2, "admin@fabrikam.test": 2}
	for name, vctx := range viewers {
		t.Run(name, func(t *testing.T) {
			opens := map[string]bool{}
			for _, r := range ours {
				_, err := h.svc.GetRequest(vctx, r.ID)
				if err != nil && lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
					t.Fatal(err)
				}
				opens[r.ID] = err == nil
			}
			if n := count(opens); n != wantCount[name] {
				t.Errorf("opens %d of the requests, want %d", n, wantCount[name])
			}
			for _, tenant := range []string{"", "contoso", "fabrikam"} {
				listed := h.listIDs(vctx, tenant)
				for _, r := range ours {
					want := opens[r.ID] && (tenant == "" || r.Tenant == tenant)
					if listed[r.ID] != want {
						t.Errorf("tenant filter %q: %s (%s, %s, filed by %s) listed %t, but opening it gives %t",
							tenant, r.Reference, r.Tenant, r.Status, r.RequestedBy, listed[r.ID], opens[r.ID])
					}
				}
			}
		})
	}
}

func (h *harness) mustFileAs(email string, in lockbox.NewRequest) *lockbox.AccessRequest {
	h.t.Helper()
	r, err := h.svc.CreateRequest(h.as(email), in)
	if err != nil {
		h.t.Fatalf("create as %s: %v", email, err)
	}
	return r
}

// listIDs lists every page the caller may see, filtered on tenant.
func (h *harness) listIDs(ctx context.Context, tenant string) map[string]bool {
	h.t.Helper()
	out := map[string]bool{}
	f := lockbox.RequestFilter{Tenant: tenant}
	for {
		page, err := h.svc.ListRequests(ctx, f)
		if err != nil {
			h.t.Fatalf("list (tenant %q): %v", tenant, err)
		}
		for _, r := range page.Requests {
			out[r.ID] = true
		}
		if page.NextCursor == "" {
			return out
		}
		f.Cursor = page.NextCursor
	}
}

func count(m map[string]bool) int {
	n := 0
	for _, v := range m {
		if v {
			n++
		}
	}
	return n
}
