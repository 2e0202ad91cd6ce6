package postgres

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
	return t.tenantSSO(ctx, `WHERE s.tenant = $1`, tenant)
}

// TenantSSOByDomain finds the IdP that claims domain.
func (t *tx) TenantSSOByDomain(ctx context.Context, domain string) (*lockbox.TenantSSO, error) {
	return t.tenantSSO(ctx, `JOIN sso_domains d ON d.tenant = s.tenant WHERE d.domain = $1`, domain)
}

func (t *tx) tenantSSO(ctx context.Context, where string, arg any) (*lockbox.TenantSSO, error) {
	var c lockbox.TenantSSO
	var updated time.Time
	var domains []byte
	err := t.tx.QueryRowContext(ctx, `SELECT s.tenant, s.issuer, s.client_id, s.client_secret, s.enforce, s.break_glass, s.updated_at,
		(SELECT coalesce(jsonb_agg(x.domain ORDER BY x.domain), '[]'::jsonb) FROM sso_domains x WHERE x.tenant = s.tenant)
		FROM tenant_sso s `+where, arg).Scan(&c.Tenant, &c.Issuer, &c.ClientID, &c.ClientSecret, &c.Enforce, &c.BreakGlass, &updated, &domains)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "No single sign-on is configured.")
	} else if err != nil {
		return nil, wrap("get tenant sso", err)
	}
	if err := json.Unmarshal(domains, &c.AllowedDomains); err != nil {
		return nil, fmt.Errorf("postgres: decode sso domains: %w", err)
	}
	c.UpdatedAt = updated.UTC()
	c.ClientSecretSet = c.ClientSecret != ""
	return &c, nil
}

// StaleSSOSecrets returns the tenants whose secret does not start with
// current.
func (t *tx) StaleSSOSecrets(ctx context.Context, current string) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT tenant FROM tenant_sso
		WHERE NOT starts_with(client_secret, $1) ORDER BY tenant`, current)
	if err != nil {
		return nil, wrap("list tenant sso", err)
	}
	tenants, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return tenants, wrap("list tenant sso", err)
}

// ReplaceSSOSecret sets a tenant's client secret if it is still old.
func (t *tx) ReplaceSSOSecret(ctx context.Context, tenant, old, secret string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE tenant_sso SET client_secret = $1 WHERE tenant = $2 AND client_secret = $3`,
		secret, tenant, old)
	return expectRow(res, err, "replace sso secret", "The single sign-on secret of tenant %q changed meanwhile.", tenant)
}

// PutTenantSSO stores a tenant's IdP and its domains. A domain of another
// tenant is looked for first, so the conflict does not abort the
// transaction; the primary key still refuses one claimed concurrently.
func (t *tx) PutTenantSSO(ctx context.Context, c *lockbox.TenantSSO) error {
	if _, err := t.GetTenant(ctx, c.Tenant); err != nil {
		return err
	}
	for _, d := range c.AllowedDomains {
		var other string
		err := t.tx.QueryRowContext(ctx, `SELECT tenant FROM sso_domains WHERE domain = $1`, d).Scan(&other)
		if err == nil && other != c.Tenant {
			return lockbox.FieldErrorf(lockbox.ECONFLICT, "allowed_domains", "The domain %s is already used for single sign-on by another organisation.", d)
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return wrap("put tenant sso domains", err)
		}
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO tenant_sso
		(tenant, issuer, client_id, client_secret, enforce, break_glass, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant) DO UPDATE SET issuer = excluded.issuer, client_id = excluded.client_id,
		client_secret = excluded.client_secret, enforce = excluded.enforce, break_glass = excluded.break_glass,
		updated_at = excluded.updated_at`,
		c.Tenant, c.Issuer, c.ClientID, c.ClientSecret, c.Enforce, c.BreakGlass, ts(c.UpdatedAt))
	if err != nil {
		return wrap("put tenant sso", err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sso_domains WHERE tenant = $1`, c.Tenant); err != nil {
		return wrap("put tenant sso domains", err)
	}
	for _, d := range c.AllowedDomains {
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO sso_domains (domain, tenant) VALUES ($1, $2)`, d, c.Tenant); err != nil {
			return wrap("put tenant sso domains", err)
		}
	}
	return nil
}

// DeleteTenantSSO removes a tenant's IdP (its domains go with it).
func (t *tx) DeleteTenantSSO(ctx context.Context, tenant string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM tenant_sso WHERE tenant = $1`, tenant)
	return expectRow(res, err, "delete tenant sso", "No single sign-on is configured for tenant %q.", tenant)
}

// InsertSSOFlow stores a sign-in in progress.
func (t *tx) InsertSSOFlow(ctx context.Context, hash []byte, f *lockbox.SSOFlow) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("postgres: encode sso flow: %w", err)
	}
	ok, err := t.insert(ctx, "insert sso flow", `INSERT INTO sso_flows (hash, flow, expires_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, hash, string(b), ts(f.ExpiresAt))
	if err != nil {
		return err
	}
	if !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "Sign-in already exists.")
	}
	return nil
}

// TakeSSOFlow deletes a flow and returns it when still valid at now. The
// DELETE … RETURNING makes two concurrent takes of one flow find it once.
func (t *tx) TakeSSOFlow(ctx context.Context, hash []byte, now time.Time) (*lockbox.SSOFlow, error) {
	var raw []byte
	var expires time.Time
	err := t.tx.QueryRowContext(ctx, `DELETE FROM sso_flows WHERE hash = $1 RETURNING flow, expires_at`, hash).Scan(&raw, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Sign-in not found.")
	} else if err != nil {
		return nil, wrap("take sso flow", err)
	}
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM sso_flows WHERE hash IN
		(SELECT hash FROM sso_flows WHERE expires_at <= $1 LIMIT 100)`, ts(now)); err != nil {
		return nil, wrap("sweep sso flows", err)
	}
	if !ts(now).Before(expires) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Sign-in not found.")
	}
	var f lockbox.SSOFlow
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("postgres: decode sso flow: %w", err)
	}
	f.ExpiresAt = expires.UTC()
	return &f, nil
}
