package client

import (
	"context"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// Single sign-on (SPEC §10.2).

// StartSSO asks for the IdP's authorization URL of a CLI sign-in
// (POST /v1/auth/sso/start); email "" uses the provider's staff IdP.
func (c *Client) StartSSO(ctx context.Context, email, redirectURI, state, codeChallenge string) (string, error) {
	in := map[string]string{"redirect_uri": redirectURI, "state": state, "code_challenge": codeChallenge}
	if email != "" {
		in["email"] = email
	}
	var out struct {
		URL string `json:"authorization_url"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/auth/sso/start", in, &out, withToken("")); err != nil {
		return "", err
	}
	return out.URL, nil
}

// RedeemSSOCode trades the loopback's one-time code and the PKCE verifier
// for a bearer token (POST /v1/auth/sso/token).
func (c *Client) RedeemSSOCode(ctx context.Context, code, verifier string) (*lockbox.Session, error) {
	in := map[string]string{"code": code, "code_verifier": verifier}
	var out lockbox.Session
	if err := c.do(ctx, http.MethodPost, "/v1/auth/sso/token", in, &out, withToken("")); err != nil {
		return nil, err
	}
	return &out, nil
}

func ssoPath(tenant string) string { return "/v1/tenants/" + seg(tenant) + "/sso" }

// GetTenantSSO returns the tenant's IdP (never its secret).
func (c *Client) GetTenantSSO(ctx context.Context, tenant string) (*lockbox.TenantSSO, error) {
	var out lockbox.TenantSSO
	if err := c.do(ctx, http.MethodGet, ssoPath(tenant), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutTenantSSO sets the tenant's IdP.
func (c *Client) PutTenantSSO(ctx context.Context, tenant string, in lockbox.TenantSSOInput) (*lockbox.TenantSSO, error) {
	var out lockbox.TenantSSO
	if err := c.do(ctx, http.MethodPut, ssoPath(tenant), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteTenantSSO removes the tenant's IdP.
func (c *Client) DeleteTenantSSO(ctx context.Context, tenant string) error {
	return c.do(ctx, http.MethodDelete, ssoPath(tenant), nil, nil)
}
