package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/server"
)

type harness struct {
	fake    *fake
	handler http.Handler
	logs    *bytes.Buffer
	clock   *lockbox.OffsetClock
}

func newHarness(t testing.TB, dev bool) *harness {
	t.Helper()
	h := &harness{fake: &fake{}, logs: &bytes.Buffer{}}
	s := &server.Server{
		Requests: h.fake, Accounts: h.fake, Tenants: h.fake, Catalog: h.fake,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
	}
	if dev {
		h.clock = lockbox.NewOffsetClock()
		s.DevClock = h.clock
	}
	h.handler = s.Handler()
	return h
}

// call is one HTTP request; the token "good" is sent unless noAuth.
type call struct {
	method, path, body string
	header             map[string]string
	noAuth             bool
}

func (h *harness) do(t testing.TB, c call) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	req.RemoteAddr = "203.0.113.7:41234"
	if !c.noAuth {
		req.Header.Set("Authorization", "Bearer good")
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.handler.ServeHTTP(rec, req)
	return rec
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
	Field  string `json:"field,omitempty"`
}

// mustProblem checks that rec is a problem document of status and code,
// and returns it.
func mustProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, code string) problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decoding problem: %v", err)
	}
	want := problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: p.Detail, Code: code, Field: p.Field}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("problem (-want +got):\n%s", diff)
	}
	if p.Detail == "" {
		t.Error("problem has no detail")
	}
	return p
}

func TestProblemMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantCode   string
		wantDetail string
		wantLogged bool
		wantField  string
	}{
		{"invalid", lockbox.Errorf(lockbox.EINVALID, "Bad field."), 400, "invalid", "Bad field.", false, ""},
		{"unauthenticated", lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Sign in."), 401, "unauthenticated", "Sign in.", false, ""},
		{"forbidden", lockbox.Errorf(lockbox.EFORBIDDEN, "No."), 403, "forbidden", "No.", false, ""},
		{"not_found", lockbox.Errorf(lockbox.ENOTFOUND, "Gone."), 404, "not_found", "Gone.", false, ""},
		{"conflict", lockbox.Errorf(lockbox.ECONFLICT, "Too late."), 409, "conflict", "Too late.", false, ""},
		{"too_large", lockbox.Errorf(lockbox.ETOOLARGE, "Big."), 413, "too_large", "Big.", false, ""},
		{"rate_limited", lockbox.Errorf(lockbox.ERATELIMITED, "Slow down."), 429, "rate_limited", "Slow down.", false, ""},
		{"unavailable", lockbox.Errorf(lockbox.EUNAVAILABLE, "Later."), 503, "unavailable", "Later.", false, ""},
		{"internal", lockbox.Errorf(lockbox.EINTERNAL, "Oops."), 500, "internal", "Oops.", true, ""},
		{"wrapped", fmt.Errorf("ctx: %w", lockbox.Errorf(lockbox.ECONFLICT, "Too late.")), 409, "conflict", "Too late.", false, ""},
		{"plain error hides its text", errors.New("pq: connection to 10.0.0.5 refused"), 500, "internal", "Internal error.", true, ""},
		{"unknown code", lockbox.Errorf("teapot", "I am a teapot."), 500, "internal", "I am a teapot.", true, ""},
		{"field", lockbox.FieldErrorf(lockbox.EINVALID, "request_ttl_minutes", "Too short."), 400, "invalid", "Too short.", false, "request_ttl_minutes"},
		{"wrapped field", fmt.Errorf("ctx: %w", lockbox.FieldErrorf(lockbox.EINVALID, "admin.email", "Not an address.")), 400, "invalid", "Not an address.", false, "admin.email"},
		{"internal hides its field", &lockbox.Error{Code: lockbox.EINTERNAL, Message: "Oops.", Field: "secret_column"}, 500, "internal", "Oops.", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			h.fake.err = tt.err
			rec := h.do(t, call{method: "GET", path: "/v1/requests/x"})
			p := mustProblem(t, rec, tt.wantStatus, tt.wantCode)
			if p.Detail != tt.wantDetail {
				t.Errorf("detail = %q, want %q", p.Detail, tt.wantDetail)
			}
			if p.Field != tt.wantField {
				t.Errorf("field = %q, want %q", p.Field, tt.wantField)
			}
			if got := rec.Header().Get("WWW-Authenticate"); (got == "Bearer") != (tt.wantStatus == 401) {
				t.Errorf("WWW-Authenticate = %q at status %d", got, tt.wantStatus)
			}
			logged := strings.Count(h.logs.String(), "internal error")
			if want := map[bool]int{true: 1, false: 0}[tt.wantLogged]; logged != want {
				t.Errorf("logged %d internal errors, want %d:\n%s", logged, want, h.logs)
			}
		})
	}
}

