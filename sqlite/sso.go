package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// GetTenantSSO returns a tenant's IdP; see lockbox.SSOTx.
func (t *tx) GetTenantSSO(ctx context.Context, tenant string) (*lockbox.TenantSSO, error) {
	return t.tenantSSO(ctx, `WHERE s.tenant = ?`, tenant)
}

// TenantSSOByDomain finds the IdP that claims domain.
func (t *tx) TenantSSOByDomain(ctx context.Context, domain string) (*lockbox.TenantSSO, error) {
	return t.tenantSSO(ctx, `JOIN sso_domains d ON d.tenant = s.tenant WHERE d.domain = ?`, domain)
}

func (t *tx) tenantSSO(ctx context.Context, where string, arg any) (*lockbox.TenantSSO, error) {
	var c lockbox.TenantSSO
	var updated int64
	err := t.tx.QueryRowContext(ctx, `SELECT s.tenant, s.issuer, s.client_id, s.client_secret, s.enforce, s.break_glass, s.updated_at
		FROM tenant_sso s `+where, arg).Scan(&c.Tenant, &c.Issuer, &c.ClientID, &c.ClientSecret, &c.Enforce, &c.BreakGlass, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No single sign-on is configured.")
	} else if err != nil {
		return nil, wrap("get tenant sso", err)
	}
	c.UpdatedAt = fromMicros(updated)
	c.ClientSecretSet = c.ClientSecret != ""
	rows, err := t.tx.QueryContext(ctx, `SELECT domain FROM sso_domains WHERE tenant = ? ORDER BY domain`, c.Tenant)
	if err != nil {
		return nil, wrap("get tenant sso domains", err)
	}
	defer rows.Close()
	c.AllowedDomains = []string{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, wrap("get tenant sso domains", err)
		}
		c.AllowedDomains = append(c.AllowedDomains, d)
	}
	return &c, wrap("get tenant sso domains", rows.Err())
}

// StaleSSOSecrets returns the tenants whose secret does not start with
// current.
func (t *tx) StaleSSOSecrets(ctx context.Context, current string) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT tenant FROM tenant_sso
		WHERE substr(client_secret, 1, length(?1)) <> ?1 ORDER BY tenant`, current)
	if err != nil {
		return nil, wrap("list tenant sso", err)
	}
	tenants, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return tenants, wrap("list tenant sso", err)
}

// ReplaceSSOSecret sets a tenant's client secret if it is still old.
func (t *tx) ReplaceSSOSecret(ctx context.Context, tenant, old, secret string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE tenant_sso SET client_secret = ? WHERE tenant = ? AND client_secret = ?`,
		secret, tenant, old)
	return expectRow(res, err, "replace sso secret", "The single sign-on secret of tenant %q changed meanwhile.", tenant)
}

// PutTenantSSO stores a tenant's IdP and its domains.
func (t *tx) PutTenantSSO(ctx context.Context, c *lockbox.TenantSSO) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO tenant_sso
		(tenant, issuer, client_id, client_secret, enforce, break_glass, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
		client_secret = excluded.client_secret, enforce = excluded.enforce, break_glass = excluded.break_glass,
		updated_at = excluded.updated_at`,
		c.Tenant, c.Issuer, c.ClientID, c.ClientSecret, c.Enforce, c.BreakGlass, micros(c.UpdatedAt))
	if isForeignKey(err) {
		return lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", c.Tenant)
	} else if err != nil {
		return wrap("put tenant sso", err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sso_domains WHERE tenant = ?`, c.Tenant); err != nil {
		return wrap("put tenant sso domains", err)
	}
	for _, d := range c.AllowedDomains {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO sso_domains (domain, tenant) VALUES (?, ?)`, d, c.Tenant)
		if isUnique(err) {
			return lockbox.FieldErrorf(lockbox.ECONFLICT, "allowed_domains", "The domain %s is already used for single sign-on by another organisation.", d)
		} else if err != nil {
			return wrap("put tenant sso domains", err)
		}
	}
	return nil
}

// DeleteTenantSSO removes a tenant's IdP (its domains go with it).
func (t *tx) DeleteTenantSSO(ctx context.Context, tenant string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM tenant_sso WHERE tenant = ?`, tenant)
	return expectRow(res, err, "delete tenant sso", "No single sign-on is configured for tenant %q.", tenant)
}

// InsertSSOFlow stores a sign-in in progress.
func (t *tx) InsertSSOFlow(ctx context.Context, hash []byte, f *lockbox.SSOFlow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("sqlite: encode sso flow: %w", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO sso_flows (hash, flow, expires_at) VALUES (?, ?, ?)`,
		hash, string(b), micros(f.ExpiresAt))
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Sign-in already exists.")
	}
	return wrap("insert sso flow", err)
}

// TakeSSOFlow deletes a flow and returns it when still valid at now.
func (t *tx) TakeSSOFlow(ctx context.Context, hash []byte, now time.Time) (*lockbox.SSOFlow, error) {
	var raw string
	var expires int64
	err := t.tx.QueryRowContext(ctx, `DELETE FROM sso_flows WHERE hash = ? RETURNING flow, expires_at`, hash).Scan(&raw, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Sign-in not found.")
	} else if err != nil {
		return nil, wrap("take sso flow", err)
	}
	// Housekeeping: a few dead flows go with each live one.
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sso_flows WHERE hash IN
		(SELECT hash FROM sso_flows WHERE expires_at <= ? LIMIT 100)`, micros(now)); err != nil {
		return nil, wrap("sweep sso flows", err)
	}
	if micros(now) >= expires {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Sign-in not found.")
	}
	var f lockbox.SSOFlow
	if err := json.Unmarshal([]byte(raw), &f); err != nil {
		return nil, fmt.Errorf("sqlite: decode sso flow: %w", err)
	}
	f.ExpiresAt = fromMicros(expires)
	return &f, nil
}
