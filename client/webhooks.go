package client

import (
	"context"
	"net/http"
	"time"

	"github.com/lockboxhq/lockbox"
)

var (
	_ lockbox.WebhookService = (*Client)(nil)
)

// CreateWebhook registers a webhook endpoint; the result carries its
// signing secret, shown this once (POST /v1/tenants/{tenant}/webhooks).
func (c *Client) CreateWebhook(ctx context.Context, tenant string, in lockbox.NewWebhook) (*lockbox.Webhook, error) {
	var out lockbox.Webhook
	if err := c.do(ctx, http.MethodPost, webhooksPath(tenant), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhooks lists a tenant's endpoints, without secrets.
func (c *Client) ListWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, error) {
	var out struct {
		Webhooks []*lockbox.Webhook `json:"webhooks"`
	}
	if err := c.do(ctx, http.MethodGet, webhooksPath(tenant), nil, &out); err != nil {
		return nil, err
	}
	return out.Webhooks, nil
}

// UpdateWebhook changes an endpoint's URL, events or description (PATCH
// /v1/tenants/{tenant}/webhooks/{id}).
func (c *Client) UpdateWebhook(ctx context.Context, tenant, id string, in lockbox.WebhookUpdate) (*lockbox.Webhook, error) {
	var out lockbox.Webhook
	if err := c.do(ctx, http.MethodPatch, webhooksPath(tenant)+"/"+seg(id), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhook deletes an endpoint (DELETE /v1/tenants/{tenant}/webhooks/{id}).
func (c *Client) DeleteWebhook(ctx context.Context, tenant, id string) error {
	return c.do(ctx, http.MethodDelete, webhooksPath(tenant)+"/"+seg(id), nil, nil)
}

// RotateWebhookSecret gives an endpoint a new signing secret; the result
// carries it, shown this once, and how long the old one keeps signing
// (POST /v1/tenants/{tenant}/webhooks/{id}/rotate-secret).
func (c *Client) RotateWebhookSecret(ctx context.Context, tenant, id string, grace time.Duration) (*lockbox.Webhook, error) {
	var in struct {
		Grace string `json:"grace,omitempty"`
	}
	if grace != 0 {
		in.Grace = grace.String()
	}
	var out lockbox.Webhook
	if err := c.do(ctx, http.MethodPost, webhooksPath(tenant)+"/"+seg(id)+"/rotate-secret", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListWebhookDeliveries returns an endpoint's latest deliveries, newest
// first (GET /v1/tenants/{tenant}/webhooks/{id}/deliveries).
func (c *Client) ListWebhookDeliveries(ctx context.Context, tenant, id string) ([]*lockbox.WebhookDelivery, error) {
	var out struct {
		Deliveries []*lockbox.WebhookDelivery `json:"deliveries"`
	}
	if err := c.do(ctx, http.MethodGet, webhooksPath(tenant)+"/"+seg(id)+"/deliveries", nil, &out); err != nil {
		return nil, err
	}
	return out.Deliveries, nil
}

// ResendWebhookDelivery sends a finished delivery again (POST
// /v1/tenants/{tenant}/webhooks/{id}/deliveries/{delivery}/resend).
func (c *Client) ResendWebhookDelivery(ctx context.Context, tenant, id, delivery string) (*lockbox.WebhookDelivery, error) {
	var out lockbox.WebhookDelivery
	if err := c.do(ctx, http.MethodPost, webhooksPath(tenant)+"/"+seg(id)+"/deliveries/"+seg(delivery)+"/resend", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SendWebhookTest queues a webhook.test delivery to an endpoint (POST
// /v1/tenants/{tenant}/webhooks/{id}/test).
func (c *Client) SendWebhookTest(ctx context.Context, tenant, id string) (*lockbox.WebhookDelivery, error) {
	var out lockbox.WebhookDelivery
	if err := c.do(ctx, http.MethodPost, webhooksPath(tenant)+"/"+seg(id)+"/test", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListMail returns the mail a --dev server captured, newest first
// (GET /v1/dev/mail; 404 without --dev).
func (c *Client) ListMail(ctx context.Context) ([]*lockbox.DevMail, error) {
	var out struct {
		Messages []*lockbox.DevMail `json:"messages"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/dev/mail", nil, &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

func webhooksPath(tenant string) string { return "/v1/tenants/" + seg(tenant) + "/webhooks" }
