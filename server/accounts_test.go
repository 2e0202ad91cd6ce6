package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/server"
)

// The account routes of SPEC §10.1 in the authorization matrix: their
// fixtures, and the callers that must not spend the matrix's shared tokens
// (signing out, changing a password).

// accountFixture makes the staff member, service account or token id a
// route of §10.1 acts on.
func (m *matrix) accountFixture(path string, n int64) string {
	switch {
	case strings.HasPrefix(path, "/v1/staff/{email}"):
		email := fmt.Sprintf("staff%d@provider.test", n)
		_, err := m.svc.AddStaff(m.ctxOf("admin@provider.test"), lockbox.NewUser{Email: email, Roles: []lockbox.Role{lockbox.RoleOperator}})
		if err != nil {
			m.t.Fatal(err)
		}
		return strings.ReplaceAll(path, "{email}", email)
	case strings.Contains(path, "/v1/service-accounts/{name}"):
		name := fmt.Sprintf("svc%d", n)
		if _, err := m.svc.CreateServiceAccount(m.ctxOf("admin@provider.test"), name); err != nil {
			m.t.Fatal(err)
		}
		return strings.ReplaceAll(path, "{name}", name)
	case path == "/v1/me/tokens/{id}":
		return "/v1/me/tokens/api_00000000000000000000" // ownTokenPath gives the caller's own
	}
	return path
}

// tokenFor is the token p calls route with: the matrix's, or for a route
// that ends it or changes the account's password, a fresh one.
func (m *matrix) tokenFor(p principal, route server.Route) string {
	ctx := context.Background()
	switch key := route.Method + " " + route.Pattern; {
	case p.email == "":
		return ""
	case key == "POST /v1/auth/logout" && p.is("service_account"):
		sa, err := m.svc.CreateServiceAccount(m.ctxOf("admin@provider.test"), fmt.Sprintf("logout%d", m.seq.Add(1)))
		if err != nil {
			m.t.Fatal(err)
		}
		return sa.Token
	case key == "POST /v1/auth/logout":
		return m.login(p.email)
	case key == "POST /v1/me/password" && !p.is("service_account"):
		// A fresh account with p's roles, so the shared ones keep DevPassword.
		email := fmt.Sprintf("clone%d-%s", m.seq.Add(1), p.email)
		in := lockbox.NewUser{Email: email, Roles: p.roles, Password: approval.DevPassword}
		var err error
		if p.tenant != "" {
			_, err = m.svc.AddTenantUser(m.ctxOf("admin@"+p.tenant+".test"), p.tenant, in)
		} else {
			_, err = m.svc.AddStaff(m.ctxOf("admin@provider.test"), in)
		}
		if err != nil {
			m.t.Fatal(err)
		}
		_ = ctx
		return m.login(email)
	}
	return m.tokens[p.name]
}

func (m *matrix) login(email string) string {
	sess, err := m.svc.Login(context.Background(), email, approval.DevPassword)
	if err != nil {
		m.t.Fatalf("login %s: %v", email, err)
	}
	return sess.Token
}

// ownTokenPath points DELETE /v1/me/tokens/{id} at a second token of the
// caller's own (a service account, which signs in with no password, keeps
// the placeholder, which is not theirs).
func (m *matrix) ownTokenPath(p principal, route server.Route, path string) string {
	if route.Pattern != "/v1/me/tokens/{id}" || p.email == "" || p.is("service_account") {
		return path
	}
	token := m.login(p.email)
	ctx := lockbox.NewContextWithCredential(m.ctxOf(p.email), token)
	tokens, err := m.svc.ListMyTokens(ctx)
	if err != nil {
		m.t.Fatal(err)
	}
	for _, k := range tokens {
		if k.Current {
			return "/v1/me/tokens/" + k.ID
		}
	}
	m.t.Fatalf("no current token among %d", len(tokens))
	return ""
}

