package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/lockboxhq/lockbox"
)

// CreateRequest files a request (POST /v1/requests).
func (c *Client) CreateRequest(ctx context.Context, in lockbox.NewRequest) (*lockbox.AccessRequest, error) {
	var out lockbox.AccessRequest
	if err := c.do(ctx, http.MethodPost, "/v1/requests", in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRequest shows a request by id or reference (GET /v1/requests/{id}).
func (c *Client) GetRequest(ctx context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	var out lockbox.AccessRequest
	if err := c.do(ctx, http.MethodGet, "/v1/requests/"+seg(idOrRef), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListRequests lists one page of the requests the caller may see.
func (c *Client) ListRequests(ctx context.Context, f lockbox.RequestFilter) (*lockbox.RequestPage, error) {
	var out lockbox.RequestPage
	if err := c.do(ctx, http.MethodGet, "/v1/requests"+requestQuery(f), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func requestQuery(f lockbox.RequestFilter) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("tenant", f.Tenant)
	set("service", f.Service)
	set("cursor", f.Cursor)
	for _, s := range f.Status {
		q.Add("status", string(s))
	}
	if f.CreatedAfter != nil {
		set("created_after", f.CreatedAfter.UTC().Format(time.RFC3339Nano))
	}
	if f.Limit > 0 {
		set("limit", strconv.Itoa(f.Limit))
	}
	if f.NeedsReview {
		set("needs_review", "true")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// AccessReport returns a request's access report (GET /v1/requests/{id}/report).
func (c *Client) AccessReport(ctx context.Context, idOrRef string) (*lockbox.AccessReport, error) {
	var out lockbox.AccessReport
	if err := c.do(ctx, http.MethodGet, "/v1/requests/"+seg(idOrRef)+"/report", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Act applies a person's event to a request: the review events POST
// /review, the others POST /approve, /deny, /cancel, /revoke or /complete.
// A non-zero d.IfVersion is sent as If-Match, so the call fails with
// conflict if the request changed since that version.
func (c *Client) Act(ctx context.Context, idOrRef string, ev lockbox.Event, d lockbox.Decision) (*lockbox.AccessRequest, error) {
	action, body, err := actionOf(ev, d)
	if err != nil {
		return nil, err
	}
	var opts []option
	if d.IfVersion > 0 {
		opts = append(opts, func(r *http.Request) { r.Header.Set("If-Match", fmt.Sprintf(`"v%d"`, d.IfVersion)) })
	}
	var out lockbox.AccessRequest
	if err := c.do(ctx, http.MethodPost, "/v1/requests/"+seg(idOrRef)+"/"+action, body, &out, opts...); err != nil {
		return nil, err
	}
	return &out, nil
}

// reviewBody is the body of POST /v1/requests/{id}/review.
type reviewBody struct {
	Decision string `json:"decision"`
	Comment  string `json:"comment,omitempty"`
}

// actionOf names the route of a person's event and its body.
func actionOf(ev lockbox.Event, d lockbox.Decision) (string, any, error) {
	switch ev {
	case lockbox.EventReviewApprove:
		return "review", reviewBody{Decision: "approve", Comment: d.Comment}, nil
	case lockbox.EventReviewDeny:
		return "review", reviewBody{Decision: "deny", Comment: d.Comment}, nil
	case lockbox.EventApprove:
		return string(ev), lockbox.Decision{Comment: d.Comment, Changes: d.Changes}, nil
	case lockbox.EventDeny, lockbox.EventCancel, lockbox.EventRevoke, lockbox.EventComplete, lockbox.EventAcknowledge:
		return string(ev), lockbox.Decision{Comment: d.Comment}, nil
	case lockbox.EventExtend:
		if d.Extend == nil {
			return "", nil, lockbox.Errorf(lockbox.EINVALID, "An extension needs minutes and a reason.")
		}
		return "extend", d.Extend, nil
	case lockbox.EventExtensionApprove:
		return "extension/approve", lockbox.Decision{Comment: d.Comment}, nil
	case lockbox.EventExtensionDeny:
		return "extension/deny", lockbox.Decision{Comment: d.Comment}, nil
	}
	return "", nil, lockbox.Errorf(lockbox.EINVALID, "%q is not something a person can do to a request.", ev)
}
