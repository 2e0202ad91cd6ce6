package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertTenant stores a tenant with its initial settings; ECONFLICT when the
// name is taken.
func (t *tx) InsertTenant(ctx context.Context, tn *lockbox.Tenant, s lockbox.Settings) error {
	emails, err := sqlrows.JSONList(s.NotifyEmails)
	if err != nil {
		return wrap("insert tenant", err)
	}
	policy, err := sqlrows.TenantPolicy(s)
	if err != nil {
		return wrap("insert tenant", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO tenants (name, display_name, created_at,
		require_approval, request_ttl_minutes, max_access_minutes, notify_emails,
		reminder_minutes_before_expiry, policy) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		tn.Name, tn.DisplayName, micros(tn.CreatedAt), s.RequireApproval, s.RequestTTLMinutes,
		s.MaxAccessMinutes, emails, s.ReminderMinutesBeforeExpiry, policy)
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %q already exists.", tn.Name)
	}
	return wrap("insert tenant", err)
}

// GetTenant returns a tenant; ENOTFOUND when there is none of that name.
func (t *tx) GetTenant(ctx context.Context, name string) (*lockbox.Tenant, error) {
	row := t.tx.QueryRowContext(ctx, `SELECT name, display_name, created_at FROM tenants WHERE name = ?`, name)
	tn, err := scanTenant(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", name)
	}
	return tn, wrap("get tenant", err)
}

// ListTenants returns all tenants ordered by name.
func (t *tx) ListTenants(ctx context.Context) ([]*lockbox.Tenant, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT name, display_name, created_at FROM tenants ORDER BY name`)
	if err != nil {
		return nil, wrap("list tenants", err)
	}
	out, err := sqlrows.Collect(rows, scanTenant)
	return out, wrap("list tenants", err)
}

func scanTenant(s scanner) (*lockbox.Tenant, error) {
	var tn lockbox.Tenant
	var created int64
	if err := s.Scan(&tn.Name, &tn.DisplayName, &created); err != nil {
		return nil, err
	}
	tn.CreatedAt = fromMicros(created)
	return &tn, nil
}

// GetSettings returns a tenant's settings; ENOTFOUND for an unknown tenant.
func (t *tx) GetSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	return t.getSettings(ctx, tenant)
}

// LockSettings is GetSettings: SQLite's one writer already runs every
// Update transaction alone, so nothing can interleave with it.
func (t *tx) LockSettings(ctx context.Context, tenant string, exclusive bool) (*lockbox.Settings, error) {
	return t.getSettings(ctx, tenant)
}

func (t *tx) getSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	var s lockbox.Settings
	var emails, policy string
	err := t.tx.QueryRowContext(ctx, `SELECT require_approval, request_ttl_minutes,
		max_access_minutes, notify_emails, reminder_minutes_before_expiry, policy
		FROM tenants WHERE name = ?`, tenant).Scan(&s.RequireApproval, &s.RequestTTLMinutes,
		&s.MaxAccessMinutes, &emails, &s.ReminderMinutesBeforeExpiry, &policy)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", tenant)
	} else if err != nil {
		return nil, wrap("get settings", err)
	}
	if s.NotifyEmails, err = sqlrows.ParseList[string](emails); err != nil {
		return nil, wrap("get settings", err)
	}
	if err := sqlrows.ParseTenantPolicy(policy, &s); err != nil {
		return nil, wrap("get settings", err)
	}
	return &s, nil
}

// UpdateSettings replaces a tenant's settings; ENOTFOUND for an unknown tenant.
func (t *tx) UpdateSettings(ctx context.Context, tenant string, s lockbox.Settings) error {
	emails, err := sqlrows.JSONList(s.NotifyEmails)
	if err != nil {
		return wrap("update settings", err)
	}
	policy, err := sqlrows.TenantPolicy(s)
	if err != nil {
		return wrap("update settings", err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET require_approval = ?,
		request_ttl_minutes = ?, max_access_minutes = ?, notify_emails = ?,
		reminder_minutes_before_expiry = ?, policy = ? WHERE name = ?`,
		s.RequireApproval, s.RequestTTLMinutes, s.MaxAccessMinutes, emails,
		s.ReminderMinutesBeforeExpiry, policy, tenant)
	return expectRow(res, err, "update settings", "Tenant %q not found.", tenant)
}

// GetPolicy returns a tenant's policy rules; ENOTFOUND for an unknown tenant.
func (t *tx) GetPolicy(ctx context.Context, tenant string) (*lockbox.Policy, error) {
	var rules string
	err := t.tx.QueryRowContext(ctx, `SELECT policy_rules FROM tenants WHERE name = ?`, tenant).Scan(&rules)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", tenant)
	} else if err != nil {
		return nil, wrap("get policy", err)
	}
	p, err := sqlrows.ParsePolicyRules(rules)
	return p, wrap("get policy", err)
}

// UpdatePolicy replaces a tenant's rules; ENOTFOUND for an unknown tenant.
func (t *tx) UpdatePolicy(ctx context.Context, tenant string, p lockbox.Policy) error {
	rules, err := sqlrows.PolicyRules(p)
	if err != nil {
		return wrap("update policy", err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET policy_rules = ? WHERE name = ?`, rules, tenant)
	return expectRow(res, err, "update policy", "Tenant %q not found.", tenant)
}