// TestOneTimePasswordCallsNothingElse: a caller signed in with a one-time
// password gets 403 password_change_required from every route but the
// public ones, signing out and changing the password (SPEC §10.1).
func TestOneTimePasswordCallsNothingElse(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	otp, err := m.svc.ResetStaffPassword(m.ctxOf("admin@provider.test"), "operator@provider.test")
	if err != nil {
		t.Fatal(err)
	}
	sess, err := m.svc.Login(context.Background(), "operator@provider.test", otp.Password)
	if err != nil {
		t.Fatal(err)
	}
	if !sess.PasswordChangeRequired {
		t.Fatal("a one-time password's session does not say the password must change")
	}
	for _, route := range server.Routes(true) {
		if route.Public || route.OneTime {
			continue
		}
		t.Run(route.Method+" "+route.Pattern, func(t *testing.T) {
			path := strings.NewReplacer("{id}", "x", "{tenant}", "contoso", "{email}", "a@b.test",
				"{name}", "svc", "{service}", "exchange", "{file}", "x").Replace(route.Pattern)
			req := httptest.NewRequest(route.Method, path, strings.NewReader("{}"))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+sess.Token)
			rec := httptest.NewRecorder()
			m.handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"password_change_required"`) {
				t.Errorf("got %d %s, want 403 password_change_required", rec.Code, rec.Body)
			}
		})
	}
	// The change itself works with the same token, and then everything does.
	ctx := lockbox.NewContextWithCredential(context.Background(), sess.Token)
	u, err := m.svc.Authenticate(ctx, sess.Token)
	if err != nil {
		t.Fatal(err)
	}
	ctx = lockbox.NewContextWithUser(ctx, u)
	if err := m.svc.ChangePassword(ctx, lockbox.PasswordChange{Current: otp.Password, New: "correct horse battery staple"}); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+sess.Token)
	rec := httptest.NewRecorder()
	m.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("GET /v1/me after the change: %d %s", rec.Code, rec.Body)
	}
}

// accounts drives the account lifecycle routes of SPEC §10.1 through the
// conformance check.
func (c *conformance) accounts(t *testing.T) {
	const admin, who = "admin@provider.test", "lifecycle@provider.test"
	login := func(key, email, password string, want int) lockbox.Session {
		body := c.run(t, step{name: "login " + key, method: "POST", path: "/v1/auth/token",
			body: map[string]string{"email": email, "password": password}, want: want})
		if want != 200 {
			return lockbox.Session{}
		}
		sess := decode[lockbox.Session](t, body)
		c.tokens[key] = sess.Token
		return sess
	}
	c.run(t, step{name: "add lifecycle staff", as: admin, method: "POST", path: "/v1/staff",
		body: map[string]any{"email": who, "roles": []string{"operator"}, "password": "long-enough-1"}, want: 201})
	login(who, who, "long-enough-1", 200)
	login(who+"#2", who, "long-enough-1", 200)
	list := decode[struct{ Tokens []*lockbox.TokenInfo }](t, c.run(t, step{name: "list my tokens", as: who, method: "GET", path: "/v1/me/tokens", want: 200}))
	var other string
	for _, k := range list.Tokens {
		if !k.Current {
			other = k.ID
		}
	}
	if len(list.Tokens) != 2 || other == "" {
		t.Fatalf("tokens = %+v, want the current one and another", list.Tokens)
	}
	for _, s := range []step{
		{name: "revoke my other token", as: who, method: "DELETE", path: "/v1/me/tokens/" + other, want: 204},
		{name: "revoked token is refused", as: who + "#2", method: "GET", path: "/v1/me", want: 401},
		{name: "revoke it again", as: who, method: "DELETE", path: "/v1/me/tokens/" + other, want: 404},
		{name: "change password wrong current", as: who, method: "POST", path: "/v1/me/password",
			body: map[string]string{"current": "not-my-password", "new": "a much better passphrase"}, want: 400},
		{name: "change password too short", as: who, method: "POST", path: "/v1/me/password",
			body: map[string]string{"current": "long-enough-1", "new": "short"}, want: 400},
		{name: "change password to a common one", as: who, method: "POST", path: "/v1/me/password",
			body: map[string]string{"current": "long-enough-1", "new": "1qaz2wsx3edc"}, want: 400},
		{name: "change password unknown field", as: who, method: "POST", path: "/v1/me/password",
			body: `{"current":"long-enough-1","new":"x","confirm":"x"}`, want: 400, invalid: true},
		{name: "change password", as: who, method: "POST", path: "/v1/me/password",
			body: map[string]string{"current": "long-enough-1", "new": "a much better passphrase"}, want: 204},
	} {
		c.run(t, s)
	}
	otp := decode[lockbox.OneTimePassword](t, c.run(t, step{name: "reset staff password", as: admin, method: "POST",
		path: "/v1/staff/" + who + "/reset-password", want: 200}))
	if sess := login(who+"#otp", who, otp.Password, 200); !sess.PasswordChangeRequired {
		t.Error("a one-time password's token does not say so")
	}
	for _, s := range []step{
		{name: "one-time password calls something else", as: who + "#otp", method: "GET", path: "/v1/me", want: 403},
		{name: "reset own password", as: admin, method: "POST", path: "/v1/staff/" + admin + "/reset-password", want: 403},
		{name: "reset tenant user as provider", as: admin, method: "POST", path: "/v1/tenants/contoso/users/auditor@contoso.test/reset-password", want: 403},
		{name: "reset unknown staff", as: admin, method: "POST", path: "/v1/staff/nobody@provider.test/reset-password", want: 404},
		{name: "disable staff", as: admin, method: "PATCH", path: "/v1/staff/" + who, body: map[string]any{"disabled": true}, want: 200},
		{name: "disable oneself", as: admin, method: "PATCH", path: "/v1/staff/" + admin, body: map[string]any{"disabled": true}, want: 403},
		{name: "update staff empty", as: admin, method: "PATCH", path: "/v1/staff/" + who, body: map[string]any{}, want: 400},
		{name: "update staff tenant role", as: admin, method: "PATCH", path: "/v1/staff/" + who, body: map[string]any{"roles": []string{"global_admin"}}, want: 400, invalid: true},
		{name: "remove staff", as: admin, method: "DELETE", path: "/v1/staff/" + who, want: 204},
		{name: "remove staff again", as: admin, method: "DELETE", path: "/v1/staff/" + who, want: 404},
		{name: "add tenant user to reset", as: "admin@contoso.test", method: "POST", path: "/v1/tenants/contoso/users",
			body: map[string]any{"email": "reset@contoso.test", "roles": []string{"audit_reader"}}, want: 201},
		{name: "reset tenant user", as: "admin@contoso.test", method: "POST", path: "/v1/tenants/contoso/users/reset@contoso.test/reset-password", want: 200},
		{name: "reset other tenant's user", as: "admin@fabrikam.test", method: "POST", path: "/v1/tenants/contoso/users/reset@contoso.test/reset-password", want: 404},
		{name: "list service accounts", as: admin, method: "GET", path: "/v1/service-accounts", want: 200},
		{name: "rotate service account", as: admin, method: "POST", path: "/v1/service-accounts/exchange-frontend/rotate", body: map[string]string{"grace": "10m"}, want: 200},
		{name: "rotate bad grace", as: admin, method: "POST", path: "/v1/service-accounts/exchange-frontend/rotate", body: map[string]string{"grace": "forever"}, want: 400},
		{name: "rotate too long a grace", as: admin, method: "POST", path: "/v1/service-accounts/exchange-frontend/rotate", body: map[string]string{"grace": "48h"}, want: 400},
		{name: "revoke service account", as: admin, method: "DELETE", path: "/v1/service-accounts/exchange-frontend", want: 204},
		{name: "revoke unknown service account", as: admin, method: "DELETE", path: "/v1/service-accounts/exchange-frontend", want: 404},
	} {
		c.run(t, s)
	}
	login("operator#logout", operator, approval.DevPassword, 200)
	c.run(t, step{name: "logout", as: "operator#logout", method: "POST", path: "/v1/auth/logout", want: 204})
	c.run(t, step{name: "token after logout", as: "operator#logout", method: "GET", path: "/v1/me", want: 401})
}

// TestPasswordSprayIsThrottled: one password tried against 100 accounts
// from one client meets 429 rate_limited with Retry-After long before the
// end, although no single account saw more than one failure; another
// client still signs in (SPEC §10.1).
func TestPasswordSprayIsThrottled(t *testing.T) {
	t.Parallel()
	m := newMatrix(t)
	admin := m.ctxOf("admin@provider.test")
	for i := range 100 {
		in := lockbox.NewUser{Email: fmt.Sprintf("sprayed%d@provider.test", i), Roles: []lockbox.Role{lockbox.RoleOperator}, Password: "long-enough-1"}
		if _, err := m.svc.AddStaff(admin, in); err != nil {
			t.Fatal(err)
		}
	}
	login := func(email, password, from string) *httptest.ResponseRecorder {
		body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
		req := httptest.NewRequest("POST", "/v1/auth/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = from
		rec := httptest.NewRecorder()
		m.handler.ServeHTTP(rec, req)
		return rec
	}
	limited := -1
	for i := range 100 {
		rec := login(fmt.Sprintf("sprayed%d@provider.test", i), "Spring2026!!", "198.51.100.7:4000")
		if rec.Code == http.StatusTooManyRequests {
			limited = i
			if ra := rec.Header().Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("429 without a useful Retry-After: %q", ra)
			}
			if !strings.Contains(rec.Body.String(), `"rate_limited"`) {
				t.Errorf("429 body: %s", rec.Body)
			}
			break
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("attempt %d: %d %s", i, rec.Code, rec.Body)
		}
	}
	if limited < 0 {
		t.Fatal("100 failed sign-ins over 100 accounts from one client were never throttled")
	}
	t.Logf("throttled at attempt %d", limited+1)
	// The right password from the same client is refused too (the client is
	// throttled, whatever it sends); from another client it works.
	if rec := login("sprayed1@provider.test", "long-enough-1", "198.51.100.7:4000"); rec.Code != http.StatusTooManyRequests {
		t.Errorf("the throttled client, right password: %d", rec.Code)
	}
	if rec := login("sprayed1@provider.test", "long-enough-1", "203.0.113.9:4000"); rec.Code != http.StatusOK {
		t.Errorf("another client: %d %s", rec.Code, rec.Body)
	}
}
