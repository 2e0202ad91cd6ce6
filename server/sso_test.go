package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/testop"
	"github.com/lockboxhq/lockbox/oidcrp"
	"github.com/lockboxhq/lockbox/server"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// testRedirect is the Lockbox redirect URI registered at the test OP. The
// API tests never follow it (the browser side is web's).
const testRedirect = "http://lockbox.test/auth/callback"

// newTestOP starts a real OpenID provider (internal/testop) in-process.
func newTestOP(tb testing.TB) *testop.Server {
	tb.Helper()
	op, err := testop.Start("127.0.0.1:0", testop.DefaultConfig(testRedirect), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { op.Close() })
	return op
}

func testSSOOptions(op *testop.Server) approval.SSOOptions {
	return approval.SSOOptions{Client: oidcrp.New(nil), AllowPrivateIdPs: true,
		Provider: lockbox.OIDCProvider{Issuer: op.Issuer("provider"), ClientID: testop.DefaultClientID, ClientSecret: testop.DefaultClientSecret}}
}

func ssoInput(op *testop.Server, target string) lockbox.TenantSSOInput {
	return lockbox.TenantSSOInput{Issuer: op.Issuer("contoso"), ClientID: testop.DefaultClientID,
		ClientSecret: testop.DefaultClientSecret, AllowedDomains: []string{target + ".test"}}
}

// ssoFixture configures the target's IdP before the routes that need one.
func (m *matrix) ssoFixture(route server.Route, target string) {
	switch route.Method + " " + route.Pattern {
	case "GET /v1/tenants/{tenant}/sso", "DELETE /v1/tenants/{tenant}/sso":
		if _, err := m.sso.PutTenantSSO(m.ctxOf("admin@"+target+".test"), target, ssoInput(m.op, target)); err != nil {
			m.t.Fatal(err)
		}
	}
}

func (m *matrix) ssoBody(route server.Route, target string) any {
	switch route.Method + " " + route.Pattern {
	case "PUT /v1/tenants/{tenant}/sso":
		return ssoInput(m.op, target)
	case "POST /v1/auth/sso/start":
		return map[string]string{"redirect_uri": "http://127.0.0.1:9/callback", "state": "matrix-state",
			"code_challenge": challenge("matrix-verifier-matrix-verifier-matrix-verifier")}
	case "POST /v1/auth/sso/token":
		return map[string]string{"code": "made-up", "code_verifier": "matrix-verifier-matrix-verifier-matrix-verifier"}
	}
	return nil
}

func challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// apiCall calls the matrix's handler with a bearer token.
func (m *matrix) apiCall(token, method, path string, body any) (int, map[string]any, string) {
	m.t.Helper()
	var rd *strings.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	} else {
		rd = strings.NewReader("")
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	m.handler.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out, rec.Body.String()
}

