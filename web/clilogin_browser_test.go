package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestCLILoginBrowser: in Chromium, Allow reaches the CLI's loopback with
// a code that redeems: the page's CSP (form-action 'self') does not stop
// the hand-off, which is a refreshing page, not a redirect of the form.
func TestCLILoginBrowser(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	e := newCLILoginEnv(t)
	srv := httptest.NewServer(e.h)
	t.Cleanup(srv.Close)
	s := &suite{e: e, browser: b, base: srv.URL, dir: artifactsDir(t)}

	codes := make(chan string, 1)
	loop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" || r.URL.Query().Get("state") != "state-browser" {
			http.Error(w, "not the sign-in the CLI waits for", http.StatusBadRequest)
			return
		}
		select {
		case codes <- r.URL.Query().Get("code"):
		default:
		}
		fmt.Fprint(w, `<!doctype html><title>CLI</title><p id="loopback-done">You are signed in to Lockbox.</p>`)
	}))
	t.Cleanup(loop.Close)

	q, verifier := cliQuery("state-browser")
	q.Set("redirect_uri", loop.URL+"/callback")
	p := s.person(t)
	p.signIn("approver@contoso.test")
	p.open("/cli-login?"+q.Encode(), "#allow")
	if got := p.text("#cli-email"); got != "approver@contoso.test" {
		t.Errorf("the page asks for %q, want approver@contoso.test", got)
	}
	p.shot("cli-login")
	p.click("#allow", "#loopback-done")
	var code string
	select {
	case code = <-codes:
	case <-time.After(10 * time.Second):
		t.Fatal("the loopback got no code")
	}
	sess, err := e.cfg.SSO.RedeemCLICode(context.Background(), code, verifier)
	if err != nil {
		t.Fatalf("redeem: %v", err)
	}
	if u, err := e.svc.Authenticate(context.Background(), sess.Token); err != nil || !strings.EqualFold(u.Email, "approver@contoso.test") {
		t.Fatalf("the CLI token is %v's (%v)", u, err)
	}
}