// TestPanicIsAProblem: a handler's bug answers that one request with a 500
// problem document and is logged once.
func TestPanicIsAProblem(t *testing.T) {
	h := newHarness(t, false)
	h.fake.authenticate = func(string) (*lockbox.User, error) { panic("auth bug") }
	rec := h.do(t, call{method: "GET", path: "/v1/requests/x"})
	p := mustProblem(t, rec, http.StatusInternalServerError, lockbox.EINTERNAL)
	if p.Detail != "Internal error." {
		t.Errorf("detail = %q", p.Detail)
	}
	if n := strings.Count(h.logs.String(), `panic="auth bug"`); n != 1 {
		t.Errorf("logged the panic %d times, want once:\n%s", n, h.logs)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		authorization string
		wantStatus    int
	}{
		{"NoHeader", "", 401},
		{"BasicScheme", "Basic Z29vZDo=", 401},
		{"EmptyToken", "Bearer ", 401},
		{"UnknownToken", "Bearer bad", 401},
		{"Valid", "Bearer good", 200},
		{"SchemeIsCaseInsensitive", "bearer good", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, false)
			hdr := map[string]string{}
			if tt.authorization != "" {
				hdr["Authorization"] = tt.authorization
			}
			rec := h.do(t, call{method: "GET", path: "/v1/me", header: hdr, noAuth: true})
			if tt.wantStatus == 401 {
				mustProblem(t, rec, 401, lockbox.EUNAUTHENTICATED)
				if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("WWW-Authenticate = %q, want Bearer", got)
				}
				return
			}
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if diff := cmp.Diff(fakeUser(), h.fake.user); diff != "" {
				t.Errorf("user in context (-want +got):\n%s", diff)
			}
			if h.fake.clientIP != "203.0.113.7" {
				t.Errorf("client IP in context = %q, want 203.0.113.7", h.fake.clientIP)
			}
		})
	}
}

func TestAuthenticateInternalError(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	h.fake.authenticate = func(string) (*lockbox.User, error) { return nil, errors.New("database is locked") }
	rec := h.do(t, call{method: "GET", path: "/v1/me"})
	p := mustProblem(t, rec, 500, lockbox.EINTERNAL)
	if strings.Contains(p.Detail, "database") {
		t.Errorf("detail leaks the internal error: %q", p.Detail)
	}
}

// TestEveryPrivateRouteNeedsAToken walks the routes table: a route that is
// not public answers 401 without a token, and a public one does not.
func TestEveryPrivateRouteNeedsAToken(t *testing.T) {
	t.Parallel()
	h := newHarness(t, true)
	for _, rt := range server.Routes(true) {
		path := strings.NewReplacer("{id}", "x", "{tenant}", "contoso", "{email}", "a@b.test", "{service}", "exchange").Replace(rt.Pattern)
		t.Run(rt.Method+" "+rt.Pattern, func(t *testing.T) {
			rec := h.do(t, call{method: rt.Method, path: path, body: "{}", noAuth: true})
			if rt.Public {
				if rec.Code == 401 {
					t.Errorf("public route answered 401: %s", rec.Body)
				}
				return
			}
			mustProblem(t, rec, 401, lockbox.EUNAUTHENTICATED)
		})
	}
}

