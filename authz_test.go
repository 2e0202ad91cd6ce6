package lockbox_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// queryAdmits is what the visibility fields of a RequestQuery mean (store.go),
// as each store's SQL implements them; storetest holds the stores to it.
func queryAdmits(q lockbox.RequestQuery, r *lockbox.AccessRequest) bool {
	return (q.Tenant == "" || q.Tenant == r.Tenant) &&
		(q.RequesterID == "" || q.RequesterID == r.RequesterID) &&
		(!q.TenantVisible || r.TenantVisible)
}

// requestKind is one cell of the visibility table: a request in the
// viewer's own tenant or another, that has reached the tenant or not, filed
// by the viewer or by someone else.
type requestKind struct{ ownTenant, reachedTenant, ownFiling bool }

func (k requestKind) String() string {
	return fmt.Sprintf("own_tenant=%t/reached_tenant=%t/own_filing=%t", k.ownTenant, k.reachedTenant, k.ownFiling)
}

// request builds a request of kind k as u sees it. Provider users belong to
// no tenant: "own tenant" is then contoso, which is just one tenant to them.
func (k requestKind) request(u *lockbox.User) *lockbox.AccessRequest {
	r := &lockbox.AccessRequest{ID: "r1", Tenant: "fabrikam", RequesterID: "someone-else", TenantVisible: k.reachedTenant}
	if k.ownTenant {
		r.Tenant = "contoso"
	}
	if k.ownFiling && u != nil {
		r.RequesterID = u.ID
	}
	return r
}

var requestKinds = func() []requestKind {
	var out []requestKind
	for _, own := range []bool{true, false} {
		for _, reached := range []bool{true, false} {
			for _, mine := range []bool{true, false} {
				out = append(out, requestKind{own, reached, mine})
			}
		}
	}
	return out
}()

// viewers are every role, alone or combined as they occur, with SPEC §2's
// answer to "may this person know the request exists?", written out
// independently of VisibleTo.
var viewers = []struct {
	name string
	u    *lockbox.User
	sees func(requestKind) bool
}{
	{"operator", &lockbox.User{ID: "op", Roles: []lockbox.Role{lockbox.RoleOperator}},
		func(k requestKind) bool { return k.ownFiling }},
	{"support_manager", &lockbox.User{ID: "mgr", Roles: []lockbox.Role{lockbox.RoleSupportManager}}, always},
	{"operator_and_manager", &lockbox.User{ID: "opm", Roles: []lockbox.Role{lockbox.RoleOperator, lockbox.RoleSupportManager}}, always},
	{"provider_admin", &lockbox.User{ID: "adm", Roles: []lockbox.Role{lockbox.RoleProviderAdmin}}, always},
	{"service_account", &lockbox.User{ID: "svc", Roles: []lockbox.Role{lockbox.RoleServiceAccount}, ServiceAccount: true}, never},
	{"global_admin", &lockbox.User{ID: "ga", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}, reachedOwnTenant},
	{"lockbox_approver", &lockbox.User{ID: "ap", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}}, reachedOwnTenant},
	{"audit_reader", &lockbox.User{ID: "ar", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleAuditReader}}, reachedOwnTenant},
	{"system", lockbox.System, always},
	{"nobody", nil, never},
}

func always(requestKind) bool             { return true }
func never(requestKind) bool              { return false }
func reachedOwnTenant(k requestKind) bool { return k.ownTenant && k.reachedTenant }

// TestRequestScopeQueryAgreesWithPredicate: for every viewer and every kind
// of request, the predicate (CanSeeRequest) and the store query constraint
// (Constrain, with and without a tenant filter) give SPEC's answer.
func TestRequestScopeQueryAgreesWithPredicate(t *testing.T) {
	seen := 0
	for _, v := range viewers {
		for _, k := range requestKinds {
			t.Run(v.name+"/"+k.String(), func(t *testing.T) {
				r, want := k.request(v.u), v.sees(k)
				if got := lockbox.CanSeeRequest(v.u, r); got != want {
					t.Errorf("CanSeeRequest = %t, want %t", got, want)
				}
				for _, tenant := range []string{"", r.Tenant} {
					q := lockbox.RequestQuery{Tenant: tenant}
					ok := lockbox.VisibleTo(v.u).Constrain(&q)
					if got := ok && queryAdmits(q, r); got != want {
						t.Errorf("tenant filter %q: the constrained query %+v admits it: %t, want %t", tenant, q, got, want)
					}
				}
				if want {
					seen++
				}
			})
		}
	}
	// Guard against a vacuous pass: 4 (operator) + 4×8 (all-seeing) + 3×2 (tenant roles).
	if seen != 42 {
		t.Errorf("%d visible (viewer, request) pairs, want 42", seen)
	}
}

// TestRequestScopeOtherTenantFilter: a tenant user filtering on another
// tenant finds nothing (as if it did not exist), never that tenant's rows.
func TestRequestScopeOtherTenantFilter(t *testing.T) {
	for _, v := range viewers {
		q := lockbox.RequestQuery{Tenant: "fabrikam"}
		ok := lockbox.VisibleTo(v.u).Constrain(&q)
		tenantUser := v.u != nil && v.u.Tenant != ""
		if tenantUser && ok {
			t.Errorf("%s: a filter on another tenant gives query %+v, want none", v.name, q)
		}
		if !tenantUser && ok && q.Tenant != "fabrikam" {
			t.Errorf("%s: the tenant filter was replaced: %+v", v.name, q)
		}
	}
}

// TestZeroRequestScopeSeesNothing: a scope must be granted, never assumed.
func TestZeroRequestScopeSeesNothing(t *testing.T) {
	var s lockbox.RequestScope
	q := lockbox.RequestQuery{}
	if s.Matches(&lockbox.AccessRequest{Tenant: "contoso", TenantVisible: true}) || s.Constrain(&q) || s.Sees() {
		t.Error("the zero RequestScope sees requests")
	}
}

// TestProviderPermissions: filing and reviewing are in the permission table
// like every other permission, for the web menu and the workflow alike.
func TestProviderPermissions(t *testing.T) {
	for _, v := range viewers {
		for _, tc := range []struct {
			p    lockbox.Permission
			who  []string
			what string
		}{
			{lockbox.PermFileRequests, []string{"operator", "operator_and_manager"}, "file requests"},
			{lockbox.PermReviewRequests, []string{"support_manager", "operator_and_manager"}, "review requests"},
		} {
			want := v.name == "system" || slices.Contains(tc.who, v.name)
			if got := lockbox.Can(v.u, tc.p, ""); got != want {
				t.Errorf("%s may %s: %t, want %t", v.name, tc.what, got, want)
			}
		}
		wantCreate := slices.Contains([]string{"operator", "operator_and_manager"}, v.name)
		if got := lockbox.AuthorizeCreate(v.u) == nil; got != wantCreate {
			t.Errorf("AuthorizeCreate(%s) allows: %t, want %t", v.name, got, wantCreate)
		}
	}
}
