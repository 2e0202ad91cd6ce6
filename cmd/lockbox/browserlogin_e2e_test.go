package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox/client"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
)

// browser plays a person's web browser against the admin center: it keeps
// cookies, sends what a browser sends with a same-origin form, and lets
// the test follow each redirect itself.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newBrowser(t *testing.T, base string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, target string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.base + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, target, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", b.base)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res, string(raw)
}

// formValue is the value of the form field name on a page.
func formValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no field %s on the page:\n%s", name, page)
	}
	return html.UnescapeString(m[1])
}

// signIn walks the admin center's sign-in from target (a page behind it):
// the redirect to /signin, the password, then the passkey step signed by
// a; it returns where the sign-in sends the browser back to.
func (b *browser) signIn(target, email string, a *passkeytest.Authenticator) string {
	b.t.Helper()
	res, _ := b.do(http.MethodGet, target, nil)
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || loc.Path != "/signin" {
		b.t.Fatalf("GET %s anonymously: %d to %s, want the sign-in", target, res.StatusCode, loc)
	}
	next := loc.Query().Get("next")
	res, page := b.do(http.MethodPost, "/signin", url.Values{"email": {email}, "password": {"lockbox-dev"}, "next": {next}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Confirm with your passkey") {
		b.t.Fatalf("password: %d, want the passkey step\n%s", res.StatusCode, page)
	}
	opts := regexp.MustCompile(`data-options="([^"]*)"`).FindStringSubmatch(page)
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if opts == nil || json.Unmarshal([]byte(html.UnescapeString(opts[1])), &o) != nil {
		b.t.Fatalf("no WebAuthn options on the passkey step:\n%s", page)
	}
	raw, err := base64.RawURLEncoding.DecodeString(o.PublicKey.Challenge)
	if err != nil {
		b.t.Fatal(err)
	}
	as := a.Assert(raw)
	res, page = b.do(http.MethodPost, "/signin/passkey", url.Values{"challenge": {formValue(b.t, page, "challenge")},
		"next": {formValue(b.t, page, "next")}, "passkey_credential_id": {as.CredentialID},
		"passkey_authenticator_data": {as.AuthenticatorData}, "passkey_client_data_json": {as.ClientDataJSON},
		"passkey_signature": {as.Signature}})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("passkey step: %d\n%s", res.StatusCode, page)
	}
	return res.Header.Get("Location")
}

