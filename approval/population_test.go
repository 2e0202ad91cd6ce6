package approval_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestOneAddressManyOrganisations (docs/identity.md): an address may be an
// account of several tenants and of the provider; adding one never says
// whether the address is an account elsewhere; each account signs in with
// its own password; and the person behind a provider account and a tenant
// account of one address never decides their own request.
func TestOneAddressManyOrganisations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const email = "consultant@example.test"
	add := func(admin, tenant, password string) error {
		_, err := h.svc.AddTenantUser(h.as(admin), tenant, lockbox.NewUser{Email: email, Password: password,
			Roles: []lockbox.Role{lockbox.RoleLockboxApprover}})
		return err
	}
	if err := add("admin@contoso.test", "contoso", "contoso-password-1"); err != nil {
		t.Fatal(err)
	}
	// Fabrikam's admin adds the same address: it works, and nothing tells
	// them that contoso has it.
	if err := add("admin@fabrikam.test", "fabrikam", "fabrikam-password-1"); err != nil {
		t.Fatalf("adding an address that is a user of another tenant: %v", err)
	}
	err := add("admin@contoso.test", "contoso", "x-password-12")
	wantCode(t, err, lockbox.ECONFLICT) // its own user: contoso's admin sees them anyway
	if strings.Contains(lockbox.ErrorMessage(err), "fabrikam") {
		t.Errorf("the conflict names another tenant: %v", err)
	}

	for password, tenant := range map[string]string{"contoso-password-1": "contoso", "fabrikam-password-1": "fabrikam"} {
		s, err := h.svc.Login(context.Background(), email, password)
		if err != nil {
			t.Fatalf("login to %s: %v", tenant, err)
		}
		u, err := h.svc.Authenticate(context.Background(), s.Token)
		if err != nil || u.Tenant != tenant {
			t.Errorf("the %s password signed in to %+v, %v", tenant, u, err)
		}
	}

	// A provider operator who is also a contoso approver under one address.
	const dual = "dual@provider.test"
	if _, err := h.svc.AddStaff(h.as("admin@provider.test"), lockbox.NewUser{Email: dual, Password: "staff-password-1",
		Roles: []lockbox.Role{lockbox.RoleOperator}}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.AddTenantUser(h.as("admin@contoso.test"), "contoso", lockbox.NewUser{Email: dual, Password: "staff-password-1",
		Roles: []lockbox.Role{lockbox.RoleLockboxApprover}}); err != nil {
		t.Fatal(err)
	}
	_, err = h.svc.Login(context.Background(), dual, "staff-password-1")
	wantCode(t, err, lockbox.ECONFLICT) // one password, two organisations: which is meant is unknown
	staffCtx := lockbox.NewContextWithUser(context.Background(), h.population("", dual))
	r, err := h.svc.CreateRequest(staffCtx, validRequest())
	if err != nil {
		t.Fatal(err)
	}
	r = h.MustAct("manager@provider.test", r, lockbox.EventReviewApprove)
	tenantCtx := lockbox.NewContextWithUser(context.Background(), h.population("contoso", dual))
	_, err = h.svc.Act(tenantCtx, r.ID, lockbox.EventApprove, lockbox.Decision{})
	wantCode(t, err, lockbox.EFORBIDDEN)
}

// population returns the account of email in one population.
func (h *harness) population(tenant, email string) *lockbox.User {
	h.t.Helper()
	var u *lockbox.User
	err := h.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		u, _, err = tx.GetUserByEmail(context.Background(), tenant, email)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}
