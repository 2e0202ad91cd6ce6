package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	ok, err := t.insert(ctx, "insert tenant", `INSERT INTO tenants (name, display_name, created_at,
		require_approval, request_ttl_minutes, max_access_minutes, notify_emails,
		reminder_minutes_before_expiry, policy) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		tn.Name, tn.DisplayName, ts(tn.CreatedAt), s.RequireApproval, s.RequestTTLMinutes,
		s.MaxAccessMinutes, emails, s.ReminderMinutesBeforeExpiry, policy)
	if err == nil && !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "Tenant %q already exists.", tn.Name)
	}
	t.memo.forgetTenant(tn.Name)
	return err
}

// GetTenant returns a tenant; ENOTFOUND when there is none of that name.
// It reads the tenant's settings with it (readTenant): a step that needs
// one needs the other.
func (t *tx) GetTenant(ctx context.Context, name string) (*lockbox.Tenant, error) {
	if tn, ok := t.memo.tenant(name); ok {
		return tn, nil
	}
	tn, _, err := t.readTenant(ctx, name, "")
	return tn, err
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
	var created time.Time
	if err := s.Scan(&tn.Name, &tn.DisplayName, &created); err != nil {
		return nil, err
	}
	tn.CreatedAt = created.UTC()
	return &tn, nil
}

// GetSettings returns a tenant's settings; ENOTFOUND for an unknown tenant.
func (t *tx) GetSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	if s, ok := t.memo.settingsOf(tenant); ok {
		return s, nil
	}
	_, s, err := t.readTenant(ctx, tenant, "")
	return s, err
}

// LockSettings reads a tenant's settings and, inside Update, locks its
// row: FOR SHARE (many writers of requests at once, no settings change
// meanwhile) or FOR UPDATE (one change at a time, after those writers).
func (t *tx) LockSettings(ctx context.Context, tenant string, exclusive bool) (*lockbox.Settings, error) {
	lock := ""
	if t.update {
		lock = " FOR SHARE"
		if exclusive {
			lock = " FOR UPDATE"
		}
	}
	if s, ok := t.memo.settingsOf(tenant); ok && t.update && !exclusive && t.memo.shared[tenant] {
		return s, nil // read FOR SHARE ahead (readahead.go): held since
	}
	_, s, err := t.readTenant(ctx, tenant, lock)
	if err == nil && t.update && !exclusive {
		t.memo.setShared(tenant)
	}
	return s, err
}

// tenantSelect reads a tenant's row as keepTenant scans it; the query
// goes on with the FROM clause.
var tenantSelect = `SELECT name, display_name, created_at, require_approval, request_ttl_minutes,
	max_access_minutes, notify_emails, reminder_minutes_before_expiry, policy, policy_rules, webhooks_version,
	` + usersVersionOf("tenants.name")

// readTenant reads a tenant's row, the tenant and its settings in one
// statement (with lock, if any), and remembers both for the transaction,
// with its policy rules and the versions of its webhook and account lists
// (listcache.go).
func (t *tx) readTenant(ctx context.Context, name, lock string) (*lockbox.Tenant, *lockbox.Settings, error) {
	return t.keepTenant(name, t.tx.QueryRowContext(ctx, tenantSelect+` FROM tenants WHERE name = $1`+lock, name))
}

// keepTenant scans a row of tenantSelect for the tenant named (ENOTFOUND
// for no row) and remembers it, as readTenant says.
func (t *tx) keepTenant(name string, row scanner) (*lockbox.Tenant, *lockbox.Settings, error) {
	var tn lockbox.Tenant
	var created time.Time
	var s lockbox.Settings
	var emails, policy string
	var rules string
	var hooksVersion, usersVersion int64
	err := row.Scan(&tn.Name, &tn.DisplayName, &created,
		&s.RequireApproval, &s.RequestTTLMinutes, &s.MaxAccessMinutes, &emails, &s.ReminderMinutesBeforeExpiry, &policy,
		&rules, &hooksVersion, &usersVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", name)
	} else if err != nil {
		return nil, nil, wrap("get tenant", err)
	}
	tn.CreatedAt = created.UTC()
	if s.NotifyEmails, err = sqlrows.ParseList[string](emails); err != nil {
		return nil, nil, wrap("get settings", err)
	}
	if err := sqlrows.ParseTenantPolicy(policy, &s); err != nil {
		return nil, nil, wrap("get settings", err)
	}
	name = tn.Name
	t.memo.setTenant(&tn)
	t.memo.setSettings(name, &s)
	t.memo.hooks.setVersion(name, hooksVersion)
	t.memo.users.setVersion(name, usersVersion)
	t.memo.setRules(name, rules)
	return &tn, &s, nil
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
	t.memo.forgetTenant(tenant)
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET require_approval = $1,
		request_ttl_minutes = $2, max_access_minutes = $3, notify_emails = $4,
		reminder_minutes_before_expiry = $5, policy = $7 WHERE name = $6`,
		s.RequireApproval, s.RequestTTLMinutes, s.MaxAccessMinutes, emails,
		s.ReminderMinutesBeforeExpiry, tenant, policy)
	return expectRow(res, err, "update settings", "Tenant %q not found.", tenant)
}

// GetPolicy returns a tenant's policy rules; ENOTFOUND for an unknown
// tenant. It takes no lock of its own: callers that need the rules to
// hold until commit lock the row with LockSettings first, which reads
// them with the settings (readTenant), so that GetPolicy costs no round
// trip.
func (t *tx) GetPolicy(ctx context.Context, tenant string) (*lockbox.Policy, error) {
	rules, ok := t.memo.rules[tenant]
	if !ok {
		if _, _, err := t.readTenant(ctx, tenant, ""); err != nil {
			return nil, err
		}
		rules = t.memo.rules[tenant]
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
	t.memo.forgetTenant(tenant)
	res, err := t.tx.ExecContext(ctx, `UPDATE tenants SET policy_rules = $1 WHERE name = $2`, rules, tenant)
	return expectRow(res, err, "update policy", "Tenant %q not found.", tenant)
}
