package lockbox_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

func TestIsReference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		key  string
		want bool
	}{
		{"LB-7K3Q9MXA", true},
		{"lb-7k3q9mxa", true},
		{"Lb-7K3q9MxA", true},
		{"0193f4c2-8f1e-7d3a-9b2c-5e6f7a8b9c0d", false}, // an id
		{"LB-7K3Q9MX", false},
		{"LB-7K3Q9MXAB", false},
		{"LX-7K3Q9MXA", false},
		{"", false},
		{"LB-", false},
	}
	for _, tt := range tests {
		if got := lockbox.IsReference(tt.key); got != tt.want {
			t.Errorf("IsReference(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}

// TestForViewer: the rules that failed to evaluate are shown only to
// those who may read the tenant's rules; everyone else gets the rest of
// the decision, on a copy, and the request they were given keeps its
// errors (it may be a stored or cached value).
func TestForViewer(t *testing.T) {
	t.Parallel()
	withErrors := func() *lockbox.AccessRequest {
		return &lockbox.AccessRequest{ID: "r1", Tenant: "contoso", Policy: &lockbox.PolicyDecision{
			Outcome: lockbox.OutcomeRequireApprovals, Rule: "needs-two", ApprovalsRequired: 2, Matched: []string{"needs-two"},
			Errors: []lockbox.RuleResult{{ID: "zone-from-input", Error: `unknown time zone "SR-1"`}}}}
	}
	tenant := func(roles ...lockbox.Role) *lockbox.User {
		return &lockbox.User{ID: "t", Tenant: "contoso", Roles: roles}
	}
	tests := []struct {
		name string
		u    *lockbox.User
		want bool // sees the errors
	}{
		{"Operator", &lockbox.User{ID: "op", Roles: []lockbox.Role{lockbox.RoleOperator}}, false},
		{"SupportManager", &lockbox.User{ID: "mgr", Roles: []lockbox.Role{lockbox.RoleSupportManager}}, false},
		{"ProviderAdmin", &lockbox.User{ID: "adm", Roles: []lockbox.Role{lockbox.RoleProviderAdmin}}, false},
		{"TenantApprover", tenant(lockbox.RoleLockboxApprover), true},
		{"TenantGlobalAdmin", tenant(lockbox.RoleGlobalAdmin), true},
		{"TenantAuditReader", tenant(lockbox.RoleAuditReader), false},
		{"OtherTenantsAdmin", &lockbox.User{ID: "f", Tenant: "fabrikam", Roles: []lockbox.Role{lockbox.RoleGlobalAdmin}}, false},
		{"DisabledApprover", &lockbox.User{ID: "d", Tenant: "contoso", Roles: []lockbox.Role{lockbox.RoleLockboxApprover}, Disabled: true}, false},
		{"System", lockbox.System, true},
		{"Nobody", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := withErrors()
			got := r.ForViewer(tt.u)
			if diff := cmp.Diff(withErrors(), r); diff != "" {
				t.Errorf("the request given changed (-want +got):\n%s", diff)
			}
			want := withErrors()
			if !tt.want {
				want.Policy.Errors = nil
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ForViewer (-want +got):\n%s", diff)
			}
			if tt.want && got != r {
				t.Error("a viewer who sees everything got a copy")
			}
		})
	}
	for _, r := range []*lockbox.AccessRequest{nil, {Tenant: "contoso"}, {Tenant: "contoso", Policy: &lockbox.PolicyDecision{Outcome: lockbox.OutcomeSettings}}} {
		if got := r.ForViewer(nil); got != r {
			t.Errorf("ForViewer of %+v: a copy, though there is nothing to hide", r)
		}
	}
}
