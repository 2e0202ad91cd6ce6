package approval_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
)

// wantField checks that err names the input it is about, by its API name.
func wantField(t testing.TB, err error, field string) {
	t.Helper()
	if got := lockbox.ErrorField(err); got != field {
		t.Fatalf("error %v names field %q, want %q", err, got, field)
	}
}

// TestAccountErrorsNameTheirField: refused users, tenants, service accounts
// and catalog entries say which field was wrong, by its API name (a tenant's
// first admin is the member "admin" of the request).
func TestAccountErrorsNameTheirField(t *testing.T) {
	h := newHarness(t)
	ga, pa := h.as("admin@contoso.test"), h.as("admin@provider.test")
	approver := []lockbox.Role{lockbox.RoleLockboxApprover}
	tests := []struct {
		name  string
		call  func() error
		field string
	}{
		{"UserEmail", func() error {
			_, err := h.svc.AddTenantUser(ga, "contoso", lockbox.NewUser{Email: "not-an-address", Roles: approver})
			return err
		}, "email"},
		{"UserNoRoles", func() error {
			_, err := h.svc.AddTenantUser(ga, "contoso", lockbox.NewUser{Email: "new@contoso.test"})
			return err
		}, "roles"},
		{"UserProviderRole", func() error {
			_, err := h.svc.UpdateTenantUser(ga, "contoso", "approver@contoso.test",
				lockbox.UserUpdate{Roles: []lockbox.Role{lockbox.RoleOperator}})
			return err
		}, "roles"},
		{"UserName", func() error {
			_, err := h.svc.AddTenantUser(ga, "contoso", lockbox.NewUser{Email: "new@contoso.test", Name: string(make([]byte, 201)), Roles: approver})
			return err
		}, "name"},
		{"StaffPassword", func() error {
			_, err := h.svc.AddStaff(pa, lockbox.NewUser{Email: "new@provider.test", Password: "short",
				Roles: []lockbox.Role{lockbox.RoleOperator}})
			return err
		}, "password"},
		{"TenantName", func() error {
			_, err := h.svc.CreateTenant(pa, lockbox.NewTenant{Name: "Not A Name", Admin: lockbox.NewUser{Email: "a@new.test"}})
			return err
		}, "name"},
		{"TenantAdminEmail", func() error {
			_, err := h.svc.CreateTenant(pa, lockbox.NewTenant{Name: "newco", Admin: lockbox.NewUser{Email: "nobody"}})
			return err
		}, "admin.email"},
		{"ServiceAccountName", func() error {
			_, err := h.svc.CreateServiceAccount(pa, "Bad Name")
			return err
		}, "name"},
		{"CatalogOperations", func() error {
			_, err := h.svc.PutService(pa, &lockbox.Service{Name: "files"})
			return err
		}, "operations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			wantCode(t, err, lockbox.EINVALID)
			wantField(t, err, tt.field)
		})
	}
}
