package client

import (
	"context"
	"net/http"

	"github.com/lockboxhq/lockbox"
)

// ListServices lists the services catalog (GET /v1/services).
func (c *Client) ListServices(ctx context.Context) ([]*lockbox.Service, error) {
	var out struct {
		Services []*lockbox.Service `json:"services"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/services", nil, &out); err != nil {
		return nil, err
	}
	return out.Services, nil
}

// GetService shows one service (GET /v1/services/{service}).
func (c *Client) GetService(ctx context.Context, name string) (*lockbox.Service, error) {
	var out lockbox.Service
	if err := c.do(ctx, http.MethodGet, "/v1/services/"+seg(name), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PutService creates or replaces s (PUT /v1/services/{service}); only its
// name, display name and operations are sent.
func (c *Client) PutService(ctx context.Context, s *lockbox.Service) (*lockbox.Service, error) {
	in := struct {
		DisplayName string   `json:"display_name"`
		Operations  []string `json:"operations"`
	}{s.DisplayName, s.Operations}
	var out lockbox.Service
	if err := c.do(ctx, http.MethodPut, "/v1/services/"+seg(s.Name), in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
