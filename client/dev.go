package client

import (
	"context"
	"net/http"
	"time"
)

// AdvanceClock moves the clock of a server running with --dev forward by d
// and returns its new time (POST /v1/dev/clock). Other servers answer
// not_found.
func (c *Client) AdvanceClock(ctx context.Context, d time.Duration) (time.Time, error) {
	in := struct {
		Advance string `json:"advance"`
	}{d.String()}
	var out struct {
		Now time.Time `json:"now"`
	}
	if err := c.do(ctx, http.MethodPost, "/v1/dev/clock", in, &out); err != nil {
		return time.Time{}, err
	}
	return out.Now, nil
}
