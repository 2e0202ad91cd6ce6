package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestServeMountsWebAndAPI: one listener serves the JSON API at its
// prefixes and the admin center everywhere else; a browser session cookie
// is worthless to the API, which takes bearer tokens only.
func TestServeMountsWebAndAPI(t *testing.T) {
	t.Parallel()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true,
		WorkerPoll: time.Second, PasswordMemoryKiB: 64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rs.Close(ctx)
	})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, rs.URL()+path, nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for _, tc := range []struct {
		path, contentType string
		status            int
	}{
		{"/healthz", "application/json", 200},
		{"/v1/me", "application/problem+json", 401},
		{"/v1/nope", "application/problem+json", 404},
		{"/signin", "text/html; charset=utf-8", 200},
		{"/static/style.css", "text/css; charset=utf-8", 200},
		{"/requests", "text/html; charset=utf-8", 303},
		{"/nope", "text/html; charset=utf-8", 404},
	} {
		res := get(tc.path, nil)
		if res.StatusCode != tc.status || !strings.HasPrefix(res.Header.Get("Content-Type"), tc.contentType) {
			t.Errorf("GET %s: %d %s, want %d %s", tc.path, res.StatusCode, res.Header.Get("Content-Type"), tc.status, tc.contentType)
		}
	}

	// Sign in to the web (same-origin form post), then offer the cookie to the API.
	form := url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}}
	req, _ := http.NewRequest(http.MethodPost, rs.URL()+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "lockbox_session" {
			session = c
		}
	}
	if res.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("web sign-in: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	if res := get("/requests", session); res.StatusCode != http.StatusOK {
		t.Errorf("web page with the session: %d", res.StatusCode)
	}
	res = get("/v1/me", session)
	var problem struct{ Code string }
	json.NewDecoder(res.Body).Decode(&problem)
	if res.StatusCode != http.StatusUnauthorized || problem.Code != "unauthenticated" {
		t.Errorf("API with a session cookie: %d %q, want 401 unauthenticated", res.StatusCode, problem.Code)
	}
}

// TestWebTokenAndDevMail: the admin center on the real server hands the
// operator a signed grant for their active request, and shows the mail
// the dev server captured.
func TestWebTokenAndDevMail(t *testing.T) {
	t.Parallel()
	rs, err := startServer(context.Background(), serverConfig{Listen: "127.0.0.1:0", Dev: true,
		WorkerPoll: 50 * time.Millisecond, PasswordMemoryKiB: 64}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rs.Close(ctx)
	})
	as := func(email string) context.Context {
		var u *lockbox.User
		err := rs.store.View(context.Background(), func(tx lockbox.Tx) (err error) {
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
			t.Fatal(err)
		}
		return lockbox.NewContextWithUser(context.Background(), u)
	}
	r, err := rs.service.CreateRequest(as("operator@provider.test"), lockbox.NewRequest{Tenant: "contoso",
		Service: "exchange", ServiceRequest: "SR-7", Reason: "Mailbox fails to load.", DurationMinutes: 60})
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		who string
		ev  lockbox.Event
	}{{"manager@provider.test", lockbox.EventReviewApprove}, {"approver@contoso.test", lockbox.EventApprove}} {
		if _, err := rs.service.Act(as(step.who), r.ID, step.ev, lockbox.Decision{}); err != nil {
			t.Fatal(err)
		}
	}
	op := webSignIn(t, rs.URL(), "operator@provider.test")
	body := webDo(t, rs.URL(), http.MethodPost, "/requests/"+r.Reference+"/token", op, http.StatusOK)
	token := regexp.MustCompile(`<textarea id="token"[^>]*>([^<]+)</textarea>`).FindStringSubmatch(body)
	if token == nil || strings.Count(token[1], ".") != 2 {
		t.Fatalf("no JWT on the token page:\n%s", body)
	}
	// The approvers' notification was captured: deliveries are asynchronous.
	approver := webSignIn(t, rs.URL(), "approver@contoso.test")
	deadline := time.Now().Add(10 * time.Second)
	for {
		body = webDo(t, rs.URL(), http.MethodGet, "/dev/mail", approver, http.StatusOK)
		if strings.Contains(body, r.Reference) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(body, r.Reference) || strings.Contains(body, `id="devmail-missing"`) {
		t.Errorf("/dev/mail does not show the notification about %s:\n%s", r.Reference, body)
	}
}

// webSignIn signs in through the sign-in form and returns the cookie.
func webSignIn(t *testing.T, base, email string) *http.Cookie {
	t.Helper()
	form := url.Values{"email": {email}, "password": {approval.DevPassword}}
	req, _ := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == "lockbox_session" {
			return c
		}
	}
	t.Fatalf("sign in as %s: %d, no session cookie", email, res.StatusCode)
	return nil
}

// webDo sends a same-origin request with the session and returns the page.
func webDo(t *testing.T, base, method, path string, session *http.Cookie, want int) string {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, nil)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.AddCookie(session)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d\n%s", method, path, res.StatusCode, want, b)
	}
	return string(b)
}

func TestCheckWebConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    webConfig
		ok   bool
	}{
		{"Defaults", webConfig{IdleTimeout: 30 * time.Minute, MaxSession: 12 * time.Hour}, true},
		{"IdleLongerThanMax", webConfig{IdleTimeout: 13 * time.Hour, MaxSession: 12 * time.Hour}, false},
		{"TooShort", webConfig{IdleTimeout: time.Second, MaxSession: 12 * time.Hour}, false},
		{"HTTPSURL", webConfig{IdleTimeout: time.Hour, MaxSession: 2 * time.Hour, ExternalURL: "https://lockbox.example.com"}, true},
		{"NotAURL", webConfig{IdleTimeout: time.Hour, MaxSession: 2 * time.Hour, ExternalURL: "lockbox.example.com"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := checkWebConfig(tc.c); (err == nil) != tc.ok {
				t.Errorf("checkWebConfig = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
