package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/web"
)

// newCLILoginEnv is the admin center with the SSO service, which hands
// sessions off to the CLI (no IdP needed).
func newCLILoginEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t, func(c *web.Config) {
		svc := c.Requests.(*approval.Service)
		c.SSO = svc.SSO(c.Sessions.(*approval.WebSessions), "http://example.com/auth/callback")
	})
}

const cliRedirect = "http://127.0.0.1:49152/callback"

// cliQuery is what lockbox login --browser puts in the address it opens,
// with the verifier only it knows.
func cliQuery(state string) (q url.Values, verifier string) {
	verifier = base64.RawURLEncoding.EncodeToString([]byte(state + "-a-verifier-of-at-least-43-characters"))
	sum := sha256.Sum256([]byte(verifier))
	return url.Values{"redirect_uri": {cliRedirect}, "state": {state},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}}, verifier
}

// TestCLILogin: a signed-in person confirms, and the browser is sent to
// the CLI's loopback with a code that redeems, with the CLI's verifier,
// for a token of that person; an anonymous visitor signs in first and
// comes back to the same page; nothing is handed off without the POST,
// from another site, or to a redirect that is not loopback.
func TestCLILogin(t *testing.T) {
	t.Parallel()
	e := newCLILoginEnv(t)

	t.Run("SignedInAllows", func(t *testing.T) {
		t.Parallel()
		q, verifier := cliQuery("state-allow")
		c := e.signIn("approver@contoso.test")
		res := c.get("/cli-login?" + q.Encode())
		wantStatus(t, res, http.StatusOK)
		wantBody(t, res, "Sign in to the Lockbox command line as", "approver@contoso.test",
			"lockbox login --browser", `id="allow"`, `value="state-allow"`, `id="cancel"`)
		res = c.post("/cli-login", q)
		wantStatus(t, res, http.StatusOK)
		to := strings.TrimPrefix(res.Header.Get("Refresh"), "0; url=")
		wantBody(t, res, `id="continue-cli"`)
		back, err := url.Parse(to)
		if err != nil || back.Scheme+"://"+back.Host+back.Path != cliRedirect || back.Query().Get("state") != "state-allow" {
			t.Fatalf("Refresh %q, want the loopback %s with the state", res.Header.Get("Refresh"), cliRedirect)
		}
		s, err := e.cfg.SSO.RedeemCLICode(context.Background(), back.Query().Get("code"), verifier)
		if err != nil {
			t.Fatalf("redeem the code: %v", err)
		}
		u, err := e.svc.Authenticate(context.Background(), s.Token)
		if err != nil || u.Email != "approver@contoso.test" {
			t.Fatalf("the CLI token is %v's (%v), want approver@contoso.test's", u, err)
		}
	})

	t.Run("AnonymousSignsInFirst", func(t *testing.T) {
		t.Parallel()
		q, _ := cliQuery("state-anonymous")
		page := "/cli-login?" + q.Encode()
		c := e.client()
		res := c.get(page)
		wantRedirect(t, res, "/signin?next="+url.QueryEscape(page))
		next, _ := url.Parse(res.Header.Get("Location"))
		res = c.get(res.Header.Get("Location"))
		wantBody(t, res, `name="next" value="`+strings.ReplaceAll(page, "&", "&amp;")+`"`)
		res = c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword},
			"next": {next.Query().Get("next")}})
		if got := res.Header.Get("Location"); got != page {
			t.Fatalf("the sign-in returns to %q, want %q", got, page)
		}
		wantBody(t, c.get(page), "Sign in to the Lockbox command line as", `value="state-anonymous"`)
	})

	t.Run("Refused", func(t *testing.T) {
		t.Parallel()
		c := e.signIn("auditor@contoso.test")
		good, _ := cliQuery("state-refused")
		with := func(k, v string) url.Values {
			q := url.Values{}
			for name, vs := range good {
				q[name] = vs
			}
			q.Set(k, v)
			return q
		}
		for _, tc := range []struct {
			name string
			form url.Values
			want string
		}{
			{"Elsewhere", with("redirect_uri", "https://evil.example/cb"), "redirect_uri must be a loopback URL"},
			{"LocalhostName", with("redirect_uri", "http://localhost:49152/callback"), "redirect_uri must be on 127.0.0.1"},
			{"BadState", with("state", "x"), "state must be"},
			{"BadChallenge", with("code_challenge", "plain"), "code_challenge must be"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				res := c.post("/cli-login", tc.form)
				wantStatus(t, res, http.StatusBadRequest)
				wantBody(t, res, tc.want, "Run lockbox login --browser again")
				if r := res.Header.Get("Refresh"); r != "" || strings.Contains(res.body, `id="continue-cli"`) {
					t.Errorf("refused, yet sent on to %q", r)
				}
			})
		}
		// Opened without the CLI's values: nothing to allow.
		res := c.get("/cli-login")
		wantStatus(t, res, http.StatusBadRequest)
		wantBody(t, res, "Run that command again")
		if strings.Contains(res.body, `id="allow"`) {
			t.Error("the page offers to allow without a redirect_uri")
		}
		// Another site's form cannot confirm for the person.
		req, _ := http.NewRequest(http.MethodPost, "/cli-login", strings.NewReader(good.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		res = c.do(req)
		wantStatus(t, res, http.StatusForbidden)
		if r := res.Header.Get("Refresh"); r != "" {
			t.Errorf("a cross-site post was sent on to %q", r)
		}
	})

	t.Run("OneTimePasswordFirst", func(t *testing.T) {
		t.Parallel()
		nu, err := e.svc.AddTenantUser(e.as("admin@contoso.test"), "contoso", lockbox.NewUser{Email: "new@contoso.test",
			Roles: []lockbox.Role{lockbox.RoleAuditReader}})
		if err != nil {
			t.Fatal(err)
		}
		c := e.client()
		wantRedirect(t, c.post("/signin", url.Values{"email": {"new@contoso.test"}, "password": {nu.InitialPassword}}), "/")
		q, _ := cliQuery("state-otp")
		wantRedirect(t, c.get("/cli-login?"+q.Encode()), "/account")
		res := c.post("/cli-login", q)
		wantRedirect(t, res, "/account")
	})
}
