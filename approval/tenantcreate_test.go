package approval_test

import (
	"context"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestCreateTenantFirstAdminOneTime: the provider never holds a permanent
// password of a tenant's first admin. A chosen admin.password is refused
// (400 on admin.password, nothing created, nothing audited); the generated
// one signs in only to be changed; tenant.created says it was one-time.
func TestCreateTenantFirstAdminOneTime(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	pa := h.as("admin@provider.test")
	ctx := context.Background()

	_, err := h.svc.CreateTenant(pa, lockbox.NewTenant{Name: "northwind",
		Admin: lockbox.NewUser{Email: "admin@northwind.test", Password: "chosen-by-the-provider"}})
	if lockbox.ErrorCode(err) != lockbox.EINVALID || lockbox.ErrorField(err) != "admin.password" {
		t.Fatalf("admin.password given: %v, want invalid on admin.password", err)
	}
	if err := h.store.View(ctx, func(tx lockbox.Tx) error {
		_, err := tx.GetTenant(ctx, "northwind")
		return err
	}); lockbox.ErrorCode(err) != lockbox.ENOTFOUND {
		t.Fatalf("a refused creation stored the tenant: %v", err)
	}
	if recs := searchOps(t, h, lockbox.ProviderLog, lockbox.OpTenantCreated); len(recs) != 2 { // the seed's contoso and fabrikam
		t.Fatalf("%d tenant.created records after a refused creation, want the seed's 2", len(recs))
	}

	created, err := h.svc.CreateTenant(pa, lockbox.NewTenant{Name: "northwind", Admin: lockbox.NewUser{Email: "admin@northwind.test"}})
	if err != nil || created.Admin.InitialPassword == "" || !created.Admin.PasswordChangeRequired {
		t.Fatalf("create: %+v, %v", created, err)
	}
	if rec := searchOps(t, h, lockbox.ProviderLog, lockbox.OpTenantCreated)[0]; rec.AuditData["one_time_password"] != true {
		t.Errorf("tenant.created does not say the admin's password was one-time: %v", rec.AuditData)
	}

	// The first sign-in can do nothing but change the password.
	sess, err := h.svc.Login(ctx, "admin@northwind.test", created.Admin.InitialPassword)
	if err != nil || !sess.PasswordChangeRequired {
		t.Fatalf("first sign-in: %+v, %v", sess, err)
	}
	u, err := h.svc.Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	as := lockbox.NewContextWithCredential(lockbox.NewContextWithUser(ctx, u), sess.Token)
	calls := map[string]func() error{
		"GetSettings":     func() error { _, err := h.svc.GetSettings(as, "northwind"); return err },
		"ListTenantUsers": func() error { _, err := h.svc.ListTenantUsers(as, "northwind"); return err },
		"AddTenantUser": func() error {
			_, err := h.svc.AddTenantUser(as, "northwind", lockbox.NewUser{Email: "x@northwind.test", Roles: []lockbox.Role{lockbox.RoleAuditReader}})
			return err
		},
	}
	for name, call := range calls {
		if err := call(); lockbox.ErrorCode(err) != lockbox.EPASSWORDCHANGE {
			t.Errorf("%s with the one-time password: %v, want password_change_required", name, err)
		}
	}
	if err := h.svc.ChangePassword(as, lockbox.PasswordChange{Current: created.Admin.InitialPassword, New: "northwind admin's own"}); err != nil {
		t.Fatalf("change: %v", err)
	}
	if u, err = h.svc.Authenticate(ctx, sess.Token); err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.GetSettings(lockbox.NewContextWithUser(ctx, u), "northwind"); err != nil {
		t.Errorf("after the change: %v", err)
	}
}

func searchOps(t *testing.T, h *harness, log, op string) []*lockbox.AuditRecord {
	t.Helper()
	var out []*lockbox.AuditRecord
	if err := h.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		out, err = tx.SearchAudit(context.Background(), lockbox.AuditQuery{Log: log, Operations: []string{op}, Limit: 100})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
