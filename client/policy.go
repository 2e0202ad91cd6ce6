package client

import (
	"context"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

var _ lockbox.PolicyService = (*Client)(nil)

func policyPath(tenant string) string { return "/v1/tenants/" + seg(tenant) + "/policy" }

// GetPolicy returns a tenant's policy rules.
func (c *Client) GetPolicy(ctx context.Context, tenant string) (*lockbox.Policy, error) {
	var out lockbox.Policy
	if err := c.do(ctx, http.MethodGet, policyPath(tenant), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutPolicy replaces a tenant's policy rules.
func (c *Client) PutPolicy(ctx context.Context, tenant string, p lockbox.Policy) (*lockbox.Policy, error) {
	if p.Rules == nil {
		p.Rules = []lockbox.PolicyRule{}
	}
	var out lockbox.Policy
	if err := c.do(ctx, http.MethodPut, policyPath(tenant), p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SimulatePolicy asks what a tenant's rules would decide for in.
func (c *Client) SimulatePolicy(ctx context.Context, tenant string, in lockbox.PolicySimulation) (*lockbox.SimulationResult, error) {
	var out lockbox.SimulationResult
	if err := c.do(ctx, http.MethodPost, policyPath(tenant)+"/simulate", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
