package approval

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/lockboxhq/lockbox"
)

// CreateTenant onboards a tenant with its first global admin. After this the
// provider cannot change the tenant's users, roles or settings.
//
// The first admin always gets a generated one-time password (returned once
// in InitialPassword), never one the provider chooses: the provider must
// not hold a permanent password of the tenant's admin, and a one-time
// password can do nothing but be replaced by the admin's own (SPEC §10.1,
// as a reset gives). So admin.password is refused.
func (s *Service) CreateTenant(ctx context.Context, in lockbox.NewTenant) (*lockbox.TenantCreated, error) {
	return s.createTenant(ctx, in, false)
}

// createTenant is CreateTenant; devSeed lets the dev seed alone (seed.go)
// give its tenant admins the known, permanent DevPassword.
func (s *Service) createTenant(ctx context.Context, in lockbox.NewTenant, devSeed bool) (*lockbox.TenantCreated, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageTenants, ""); err != nil {
		return nil, err
	}
	if err := lockbox.ValidateTenantName(in.Name); err != nil {
		return nil, err
	}
	if err := lockbox.ValidText("display_name", in.DisplayName, 200, false); err != nil {
		return nil, err
	}
	if in.Admin.Password != "" && !devSeed {
		return nil, lockbox.FieldErrorf(lockbox.EINVALID, "admin.password", "Leave admin.password out: Lockbox generates the first admin's password, shown once, and they must change it at their first sign-in.")
	}
	in.Admin.Roles = []lockbox.Role{lockbox.RoleGlobalAdmin}
	var out *lockbox.TenantCreated
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		now := s.now()
		t := &lockbox.Tenant{Name: in.Name, DisplayName: in.DisplayName, CreatedAt: now}
		if t.DisplayName == "" {
			t.DisplayName = in.Name
		}
		if err := tx.InsertTenant(ctx, t, lockbox.DefaultSettings()); lockbox.ErrorCode(err) == lockbox.ECONFLICT {
			return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %s already exists.", in.Name)
		} else if err != nil {
			return err
		}
		admin, err := s.insertUser(ctx, tx, t.Name, in.Admin, now)
		if err != nil {
			return inAdmin(err)
		}
		rec := newRecord(ctx, u, lockbox.ProviderLog, lockbox.RecordProviderAdmin, lockbox.OpTenantCreated, now)
		// The log shows the provider held only a password the admin had to
		// replace at first sign-in.
		rec.AuditData = map[string]any{"tenant": t.Name, "admin": admin.Email, "one_time_password": admin.PasswordChangeRequired}
		if err := appendAudit(ctx, tx, rec); err != nil {
			return err
		}
		out = &lockbox.TenantCreated{Tenant: t, Admin: admin}
		return auditRoles(ctx, tx, u, t.Name, admin.Email, admin.Roles, nil, now)
	})
	return out, err
}

// inAdmin names the field of an error about the first admin as a member of
// NewTenant's "admin" ("admin.email").
func inAdmin(err error) error {
	var e *lockbox.Error
	if errors.As(err, &e) && e.Field != "" {
		e.Field = "admin." + e.Field
	}
	return err
}

// ListTenants lists every tenant (provider_admin).
func (s *Service) ListTenants(ctx context.Context) ([]*lockbox.Tenant, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageTenants, ""); err != nil {
		return nil, err
	}
	var out []*lockbox.Tenant
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.ListTenants(ctx)
		return err
	})
	return out, err
}

// GetSettings returns a tenant's Lockbox settings.
func (s *Service) GetSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermReadSettings, tenant); err != nil {
		return nil, err
	}
	var out *lockbox.Settings
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		out, err = tx.GetSettings(ctx, tenant)
		return err
	})
	return out, err
}

// UpdateSettings changes a tenant's settings and audits old and new values.
func (s *Service) UpdateSettings(ctx context.Context, tenant string, p lockbox.SettingsPatch) (*lockbox.Settings, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermWriteSettings, tenant); err != nil {
		return nil, err
	}
	var out lockbox.Settings
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		// Exclusive: two changes at once must not both start from the same
		// old values (the second would undo the first), and the requests
		// that stored a reminder from the old values must be committed
		// before rescheduleTenant lists them.
		old, err := tx.LockSettings(ctx, tenant, true)
		if err != nil {
			return err
		}
		if out, err = old.Apply(p); err != nil {
			return err
		}
		changes := settingsChanges(*old, out)
		if len(changes) == 0 {
			return nil
		}
		if err := tx.UpdateSettings(ctx, tenant, out); err != nil {
			return err
		}
		if err := rescheduleTenant(ctx, tx, tenant, &out); err != nil {
			return err
		}
		rec := newRecord(ctx, u, tenant, lockbox.RecordTenantAdmin, lockbox.OpSettingsUpdated, s.now())
		rec.AuditData = map[string]any{"changes": changes}
		return appendAudit(ctx, tx, rec)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// rescheduleTenant moves the stored reminder times of the tenant's pending
// requests to what the new settings give, in the transaction that changes
// them: only a pending request has one (lockbox.RemindAt), and its decision
// deadline stays as it was set when it became pending.
func rescheduleTenant(ctx context.Context, tx lockbox.Tx, tenant string, settings *lockbox.Settings) error {
	rs, err := tx.ListRequests(ctx, lockbox.RequestQuery{Tenant: tenant, Statuses: []lockbox.Status{lockbox.StatusPending}})
	if err != nil {
		return fmt.Errorf("pending requests of %s: %w", tenant, err)
	}
	for _, r := range rs {
		if err := reschedule(ctx, tx, r, settings); err != nil {
			return err
		}
	}
	return nil
}

// settingsChanges lists each changed setting, under its JSON name, with
// its old and new value. It reads the fields of lockbox.Settings, so a
// setting added there is audited (and saved: UpdateSettings writes only
// when something changed) without a second list to keep in step.
func settingsChanges(old, updated lockbox.Settings) map[string]any {
	c := map[string]any{}
	o, n := reflect.ValueOf(old), reflect.ValueOf(updated)
	for i := range o.NumField() {
		name, _, _ := strings.Cut(o.Type().Field(i).Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if !sameSetting(o.Field(i), n.Field(i)) {
			c[name] = map[string]any{"old": o.Field(i).Interface(), "new": n.Field(i).Interface()}
		}
	}
	return c
}

// sameSetting compares two values of a setting, field by field: an empty
// list equals a nil one (a store may read back either), which
// reflect.DeepEqual would call a change.
func sameSetting(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Struct:
		for i := range a.NumField() {
			if !sameSetting(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !sameSetting(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Pointer:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameSetting(a.Elem(), b.Elem())
	}
	return a.Equal(b)
}
