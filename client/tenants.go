package client

import (
	"context"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// CreateTenant onboards a tenant with its first global admin (POST /v1/tenants).
func (c *Client) CreateTenant(ctx context.Context, in lockbox.NewTenant) (*lockbox.TenantCreated, error) {
	var out lockbox.TenantCreated
	if err := c.do(ctx, http.MethodPost, "/v1/tenants", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTenants lists tenants (GET /v1/tenants).
func (c *Client) ListTenants(ctx context.Context) ([]*lockbox.Tenant, error) {
	var out struct {
		Tenants []*lockbox.Tenant `json:"tenants"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/tenants", nil, &out); err != nil {
		return nil, err
	}
	return out.Tenants, nil
}

// GetSettings returns a tenant's Lockbox settings.
func (c *Client) GetSettings(ctx context.Context, tenant string) (*lockbox.Settings, error) {
	var out lockbox.Settings
	if err := c.do(ctx, http.MethodGet, settingsPath(tenant), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateSettings changes the settings set in p and returns them all.
func (c *Client) UpdateSettings(ctx context.Context, tenant string, p lockbox.SettingsPatch) (*lockbox.Settings, error) {
	var out lockbox.Settings
	if err := c.do(ctx, http.MethodPatch, settingsPath(tenant), p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func settingsPath(tenant string) string { return "/v1/tenants/" + seg(tenant) + "/settings" }
