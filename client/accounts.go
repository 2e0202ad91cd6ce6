package client

import (
	"context"
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Login exchanges an email and password for a bearer token
// (POST /v1/auth/token). It sends no token of its own.
func (c *Client) Login(ctx context.Context, email, password string) (*lockbox.Session, error) {
	in := struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}{email, password}
	var out lockbox.Session
	if err := c.do(ctx, http.MethodPost, "/v1/auth/token", in, &out, withToken("")); err != nil {
		return nil, err
	}
	return &out, nil
}

// Authenticate returns the user that token belongs to (GET /v1/me with
// that token), whatever c.Token is.
func (c *Client) Authenticate(ctx context.Context, token string) (*lockbox.User, error) {
	if token == "" {
		return nil, lockbox.Errorf(lockbox.EUNAUTHENTICATED, "No token given: sign in first.")
	}
	var out lockbox.User
	if err := c.do(ctx, http.MethodGet, "/v1/me", nil, &out, withToken(token)); err != nil {
		return nil, err
	}
	return &out, nil
}

// Me returns the caller (GET /v1/me).
func (c *Client) Me(ctx context.Context) (*lockbox.User, error) {
	var out lockbox.User
	if err := c.do(ctx, http.MethodGet, "/v1/me", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListStaff lists provider staff (GET /v1/staff).
func (c *Client) ListStaff(ctx context.Context) ([]*lockbox.User, error) {
	var out struct {
		Staff []*lockbox.User `json:"staff"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/staff", nil, &out); err != nil {
		return nil, err
	}
	return out.Staff, nil
}

// AddStaff adds a provider staff member (POST /v1/staff).
func (c *Client) AddStaff(ctx context.Context, in lockbox.NewUser) (*lockbox.User, error) {
	var out lockbox.User
	if err := c.do(ctx, http.MethodPost, "/v1/staff", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateServiceAccount creates a service account; its token is in the
// result, once (POST /v1/service-accounts).
func (c *Client) CreateServiceAccount(ctx context.Context, name string) (*lockbox.ServiceAccount, error) {
	in := struct {
		Name string `json:"name"`
	}{name}
	var out lockbox.ServiceAccount
	if err := c.do(ctx, http.MethodPost, "/v1/service-accounts", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListTenantUsers lists a tenant's users (GET /v1/tenants/{tenant}/users).
func (c *Client) ListTenantUsers(ctx context.Context, tenant string) ([]*lockbox.User, error) {
	var out struct {
		Users []*lockbox.User `json:"users"`
	}
	if err := c.do(ctx, http.MethodGet, usersPath(tenant), nil, &out); err != nil {
		return nil, err
	}
	return out.Users, nil
}

// AddTenantUser adds a tenant user (POST /v1/tenants/{tenant}/users).
func (c *Client) AddTenantUser(ctx context.Context, tenant string, in lockbox.NewUser) (*lockbox.User, error) {
	var out lockbox.User
	if err := c.do(ctx, http.MethodPost, usersPath(tenant), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateTenantUser replaces a tenant user's roles
// (PATCH /v1/tenants/{tenant}/users/{email}).
func (c *Client) UpdateTenantUser(ctx context.Context, tenant, email string, upd lockbox.UserUpdate) (*lockbox.User, error) {
	var out lockbox.User
	if err := c.do(ctx, http.MethodPatch, usersPath(tenant)+"/"+seg(email), upd, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveTenantUser removes a tenant user
// (DELETE /v1/tenants/{tenant}/users/{email}).
func (c *Client) RemoveTenantUser(ctx context.Context, tenant, email string) error {
	return c.do(ctx, http.MethodDelete, usersPath(tenant)+"/"+seg(email), nil, nil)
}

func usersPath(tenant string) string { return "/v1/tenants/" + seg(tenant) + "/users" }

// Logout ends the client's token (POST /v1/auth/logout).
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/v1/auth/logout", nil, nil)
}

// ChangePassword changes the caller's password; every other session and
// token of theirs ends (POST /v1/me/password).
func (c *Client) ChangePassword(ctx context.Context, in lockbox.PasswordChange) error {
	return c.do(ctx, http.MethodPost, "/v1/me/password", in, nil)
}

// ListMyTokens lists the caller's sessions and API tokens (GET /v1/me/tokens).
func (c *Client) ListMyTokens(ctx context.Context) ([]*lockbox.TokenInfo, error) {
	var out struct {
		Tokens []*lockbox.TokenInfo `json:"tokens"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/me/tokens", nil, &out); err != nil {
		return nil, err
	}
	return out.Tokens, nil
}

// RevokeMyToken ends one of the caller's sessions or tokens
// (DELETE /v1/me/tokens/{id}).
func (c *Client) RevokeMyToken(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/me/tokens/"+seg(id), nil, nil)
}

// UpdateStaff changes a staff member's roles or disabled flag
// (PATCH /v1/staff/{email}).
func (c *Client) UpdateStaff(ctx context.Context, email string, upd lockbox.StaffUpdate) (*lockbox.User, error) {
	var out lockbox.User
	if err := c.do(ctx, http.MethodPatch, "/v1/staff/"+seg(email), upd, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RemoveStaff removes a staff member (DELETE /v1/staff/{email}).
func (c *Client) RemoveStaff(ctx context.Context, email string) error {
	return c.do(ctx, http.MethodDelete, "/v1/staff/"+seg(email), nil, nil)
}

// ResetStaffPassword gives a staff member a one-time password
// (POST /v1/staff/{email}/reset-password).
func (c *Client) ResetStaffPassword(ctx context.Context, email string) (*lockbox.OneTimePassword, error) {
	var out lockbox.OneTimePassword
	if err := c.do(ctx, http.MethodPost, "/v1/staff/"+seg(email)+"/reset-password", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ResetTenantUserPassword gives a tenant user a one-time password
// (POST /v1/tenants/{tenant}/users/{email}/reset-password).
func (c *Client) ResetTenantUserPassword(ctx context.Context, tenant, email string) (*lockbox.OneTimePassword, error) {
	var out lockbox.OneTimePassword
	if err := c.do(ctx, http.MethodPost, usersPath(tenant)+"/"+seg(email)+"/reset-password", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListServiceAccounts lists the service accounts (GET /v1/service-accounts).
func (c *Client) ListServiceAccounts(ctx context.Context) ([]*lockbox.ServiceAccount, error) {
	var out struct {
		ServiceAccounts []*lockbox.ServiceAccount `json:"service_accounts"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/service-accounts", nil, &out); err != nil {
		return nil, err
	}
	return out.ServiceAccounts, nil
}

// RevokeServiceAccount removes a service account
// (DELETE /v1/service-accounts/{name}).
func (c *Client) RevokeServiceAccount(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/v1/service-accounts/"+seg(name), nil, nil)
}

// RotateServiceAccount issues a new token; the old one stops after grace
// (POST /v1/service-accounts/{name}/rotate).
func (c *Client) RotateServiceAccount(ctx context.Context, name string, grace time.Duration) (*lockbox.ServiceAccount, error) {
	in := struct {
		Grace string `json:"grace,omitempty"`
	}{}
	if grace > 0 {
		in.Grace = grace.String()
	}
	var out lockbox.ServiceAccount
	if err := c.do(ctx, http.MethodPost, "/v1/service-accounts/"+seg(name)+"/rotate", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
