package web_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
	"github.com/lockboxhq/lockbox/web"
)

// env is the admin center on the real workflow service, a real SQLite
// database in a temporary directory (seeded with the dev accounts) and the
// real audit log service.
type env struct {
	t     testing.TB
	store *sqlite.Store
	svc   *approval.Service
	cfg   web.Config
	h     *web.Handler
}

func newEnv(t testing.TB, tune ...func(*web.Config)) *env {
	t.Helper()
	return newEnvWith(t, approval.Options{}, tune...)
}

// newEnvWith is newEnv with the workflow's options (cheap hashing added).
func newEnvWith(t testing.TB, opts approval.Options, tune ...func(*web.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlitetest.Path(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// Cheap password hashing: tests sign in a lot.
	opts.PasswordMemoryKiB, opts.PasswordTime = 64, 1
	if opts.Secrets == nil { // webhook secrets are sealed
		opts.Secrets = lockboxtest.SecretBox(t)
	}
	if opts.Resolver == nil { // webhook hosts are resolved, never on the network
		opts.Resolver = lockboxtest.DNS
	}
	svc := approval.New(st, lockbox.SystemClock{}, opts)
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "lockbox-test-log")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := web.Config{Requests: svc, Accounts: svc, Tenants: svc, Catalog: svc, Policies: svc, Webhooks: svc,
		Sessions: svc.WebSessions(approval.WebSessionOptions{}),
		Audit:    auditlog.New(st, signer, vkey, "lockbox-test"), Grants: svc, Dev: true}
	if opts.Passkeys != nil {
		cfg.Passkeys = svc
	}
	for _, f := range tune {
		f(&cfg)
	}
	h, err := web.New(cfg)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	return &env{t: t, store: st, svc: svc, cfg: cfg, h: h}
}

// as returns a context acting as the account with email, for setting up
// state through the service.
func (e *env) as(email string) context.Context {
	e.t.Helper()
	var u *lockbox.User
	err := e.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
		// Test accounts have one account per address.
		var users []*lockbox.User
		users, _, err = tx.UsersByEmail(context.Background(), email)
		if err == nil && len(users) != 1 {
			err = lockbox.Errorf(lockbox.ENOTFOUND, "%d accounts with %s", len(users), email)
		}
		if err == nil {
			u = users[0]
		}
		return err
	})
	if err != nil {
		e.t.Fatalf("user %s: %v", email, err)
	}
	return lockbox.NewContextWithUser(context.Background(), u)
}

func newRequest() lockbox.NewRequest {
	return lockbox.NewRequest{Tenant: "contoso", Service: "exchange", ServiceRequest: "SR-2026-004211",
		Reason: "Mailbox fails to load; need folder statistics.", Operations: []string{"Get-MailboxStatistics"},
		DurationMinutes: 120}
}

// file files a request as the operator.
func (e *env) file() *lockbox.AccessRequest {
	e.t.Helper()
	r, err := e.svc.CreateRequest(e.as("operator@provider.test"), newRequest())
	if err != nil {
		e.t.Fatalf("create: %v", err)
	}
	return r
}

// pending files a request and has the manager pass it to the tenant.
func (e *env) pending() *lockbox.AccessRequest {
	e.t.Helper()
	r, err := e.svc.Act(e.as("manager@provider.test"), e.file().ID, lockbox.EventReviewApprove, lockbox.Decision{})
	if err != nil {
		e.t.Fatalf("review: %v", err)
	}
	return r
}

func (e *env) get(id string) *lockbox.AccessRequest {
	e.t.Helper()
	r, err := e.svc.GetRequest(e.as("manager@provider.test"), id)
	if err != nil {
		e.t.Fatalf("get %s: %v", id, err)
	}
	return r
}

// client is a browser stand-in that calls the handler directly (no
// listener, so it works inside synctest bubbles), keeping cookies and
// sending the fetch metadata a browser sends for same-origin forms.
type client struct {
	t       testing.TB
	h       http.Handler
	cookies map[string]*http.Cookie
	tls     bool
}

func (e *env) client() *client {
	return &client{t: e.t, h: e.h, cookies: map[string]*http.Cookie{}}
}

// response is what a page answered.
type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) *response {
	c.t.Helper()
	for _, ck := range c.cookies {
		req.AddCookie(ck)
	}
	if c.tls {
		req.TLS = &tls.ConnectionState{}
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 {
			delete(c.cookies, ck.Name)
		} else {
			c.cookies[ck.Name] = &http.Cookie{Name: ck.Name, Value: ck.Value}
		}
	}
	b, _ := io.ReadAll(res.Body)
	return &response{Response: res, body: string(b)}
}

func (c *client) get(path string) *response {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// post submits a form as a same-origin page would.
func (c *client) post(path string, form url.Values) *response {
	c.t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", "http://example.com") // httptest's Host
	return c.do(req)
}

// signIn returns a client signed in as email.
func (e *env) signIn(email string) *client {
	e.t.Helper()
	c := e.client()
	res := c.post("/signin", url.Values{"email": {email}, "password": {approval.DevPassword}})
	if res.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d\n%s", email, res.StatusCode, res.body)
	}
	return c
}

func wantStatus(t testing.TB, res *response, want int) {
	t.Helper()
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%s", res.Request.Method, res.Request.URL, res.StatusCode, want, excerpt(res.body))
	}
}

func wantRedirect(t testing.TB, res *response, prefix string) {
	t.Helper()
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), prefix) {
		t.Fatalf("%s %s: %d to %q, want 303 to %s…\n%s", res.Request.Method, res.Request.URL, res.StatusCode,
			res.Header.Get("Location"), prefix, excerpt(res.body))
	}
}

func wantBody(t testing.TB, res *response, substrings ...string) {
	t.Helper()
	for _, s := range substrings {
		if !strings.Contains(res.body, s) {
			t.Errorf("%s %s: page lacks %q\n%s", res.Request.Method, res.Request.URL, s, excerpt(res.body))
		}
	}
}

var tagsRE = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]+>`)
var spaceRE = regexp.MustCompile(`\s+`)

// excerpt is a page's text without tags, for readable failures.
func excerpt(body string) string {
	s := spaceRE.ReplaceAllString(tagsRE.ReplaceAllString(body, " "), " ")
	if len(s) > 1500 {
		s = s[:1500] + "…"
	}
	return s
}
