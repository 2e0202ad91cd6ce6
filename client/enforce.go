package client

import (
	"context"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// IssueGrant obtains a grant token for the caller's own active request
// (POST /v1/requests/{id}/token).
func (c *Client) IssueGrant(ctx context.Context, idOrRef string) (*lockbox.Grant, error) {
	var g lockbox.Grant
	if err := c.do(ctx, http.MethodPost, "/v1/requests/"+seg(idOrRef)+"/token", nil, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// CheckAccess asks the server whether a grant allows an operation now
// (POST /v1/access/check; service accounts).
func (c *Client) CheckAccess(ctx context.Context, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	in.ClientIP = "" // only operator actions carry it
	return c.decision(ctx, "/v1/access/check", in)
}

// RecordOperatorAction checks and records an operator action in the
// tenant's audit log (POST /v1/operator-actions; service accounts).
func (c *Client) RecordOperatorAction(ctx context.Context, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	return c.decision(ctx, "/v1/operator-actions", in)
}

func (c *Client) decision(ctx context.Context, path string, in lockbox.AccessCheck) (*lockbox.AccessDecision, error) {
	var out struct {
		lockbox.AccessDecision
		RequestID *string `json:"request_id"`
	}
	if err := c.do(ctx, http.MethodPost, path, in, &out); err != nil {
		return nil, err
	}
	d := out.AccessDecision
	if out.RequestID != nil {
		d.RequestID = *out.RequestID
	}
	return &d, nil
}

var _ lockbox.EnforcementService = (*Client)(nil)
