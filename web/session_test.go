package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/web"
)

// TestSecurityHeaders: every response — pages, errors, assets, redirects —
// carries the CSP and the framing, referrer and sniffing headers.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	anon, approver := e.client(), e.signIn("approver@contoso.test")
	want := map[string]string{
		"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "no-referrer",
		"X-Content-Type-Options":  "nosniff",
	}
	for _, tc := range []struct {
		name string
		c    *client
		path string
	}{
		{"SignIn", anon, "/signin"},
		{"RedirectToSignIn", anon, "/requests"},
		{"Page", approver, "/requests"},
		{"NotFound", approver, "/no/such/page"},
		{"Stylesheet", anon, "/static/style.css"},
		{"Script", anon, "/static/app.js"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.c.get(tc.path)
			got := map[string]string{}
			for k := range want {
				got[k] = res.Header.Get(k)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSessionCookie: HttpOnly, SameSite=Lax, Path=/; over TLS (or behind an
// https external URL) also Secure with the __Host- prefix.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		tls        bool
		externURL  string
		wantName   string
		wantSecure bool
	}{
		{"PlainHTTP", false, "", "lockbox_session", false},
		{"TLS", true, "", "__Host-lockbox_session", true},
		{"BehindHTTPSProxy", false, "https://lockbox.example.com", "__Host-lockbox_session", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(c *web.Config) { c.ExternalURL = tc.externURL })
			c := e.client()
			c.tls = tc.tls
			res := c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}})
			wantRedirect(t, res, "/")
			cookies := res.Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies = %v, want one", cookies)
			}
			ck := cookies[0]
			if ck.Name != tc.wantName || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" ||
				ck.Secure != tc.wantSecure || ck.Domain != "" || len(ck.Value) < 40 {
				t.Errorf("cookie = %+v", ck)
			}
			if strings.Contains(res.Header.Get("Set-Cookie"), approval.DevPassword) {
				t.Error("the password leaked into the cookie")
			}
			wantStatus(t, c.get("/requests"), http.StatusOK)
		})
	}
}

func TestSignInRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name, email, password string
	}{
		{"WrongPassword", "approver@contoso.test", "wrong"},
		{"UnknownAccount", "nobody@contoso.test", approval.DevPassword},
		{"ServiceAccount", "dev-service", approval.DevServiceToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			res := c.post("/signin", url.Values{"email": {tc.email}, "password": {tc.password}})
			wantStatus(t, res, http.StatusUnauthorized)
			wantBody(t, res, "Wrong email or password.")
			if len(res.Cookies()) != 0 {
				t.Errorf("cookies set on a refused sign-in: %v", res.Cookies())
			}
		})
	}
}

// TestSignInPerIPLimit: one address cannot try passwords without bound,
// whatever accounts it names; a correct password is refused too once the
// address is over the service's limit (the same limit the API has).
func TestSignInPerIPLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := e.client()
		for i := range 30 { // approval.Options' default ClientLoginBurst
			res := c.post("/signin", url.Values{"email": {fmt.Sprintf("user%d@contoso.test", i)}, "password": {"x"}})
			wantStatus(t, res, http.StatusUnauthorized)
		}
		res := c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}})
		wantStatus(t, res, http.StatusTooManyRequests)
		wantBody(t, res, "Too many failed sign-ins from your address")
		time.Sleep(10 * time.Second)
		wantRedirect(t, c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}}), "/")
	})
}

// TestSignInNext: after sign-in the person lands where they were going,
// but never on another site.
func TestSignInNext(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct{ next, want string }{
		{"/requests/LB-AAAAAAAA", "/requests/LB-AAAAAAAA"},
		{"//evil.example/phish", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
		{"", "/"},
	} {
		t.Run(tc.next, func(t *testing.T) {
			res := e.client().post("/signin", url.Values{"email": {"approver@contoso.test"},
				"password": {approval.DevPassword}, "next": {tc.next}})
			if got := res.Header.Get("Location"); got != tc.want {
				t.Errorf("redirect to %q, want %q", got, tc.want)
			}
		})
	}
	// Anonymous visitors are sent to sign in, with the way back.
	res := e.client().get("/requests?status=pending")
	wantRedirect(t, res, "/signin?next="+url.QueryEscape("/requests?status=pending"))
}

// TestSignOutEndsSession: the old cookie is refused after sign-out, even
// when replayed by someone who copied it.
func TestSignOutEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("approver@contoso.test")
	stolen := e.client()
	for k, v := range c.cookies {
		stolen.cookies[k] = v
	}
	wantStatus(t, stolen.get("/requests"), http.StatusOK)
	wantRedirect(t, c.post("/signout", nil), "/signin?signedout=1")
	if len(c.cookies) != 0 {
		t.Errorf("cookie not cleared in the browser: %v", c.cookies)
	}
	wantRedirect(t, stolen.get("/requests"), "/signin")
	res := stolen.post("/requests/LB-AAAAAAAA/approve", url.Values{"version": {"2"}})
	wantRedirect(t, res, "/signin")
}

