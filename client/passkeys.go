package client

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// ListPasskeys lists the caller's passkeys (GET /v1/me/passkeys).
func (c *Client) ListPasskeys(ctx context.Context) ([]*lockbox.Passkey, error) {
	var out struct {
		Passkeys []*lockbox.Passkey `json:"passkeys"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/me/passkeys", nil, &out); err != nil {
		return nil, err
	}
	return out.Passkeys, nil
}

// RemovePasskey removes one of the caller's passkeys
// (DELETE /v1/me/passkeys/{credential}).
func (c *Client) RemovePasskey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/me/passkeys/"+seg(id), nil, nil)
}

// BeginPasskey starts a registration (POST /v1/me/passkeys/begin).
func (c *Client) BeginPasskey(ctx context.Context) (*lockbox.PasskeyBegin, error) {
	var out lockbox.PasskeyBegin
	if err := c.do(ctx, http.MethodPost, "/v1/me/passkeys/begin", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FinishPasskey completes one (POST /v1/me/passkeys/finish).
func (c *Client) FinishPasskey(ctx context.Context, name string, response json.RawMessage) (*lockbox.Passkey, error) {
	var out lockbox.Passkey
	in := map[string]any{"name": name, "credential": response}
	if err := c.do(ctx, http.MethodPost, "/v1/me/passkeys/finish", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DecisionChallenge asks for a decision statement to sign
// (POST /v1/requests/{id}/decision-challenge).
func (c *Client) DecisionChallenge(ctx context.Context, idOrRef string, in lockbox.DecisionIntent) (*lockbox.DecisionChallenge, error) {
	var out lockbox.DecisionChallenge
	if err := c.do(ctx, http.MethodPost, "/v1/requests/"+seg(idOrRef)+"/decision-challenge", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LoginPasskey finishes a sign-in that answered passkey_required
// (POST /v1/auth/token/passkey). It sends no token of its own.
func (c *Client) LoginPasskey(ctx context.Context, challenge string, a lockbox.PasskeyAssertion) (*lockbox.Session, error) {
	in := struct {
		Challenge string                   `json:"challenge"`
		Assertion lockbox.PasskeyAssertion `json:"assertion"`
	}{challenge, a}
	var out lockbox.Session
	if err := c.do(ctx, http.MethodPost, "/v1/auth/token/passkey", in, &out, withToken("")); err != nil {
		return nil, err
	}
	return &out, nil
}

var _ lockbox.PasskeyService = (*Client)(nil)