func TestRoutesTable(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, rt := range server.Routes(true) {
		key := rt.Method + " " + rt.Pattern
		if seen[key] {
			t.Errorf("route %s is listed twice", key)
		}
		seen[key] = true
	}
	var dev []string
	for _, rt := range server.Routes(false) {
		if strings.HasPrefix(rt.Pattern, "/v1/dev/") {
			dev = append(dev, rt.Pattern)
		}
	}
	if len(dev) > 0 {
		t.Errorf("Routes(false) lists dev routes %v", dev)
	}
	if !seen["POST /v1/dev/clock"] {
		t.Error("Routes(true) does not list POST /v1/dev/clock")
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	t.Run("UnknownPath", func(t *testing.T) {
		mustProblem(t, h.do(t, call{method: "GET", path: "/v1/nope"}), 404, lockbox.ENOTFOUND)
	})
	t.Run("DevRouteWithoutDev", func(t *testing.T) {
		mustProblem(t, h.do(t, call{method: "POST", path: "/v1/dev/clock", body: `{"advance":"1h"}`}), 404, lockbox.ENOTFOUND)
	})
	t.Run("WrongMethod", func(t *testing.T) {
		rec := h.do(t, call{method: "DELETE", path: "/v1/requests"})
		mustProblem(t, rec, 405, lockbox.EINVALID)
		if got := rec.Header().Get("Allow"); got != "GET, HEAD, POST" {
			t.Errorf("Allow = %q, want %q", got, "GET, HEAD, POST")
		}
	})
}

func TestCommonHeaders(t *testing.T) {
	t.Parallel()
	h := newHarness(t, false)
	for _, c := range []call{
		{method: "GET", path: "/v1/me"},
		{method: "GET", path: "/v1/nope"},
		{method: "GET", path: "/healthz", noAuth: true},
	} {
		t.Run(c.path, func(t *testing.T) {
			rec := h.do(t, c)
			for k, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"} {
				if got := rec.Header().Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestDevClock(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		wantStatus int
		wantShift  time.Duration
	}{
		{"Advance", `{"advance":"12h1m"}`, 200, 12*time.Hour + time.Minute},
		{"Year", `{"advance":"8760h"}`, 200, 8760 * time.Hour},
		{"TooFar", `{"advance":"8761h"}`, 400, 0},
		{"Zero", `{"advance":"0s"}`, 400, 0},
		{"Negative", `{"advance":"-1h"}`, 400, 0},
		{"NotADuration", `{"advance":"12 hours"}`, 400, 0},
		{"Missing", `{}`, 400, 0},
		{"UnknownField", `{"advance":"1h","to":"now"}`, 400, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, true)
			before := time.Now()
			rec := h.do(t, call{method: "POST", path: "/v1/dev/clock", body: tt.body})
			if tt.wantStatus != 200 {
				mustProblem(t, rec, tt.wantStatus, lockbox.EINVALID)
				if shift := time.Until(h.clock.Now()); shift > time.Second {
					t.Errorf("clock moved by %v", shift)
				}
				return
			}
			var out struct{ Now time.Time }
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || rec.Code != 200 {
				t.Fatalf("status %d, body %s: %v", rec.Code, rec.Body, err)
			}
			if shift := out.Now.Sub(before); shift < tt.wantShift || shift > tt.wantShift+time.Minute {
				t.Errorf("now moved by %v, want %v", shift, tt.wantShift)
			}
			if out.Now.Location() != time.UTC {
				t.Errorf("now %v is not UTC", out.Now)
			}
		})
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		path       string
		ready      error
		wantStatus int
	}{
		{"Healthz", "/healthz", errors.New("db down"), 200},
		{"Ready", "/readyz", nil, 200},
		{"NotReady", "/readyz", errors.New("dial tcp 10.0.0.5:5432: refused"), 503},
		{"NotReadyWithReason", "/readyz", lockbox.Errorf(lockbox.EUNAVAILABLE, "Migrating."), 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &server.Server{
				Ready:  func(context.Context) error { return tt.ready },
				Logger: slog.New(slog.DiscardHandler),
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tt.path, nil))
			if tt.wantStatus == 200 {
				if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
					t.Errorf("got %d %s, want 200 {\"status\":\"ok\"}", rec.Code, rec.Body)
				}
				return
			}
			p := mustProblem(t, rec, tt.wantStatus, lockbox.EUNAVAILABLE)
			if strings.Contains(p.Detail, "10.0.0.5") {
				t.Errorf("detail leaks the internal error: %q", p.Detail)
			}
		})
	}
}

func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	for _, dev := range []bool{false, true} {
		t.Run(fmt.Sprintf("dev=%v", dev), func(t *testing.T) {
			h := newHarness(t, dev)
			rec := h.do(t, call{method: "GET", path: "/v1/openapi.json", noAuth: true})
			if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json" {
				t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
			}
			var doc struct {
				OpenAPI string                     `json:"openapi"`
				Paths   map[string]json.RawMessage `json:"paths"`
			}
			if err := json.NewDecoder(io.LimitReader(rec.Body, 1<<22)).Decode(&doc); err != nil {
				t.Fatal(err)
			}
			if doc.OpenAPI != "3.0.3" {
				t.Errorf("openapi = %q", doc.OpenAPI)
			}
			if _, ok := doc.Paths["/v1/dev/clock"]; ok != dev {
				t.Errorf("document has /v1/dev/clock: %v, want %v", ok, dev)
			}
		})
	}
}
