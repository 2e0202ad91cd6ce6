// Package client is the Go client of Lockbox's HTTP JSON API (SPEC §8).
//
// *Client implements the root package's service interfaces over HTTP, so the
// CLI talks to a server through the same vocabulary the server is built on.
// Problem responses come back as *lockbox.Error with the server's code and
// message. It imports the root package and the standard library only.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/httpcode"
)

// Client calls one Lockbox server with one bearer token. Its methods ignore
// any principal in the context: the server authenticates the token.
type Client struct {
	// BaseURL is the server's URL without a trailing slash, e.g.
	// "http://127.0.0.1:8080".
	BaseURL string
	// Token is the bearer token sent with every call; "" sends none.
	Token string
	// HTTPClient makes the calls; nil means http.DefaultClient.
	HTTPClient *http.Client
}

var (
	_ lockbox.RequestService = (*Client)(nil)
	_ lockbox.AccountService = (*Client)(nil)
	_ lockbox.TenantService  = (*Client)(nil)
	_ lockbox.CatalogService = (*Client)(nil)
)

// New returns a client of the server at baseURL that authenticates with token.
func New(baseURL, token string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Token: token}
}

// WithHTTPClient returns a copy of c that makes its calls with hc.
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	cp := *c
	cp.HTTPClient = hc
	return &cp
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// option adjusts one outgoing request.
type option func(*http.Request)

// withToken authenticates one call with token instead of c.Token ("" sends none).
func withToken(token string) option {
	return func(r *http.Request) {
		r.Header.Del("Authorization")
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
	}
}

// do sends in (when not nil) as the JSON body of method path, and decodes a
// successful response's JSON into out (when not nil).
func (c *Client) do(ctx context.Context, method, path string, in, out any, opts ...option) error {
	req, err := c.newRequest(ctx, method, path, in)
	if err != nil {
		return err
	}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.send(req)
	if err != nil {
		return err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return responseError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctxErr := ended(req); ctxErr != nil {
			return ctxErr
		}
		return &lockbox.Error{Code: lockbox.EINTERNAL, Err: err, Message: fmt.Sprintf(
			"The server at %s answered %s %s with a body that is not the expected JSON: %v.", c.BaseURL, method, path, err)}
	}
	return nil
}

// send makes one call. A call that fails before a response arrives
// returns the context's error when the caller's context ended (so
// errors.Is(err, context.Canceled) holds), else EUNAVAILABLE with the
// transport error as its cause.
func (c *Client) send(req *http.Request) (*http.Response, error) {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err == nil {
		return resp, nil
	}
	if ctxErr := ended(req); ctxErr != nil {
		return nil, ctxErr
	}
	return nil, &lockbox.Error{Code: lockbox.EUNAVAILABLE, Err: err, Message: fmt.Sprintf(
		"Cannot reach the Lockbox server at %s: %v.", c.BaseURL, transportCause(err))}
}

// ended returns the error of req's context, naming the call, when that
// context has ended: a canceled call is the caller's doing, not the
// server's, whatever error the transport met on the way.
func ended(req *http.Request) error {
	if err := req.Context().Err(); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

func (c *Client) newRequest(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encoding %s %s body: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, body)
	if err != nil {
		return nil, lockbox.Errorf(lockbox.EINVALID, "The server URL %q is not usable: %v.", c.BaseURL, err)
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	withToken(c.Token)(req)
	return req, nil
}

// transportCause drops net/url's "Get "URL": " prefix: the message already
// names the server.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// responseError turns an error response into a *lockbox.Error: the
// server's code and detail when it sent a problem document, else a code
// derived from the status (a proxy's error page, say).
func responseError(resp *http.Response) error {
	var p httpcode.Problem
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_ = json.Unmarshal(body, &p)
	if p.Code == "" {
		p.Code = statusCode(resp.StatusCode)
	}
	if p.Detail == "" {
		p.Detail = fmt.Sprintf("The server answered %s.", resp.Status)
	}
	return &lockbox.Error{Code: p.Code, Message: p.Detail, Field: p.Field, SignIn: p.Passkey}
}

// statusCode maps an HTTP status without a problem document to a code.
func statusCode(status int) string { return httpcode.Code(status) }

// seg escapes one path segment (an id, a tenant, an email).
func seg(s string) string { return url.PathEscape(s) }