// TestTenantSSOConfig: the global admin sets the IdP; the secret is never
// returned nor audited; bad input changes nothing; sso.configured is in
// the tenant's log; the provider admin cannot read or change it.
func TestTenantSSOConfig(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	admin := m.tokens["global_admin"]
	const path = "/v1/tenants/contoso/sso"
	in := ssoInput(m.op, "contoso")
	in.ClientSecret = "a-very-secret-value"
	in.AllowedDomains = []string{"Contoso.test", "eu.contoso.test"}
	in.Enforce, in.BreakGlass = true, "admin@contoso.test"

	code, _, body := m.apiCall(admin, "GET", path, nil)
	if code != http.StatusNotFound {
		t.Fatalf("GET before PUT: %d %s", code, body)
	}
	bad := []struct {
		name  string
		edit  func(*lockbox.TenantSSOInput)
		field string
	}{
		{"no secret the first time", func(i *lockbox.TenantSSOInput) { i.ClientSecret = "" }, "client_secret"},
		{"issuer not a URL", func(i *lockbox.TenantSSOInput) { i.Issuer = "login.contoso.test" }, "issuer"},
		{"issuer that does not answer", func(i *lockbox.TenantSSOInput) { i.Issuer = m.op.URL + "/nobody" }, "issuer"},
		{"no domain", func(i *lockbox.TenantSSOInput) { i.AllowedDomains = nil }, "allowed_domains"},
		{"bad domain", func(i *lockbox.TenantSSOInput) { i.AllowedDomains = []string{"not a domain"} }, "allowed_domains"},
		{"enforce without break-glass", func(i *lockbox.TenantSSOInput) { i.BreakGlass = "" }, "break_glass"},
		{"break-glass not a global admin", func(i *lockbox.TenantSSOInput) { i.BreakGlass = "approver@contoso.test" }, "break_glass"},
		{"break-glass of another tenant", func(i *lockbox.TenantSSOInput) { i.BreakGlass = "admin@fabrikam.test" }, "break_glass"},
	}
	for _, tc := range bad {
		b := in
		tc.edit(&b)
		code, out, body := m.apiCall(admin, "PUT", path, b)
		if code != http.StatusBadRequest || out["code"] != "invalid" || out["field"] != tc.field {
			t.Errorf("%s: %d %s, want 400 invalid on %s", tc.name, code, body, tc.field)
		}
	}
	if code, _, body := m.apiCall(admin, "GET", path, nil); code != http.StatusNotFound {
		t.Fatalf("a refused PUT stored something: %d %s", code, body)
	}

	code, out, body := m.apiCall(admin, "PUT", path, in)
	if code != http.StatusOK || strings.Contains(body, in.ClientSecret) || out["client_secret_set"] != true {
		t.Fatalf("PUT: %d %s", code, body)
	}
	code, out, body = m.apiCall(admin, "GET", path, nil)
	if code != http.StatusOK || strings.Contains(body, in.ClientSecret) || out["enforce"] != true ||
		out["break_glass"] != "admin@contoso.test" || strings.Join(toStrings(out["allowed_domains"]), ",") != "contoso.test,eu.contoso.test" {
		t.Fatalf("GET: %d %s", code, body)
	}
	// Unknown fields are refused (strict JSON), like everywhere.
	code, _, _ = m.apiCall(admin, "PUT", path, map[string]any{"issuer": in.Issuer, "client_id": "x", "allowed_domains": []string{"contoso.test"}, "secret": "x"})
	if code != http.StatusBadRequest {
		t.Errorf("unknown field: %d", code)
	}
	// Without a secret, a later PUT keeps the stored one.
	in2 := in
	in2.ClientSecret, in2.Enforce = "", false
	if code, _, body := m.apiCall(admin, "PUT", path, in2); code != http.StatusOK {
		t.Fatalf("PUT keeping the secret: %d %s", code, body)
	}
	var stored *lockbox.TenantSSO
	if err := m.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		stored, err = tx.GetTenantSSO(context.Background(), "contoso")
		return err
	}); err != nil || !strings.HasPrefix(stored.ClientSecret, lockbox.SealedPrefix) || strings.Contains(stored.ClientSecret, in.ClientSecret) {
		t.Fatalf("stored secret after a PUT without one: %v, want it kept, sealed (approval's tests open it)", err)
	}
	// fabrikam cannot claim contoso's domain.
	fb := ssoInput(m.op, "fabrikam")
	fb.AllowedDomains = []string{"fabrikam.test", "contoso.test"}
	if code, _, body := m.apiCall(m.login("admin@fabrikam.test"), "PUT", "/v1/tenants/fabrikam/sso", fb); code != http.StatusConflict {
		t.Errorf("fabrikam claiming contoso.test: %d %s", code, body)
	}

	// The provider admin: neither read nor change, nor remove.
	for _, call := range []struct {
		method string
		body   any
	}{{"GET", nil}, {"PUT", in}, {"DELETE", nil}} {
		if code, _, body := m.apiCall(m.tokens["provider_admin"], call.method, path, call.body); code != http.StatusForbidden {
			t.Errorf("provider admin %s: %d %s", call.method, code, body)
		}
	}

	// Audited in contoso's log, twice, never with the secret.
	recs := auditOps(t, m, "contoso", lockbox.OpSSOConfigured)
	if len(recs) != 2 {
		t.Fatalf("%d sso.configured records, want 2", len(recs))
	}
	for _, r := range recs {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), in.ClientSecret) {
			t.Errorf("audit record holds the secret: %s", b)
		}
	}
	if code, _, body := m.apiCall(admin, "DELETE", path, nil); code != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if code, _, _ := m.apiCall(admin, "DELETE", path, nil); code != http.StatusNotFound {
		t.Errorf("second DELETE: %d", code)
	}
	if n := len(auditOps(t, m, "contoso", lockbox.OpSSOConfigured)); n != 3 {
		t.Errorf("%d sso.configured records after DELETE, want 3", n)
	}
}

func toStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, x := range l {
			s, _ := x.(string)
			out = append(out, s)
		}
	}
	return out
}

func auditOps(t *testing.T, m *matrix, log, op string) []*lockbox.AuditRecord {
	t.Helper()
	var out []*lockbox.AuditRecord
	err := m.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		out, err = tx.SearchAudit(context.Background(), lockbox.AuditQuery{Log: log, Operations: []string{op}, Limit: 1000})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestEnforcedSSOPasswords: with enforce on, a tenant user's right password
// is refused (API and so the web, one rule); the break-glass admin still
// signs in, audited each time; other tenants are untouched.
func TestEnforcedSSOPasswords(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	in := ssoInput(m.op, "contoso")
	in.Enforce, in.BreakGlass = true, "admin@contoso.test"
	if _, err := m.sso.PutTenantSSO(m.ctxOf("admin@contoso.test"), "contoso", in); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		email string
		want  int
	}{
		{"approver@contoso.test", http.StatusUnauthorized},
		{"auditor@contoso.test", http.StatusUnauthorized},
		{"admin@contoso.test", http.StatusOK}, // break-glass
		{"admin@contoso.test", http.StatusOK},
		{"admin@fabrikam.test", http.StatusOK}, // another tenant
		{"operator@provider.test", http.StatusOK},
	} {
		code, _, body := m.apiCall("", "POST", "/v1/auth/token", map[string]string{"email": tc.email, "password": approval.DevPassword})
		if code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.email, code, body, tc.want)
		}
		if code == http.StatusUnauthorized && !strings.Contains(body, "single sign-on") {
			t.Errorf("%s: the refusal does not say why: %s", tc.email, body)
		}
	}
	if n := len(auditOps(t, m, "contoso", lockbox.OpBreakGlassSignIn)); n != 2 {
		t.Errorf("%d break-glass records, want 2 (one per sign-in)", n)
	}
}