// TestBrowserLoginWithPasskey: an account with a passkey, refused by the
// password-only `lockbox login`, signs the CLI in with `lockbox login
// --browser`: the person signs in to the admin center with password and
// passkey, confirms, and the CLI saves a working token of that account.
// Nothing reaches the CLI until the person confirms.
func TestBrowserLoginWithPasskey(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	ctx := context.Background()
	port := strings.TrimPrefix(srv.url, "http://127.0.0.1:")
	// The relying party of a server without --external-url is localhost:
	// the person opens the admin center there, and so does the CLI.
	base := "http://localhost:" + port
	sess, err := client.New(srv.url, "").Login(ctx, "approver@contoso.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	a := registerPasskey(t, client.New(srv.url, sess.Token), srv.url, "yubikey")

	cli := &e2e{t: t, url: base, config: t.TempDir()}
	cli.wantFail(1, "lockbox login --browser", "login", "--server", base, "--email", "approver@contoso.test")
	cli.wantFail(2, "--browser signs you in as whoever", "login", "--server", base, "--browser", "--email", "approver@contoso.test")

	var out, errb syncBuffer
	done, opened := startBrowserLogin(t, cli, base, &out, &errb)

	b := newBrowser(t, base)
	back := b.signIn(opened, "approver@contoso.test", a)
	if back != strings.TrimPrefix(opened, base) {
		t.Fatalf("the sign-in returned to %s, want %s", back, strings.TrimPrefix(opened, base))
	}
	res, page := b.do(http.MethodGet, back, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "Sign in to the Lockbox command line as") ||
		!strings.Contains(page, "approver@contoso.test") || res.Header.Get("Refresh") != "" {
		t.Fatalf("GET the page the CLI opened: %d (Refresh %q), want the confirmation\n%s", res.StatusCode, res.Header.Get("Refresh"), page)
	}
	// Seeing the page hands nothing off: the CLI still waits.
	time.Sleep(100 * time.Millisecond)
	select {
	case code := <-done:
		t.Fatalf("the CLI finished (%d) before the person confirmed:\n%s\n%s", code, out.String(), errb.String())
	default:
	}

	res, page = b.do(http.MethodPost, "/cli-login", url.Values{"redirect_uri": {formValue(t, page, "redirect_uri")},
		"state": {formValue(t, page, "state")}, "code_challenge": {formValue(t, page, "code_challenge")}})
	loop := strings.TrimPrefix(res.Header.Get("Refresh"), "0; url=")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(loop, "http://127.0.0.1:") {
		t.Fatalf("Allow: %d, Refresh %q, want a refresh to the CLI's loopback\n%s", res.StatusCode, res.Header.Get("Refresh"), page)
	}
	res, page = b.do(http.MethodGet, loop, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "signed in") {
		t.Errorf("loopback page: %d %s", res.StatusCode, page)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(out.String(), "as approver@contoso.test through the browser") {
			t.Fatalf("login --browser: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("login --browser did not finish after the loopback got its code")
	}
	if got := cli.mustRun("whoami"); !strings.Contains(got, "approver@contoso.test") {
		t.Errorf("whoami after login --browser: %s", got)
	}
	cli.mustRun("requests", "list")
}

// startBrowserLogin runs lockbox login --browser as cli against base (no
// browser opened) and returns its exit code's channel and the address it
// asked the person to open, checked to be the confirmation page.
func startBrowserLogin(t *testing.T, cli *e2e, base string, out, errb *syncBuffer) (<-chan int, string) {
	t.Helper()
	done := make(chan int, 1)
	go func() {
		done <- cli.runEnv(map[string]string{"LOCKBOX_NO_BROWSER": "1"}, out, errb,
			"login", "--browser", "--sso-timeout", "1m", "--server", base)
	}()
	var opened string
	for opened == "" {
		select {
		case code := <-done:
			t.Fatalf("login --browser ended (%d) before printing an address:\n%s\n%s", code, out.String(), errb.String())
		case <-time.After(20 * time.Millisecond):
		}
		if m := authURLRE.FindStringSubmatch(errb.String()); m != nil {
			opened = m[1]
		}
	}
	if !strings.HasPrefix(opened, base+"/cli-login?") {
		t.Fatalf("the CLI opened %s, want %s/cli-login?…", opened, base)
	}
	return done, opened
}

// TestBrowserLoginCanceled: Cancel on the confirmation page tells the
// waiting CLI at once (a loopback redirect with error=access_denied),
// which stops with a clear error and saves nothing, instead of waiting
// for its timeout.
func TestBrowserLoginCanceled(t *testing.T) {
	t.Parallel()
	srv := startE2E(t)
	base := "http://localhost:" + strings.TrimPrefix(srv.url, "http://127.0.0.1:")
	sess, err := client.New(srv.url, "").Login(context.Background(), "approver@contoso.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	a := registerPasskey(t, client.New(srv.url, sess.Token), srv.url, "yubikey")
	cli := &e2e{t: t, url: base, config: t.TempDir()}
	var out, errb syncBuffer
	done, opened := startBrowserLogin(t, cli, base, &out, &errb)

	b := newBrowser(t, base)
	_, page := b.do(http.MethodGet, b.signIn(opened, "approver@contoso.test", a), nil)
	res, page := b.do(http.MethodPost, "/cli-login", url.Values{"redirect_uri": {formValue(t, page, "redirect_uri")},
		"state": {formValue(t, page, "state")}, "code_challenge": {formValue(t, page, "code_challenge")}, "decline": {"1"}})
	loop, err := url.Parse(strings.TrimPrefix(res.Header.Get("Refresh"), "0; url="))
	if err != nil || res.StatusCode != http.StatusOK || loop.Host == "" || loop.Query().Get("error") != "access_denied" || loop.Query().Has("code") {
		t.Fatalf("Cancel: %d, Refresh %q, want a refresh to the loopback with error=access_denied and no code\n%s", res.StatusCode, res.Header.Get("Refresh"), page)
	}
	b.do(http.MethodGet, loop.String(), nil)
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errb.String(), "canceled in the browser") {
			t.Fatalf("login --browser after Cancel: exit %d\n%s\n%s", code, out.String(), errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("login --browser still waits after Cancel")
	}
	cli.wantFail(1, "", "whoami")
}