// TestSignInAgainEndsOldSession: a browser signing in as someone else
// leaves no live session of the first person behind.
func TestSignInAgainEndsOldSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("approver@contoso.test")
	first := c.cookies["lockbox_session"].Value
	wantRedirect(t, c.post("/signin", url.Values{"email": {"auditor@contoso.test"}, "password": {approval.DevPassword}}), "/")
	if c.cookies["lockbox_session"].Value == first {
		t.Fatal("the session token was not renewed")
	}
	old := e.client()
	old.cookies["lockbox_session"] = &http.Cookie{Name: "lockbox_session", Value: first}
	wantRedirect(t, old.get("/requests"), "/signin")
	wantBody(t, c.get("/requests"), "auditor@contoso.test")
}

// TestSessionTimeouts: 30 minutes idle or 12 hours in all end a session;
// activity extends only the idle timeout. Fake time, exact instants.
func TestSessionTimeouts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t)
		c := e.signIn("approver@contoso.test")
		time.Sleep(30*time.Minute - time.Second)
		wantStatus(t, c.get("/requests"), http.StatusOK)
		time.Sleep(30*time.Minute - time.Second) // kept alive by the last page
		wantStatus(t, c.get("/requests"), http.StatusOK)
		time.Sleep(30 * time.Minute)
		wantRedirect(t, c.get("/requests"), "/signin")

		c = e.signIn("approver@contoso.test")
		start := time.Now()
		for time.Since(start) < 12*time.Hour-25*time.Minute {
			time.Sleep(25 * time.Minute)
			wantStatus(t, c.get("/requests"), http.StatusOK)
		}
		time.Sleep(time.Until(start.Add(12 * time.Hour)))
		wantRedirect(t, c.get("/requests"), "/signin")
	})
}

// TestDevClockDoesNotSignOut: moving the dev workflow clock 12 hours ahead
// leaves sessions alone: they run on the wall clock.
func TestDevClockDoesNotSignOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	devClock := lockbox.NewOffsetClock()
	svc := approval.New(e.store, devClock, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1,
		SessionClock: lockbox.SystemClock{}})
	cfg := e.cfg
	cfg.Sessions, cfg.Clock = svc.WebSessions(approval.WebSessionOptions{}), devClock
	h, err := web.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, h: h, cookies: map[string]*http.Cookie{}}
	wantRedirect(t, c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}}), "/")
	devClock.Advance(13 * time.Hour)
	wantStatus(t, c.get("/requests"), http.StatusOK)
}

// TestCrossOriginPostRefused: a form posted from another site is refused
// before it reaches a session or a service, and changes nothing.
func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	c := e.signIn("approver@contoso.test")
	form := url.Values{"version": {"2"}, "comment": {"ok"}}
	for _, tc := range []struct {
		name    string
		headers map[string]string
	}{
		{"SecFetchSiteCrossSite", map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"SecFetchSiteSameSite", map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"OriginMismatch", map[string]string{"Origin": "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/requests/"+r.Reference+"/approve", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			res := c.do(req)
			wantStatus(t, res, http.StatusForbidden)
			wantBody(t, res, "sent from another web site")
		})
	}
	if got := e.get(r.ID); got.Status != lockbox.StatusPending || got.Version != r.Version {
		t.Errorf("after refused posts: %s v%d, want pending v%d", got.Status, got.Version, r.Version)
	}
	// Sign-in and sign-out are state changes too.
	req := httptest.NewRequest(http.MethodPost, "/signout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	wantStatus(t, c.do(req), http.StatusForbidden)
	wantStatus(t, c.get("/requests"), http.StatusOK)
}

func TestPreferencesTimeZone(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.pending()
	c := e.signIn("approver@contoso.test")
	res := c.post("/preferences", url.Values{"zone": {"Mars/Olympus_Mons"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "is not a time zone name")
	wantRedirect(t, c.post("/preferences", url.Values{"zone": {"Asia/Tokyo"}}), "/preferences?saved=1")
	res = c.get("/requests/" + r.Reference)
	created := r.CreatedAt.In(mustZone(t, "Asia/Tokyo")).Format("2 Jan 2006, 15:04 JST")
	wantBody(t, res, created, r.CreatedAt.UTC().Format("15:04 UTC"), r.CreatedAt.UTC().Format(time.RFC3339))
}

func mustZone(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