// singleSignOn walks the SSO routes for the OpenAPI conformance test: a
// tenant's IdP configured, read and removed, and a whole CLI sign-in
// (start → the real test OP → the callback → the one-time code → a
// token that works).
func (c *conformance) singleSignOn(t *testing.T) {
	op := c.srv.op
	in := ssoInput(op, "contoso")
	in.Enforce, in.BreakGlass = false, "admin@contoso.test"
	c.run(t, step{name: "sso get none", as: "admin@contoso.test", method: "GET", path: "/v1/tenants/contoso/sso", want: 404})
	c.run(t, step{name: "sso put", as: "admin@contoso.test", method: "PUT", path: "/v1/tenants/contoso/sso", body: in, want: 200})
	c.run(t, step{name: "sso put bad", as: "admin@contoso.test", method: "PUT", path: "/v1/tenants/contoso/sso",
		body: map[string]any{"issuer": "nope", "client_id": "x", "allowed_domains": []string{"contoso.test"}}, want: 400})
	c.run(t, step{name: "sso put by provider", as: "admin@provider.test", method: "PUT", path: "/v1/tenants/contoso/sso", body: in, want: 403})
	c.run(t, step{name: "sso get", as: "admin@contoso.test", method: "GET", path: "/v1/tenants/contoso/sso", want: 200})

	verifier := "conformance-verifier-conformance-verifier-0123"
	body := c.run(t, step{name: "sso start", method: "POST", path: "/v1/auth/sso/start", want: 200,
		body: map[string]string{"email": "approver@contoso.test", "redirect_uri": "http://127.0.0.1:9/callback",
			"state": "conformance-state", "code_challenge": challenge(verifier)}})
	authURL := decode[map[string]string](t, body)["authorization_url"]
	c.run(t, step{name: "sso start not loopback", method: "POST", path: "/v1/auth/sso/start", want: 400,
		body: map[string]string{"redirect_uri": "http://evil.test:9/callback", "state": "conformance-state", "code_challenge": challenge(verifier)}})
	back, err := testop.SignIn(t.Context(), nil, authURL, "approver@contoso.test", testop.DefaultPassword)
	if err != nil {
		t.Fatal(err)
	}
	q := mustQuery(t, back)
	res, err := c.srv.sso.FinishSSO(t.Context(), lockbox.SSOCallback{State: q.Get("state"), Code: q.Get("code")})
	if err != nil {
		t.Fatal(err)
	}
	loop := mustQuery(t, res.Redirect)
	if !strings.HasPrefix(res.Redirect, "http://127.0.0.1:9/callback?") || loop.Get("state") != "conformance-state" {
		t.Fatalf("loopback redirect %s", res.Redirect)
	}
	c.run(t, step{name: "sso token wrong verifier", method: "POST", path: "/v1/auth/sso/token", want: 401,
		body: map[string]string{"code": loop.Get("code"), "code_verifier": verifier + "x"}})
	// The code went with the wrong verifier: it is single-use. Again, right.
	res, err = c.cliFlow(t, verifier)
	if err != nil {
		t.Fatal(err)
	}
	loop = mustQuery(t, res.Redirect)
	body = c.run(t, step{name: "sso token", method: "POST", path: "/v1/auth/sso/token", want: 200,
		body: map[string]string{"code": loop.Get("code"), "code_verifier": verifier}})
	c.tokens["sso:approver"] = decode[lockbox.Session](t, body).Token
	me := decode[lockbox.User](t, c.run(t, step{name: "sso me", as: "sso:approver", method: "GET", path: "/v1/me", want: 200}))
	if me.Email != "approver@contoso.test" || me.Tenant != "contoso" {
		t.Fatalf("signed in as %+v", me)
	}
	c.run(t, step{name: "sso token replayed", method: "POST", path: "/v1/auth/sso/token", want: 401,
		body: map[string]string{"code": loop.Get("code"), "code_verifier": verifier}})

	c.run(t, step{name: "sso delete", as: "admin@contoso.test", method: "DELETE", path: "/v1/tenants/contoso/sso", want: 204})
}

func (c *conformance) cliFlow(t *testing.T, verifier string) (*lockbox.SSOResult, error) {
	body := c.run(t, step{name: "sso start again", method: "POST", path: "/v1/auth/sso/start", want: 200,
		body: map[string]string{"email": "approver@contoso.test", "redirect_uri": "http://127.0.0.1:9/callback",
			"state": "conformance-state", "code_challenge": challenge(verifier)}})
	back, err := testop.SignIn(t.Context(), nil, decode[map[string]string](t, body)["authorization_url"], "approver@contoso.test", testop.DefaultPassword)
	if err != nil {
		return nil, err
	}
	q := mustQuery(t, back)
	return c.srv.sso.FinishSSO(t.Context(), lockbox.SSOCallback{State: q.Get("state"), Code: q.Get("code")})
}

func mustQuery(t *testing.T, raw string) url.Values {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// TestOIDCOnlyBootstrapBreakGlass: under --oidc-only the bootstrap admin
// still signs in with a password (the provider's break-glass account when
// its IdP is down), audited in the provider log each time.
func TestOIDCOnlyBootstrapBreakGlass(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	opts := testSSOOptions(newTestOP(t))
	opts.OIDCOnly = true
	svc := approval.New(store, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, SSO: opts})
	pw, err := svc.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Login(ctx, approval.BootstrapEmail, pw); err != nil {
		t.Fatalf("bootstrap admin under --oidc-only: %v", err)
	}
	var recs []*lockbox.AuditRecord
	if err := store.View(ctx, func(tx lockbox.Tx) (err error) {
		recs, err = tx.SearchAudit(ctx, lockbox.AuditQuery{Log: lockbox.ProviderLog, Operations: []string{lockbox.OpBreakGlassSignIn}, Limit: 10})
		return err
	}); err != nil || len(recs) != 1 {
		t.Fatalf("break-glass records: %d, %v", len(recs), err)
	}
}
