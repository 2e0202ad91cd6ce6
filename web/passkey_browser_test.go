package web_test

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/passkey"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestBrowserPasskeys: in Chromium with the DevTools virtual authenticator
// (a platform authenticator with user verification), an approver of a
// tenant that requires signed decisions registers a passkey on the Account
// page and approves a request; the approval's audit record carries the
// signed statement, and the grant is issued; a denial through the web is
// signed the same way.
func TestBrowserPasskeys(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	dir := artifactsDir(t)
	e, base := passkeyEnv(t)
	s := &suite{e: e, browser: b, base: base, dir: dir}

	p := s.person(t)
	p.withAuthenticator()
	p.signIn("approver@contoso.test")
	p.open("/account", "#add-passkey")
	if !p.present("#no-passkeys") {
		t.Fatal("a new account lists passkeys")
	}
	p.do(chromedp.SetValue(chromedp.CSS("#passkey-name"), "Virtual key"))
	p.click("#add-passkey-button", "#passkey-list")
	p.shot("passkey-registered")
	if got := p.text("#passkey-list"); !strings.Contains(got, "Virtual key") {
		t.Fatalf("passkey list: %q", got)
	}
	keys, err := e.svc.ListPasskeys(e.as("approver@contoso.test"))
	if err != nil || len(keys) != 1 {
		t.Fatalf("stored passkeys: %v %v", keys, err)
	}

	on := true
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireSignedDecisions: &on}); err != nil {
		t.Fatal(err)
	}
	r := e.pending()
	p.open("/requests/"+r.Reference+"/approve", "#sign-notice")
	// The confirmation page has a #status too: wait for the request's
	// page after the ceremony and the post, which says it went through.
	p.click("#confirm", ".notice.ok")
	p.shot("passkey-signed-approval")
	if got := e.get(r.ID); got.Status != lockbox.StatusActive {
		t.Fatalf("after the signed approval the request is %s", got.Status)
	}
	var signed bool
	recs := storetest.MustAuditRecords(t, e.store, "contoso", 0, storetest.MustAuditSize(t, e.store, "contoso"))
	for _, rec := range recs {
		if rec.Operation == lockbox.OpRequestApproved && rec.RequestID == r.ID {
			_, signed = rec.AuditData["signed_decision"].(map[string]any)
		}
	}
	if !signed {
		t.Fatal("the approval's audit record has no signed_decision")
	}

	t.Run("SignedDenial", func(t *testing.T) {
		// A denial is a decision too: the web's deny form performs the same
		// ceremony, and the record carries the signed statement of a deny.
		p := &person{t: t, ctx: p.ctx, base: p.base, dir: p.dir}
		r := e.pending()
		p.open("/requests/"+r.Reference+"/deny", "#sign-notice")
		p.do(chromedp.SendKeys(chromedp.CSS("#comment"), "Not during the freeze"))
		// The confirmation page has a #status too: wait for the request's
		// page, which says the decision was recorded.
		p.click("#confirm", ".notice.ok")
		p.shot("passkey-signed-denial")
		if got := p.text("#status"); !strings.Contains(got, "Denied") {
			t.Errorf("after the signed denial the page shows %q", got)
		}
		if got := e.get(r.ID); got.Status != lockbox.StatusDenied {
			t.Fatalf("after the signed denial the request is %s", got.Status)
		}
		var statement *lockbox.DecisionStatement
		recs := storetest.MustAuditRecords(t, e.store, "contoso", 0, storetest.MustAuditSize(t, e.store, "contoso"))
		for _, rec := range recs {
			if rec.Operation == lockbox.OpRequestDenied && rec.RequestID == r.ID {
				sd, _ := rec.AuditData["signed_decision"].(map[string]any)
				if canon, ok := sd["statement"].(string); ok {
					if err := json.Unmarshal([]byte(canon), &statement); err != nil {
						t.Fatalf("signed statement %q: %v", canon, err)
					}
				}
			}
		}
		if statement == nil {
			t.Fatal("the denial's audit record has no signed_decision")
		}
		if statement.Decision != string(lockbox.EventDeny) || statement.RequestID != r.ID || statement.DecidedBy != "approver@contoso.test" {
			t.Errorf("the signed statement is not approver@contoso.test's deny of %s: %+v", r.ID, statement)
		}
	})

	// Second factor: with a passkey the password alone no longer signs in;
	// the passkey step does, with the same virtual authenticator.
	p.click("form[action='/signout'] button", "#email")
	p.do(chromedp.SendKeys(chromedp.CSS("#email"), "approver@contoso.test"),
		chromedp.SendKeys(chromedp.CSS("#password"), approval.DevPassword))
	p.click("#signin", "#signin-passkey-button")
	p.shot("passkey-sign-in-step")
	if p.present("nav.side") {
		t.Fatal("the password alone signed in an account with a passkey")
	}
	p.click("#signin-passkey-button", "nav.side")
	p.shot("passkey-signed-in")
	keys, err = e.svc.ListPasskeys(e.as("approver@contoso.test"))
	if err != nil || len(keys) != 1 || keys[0].LastUsedAt == nil {
		t.Fatalf("the passkey's use was not recorded: %v %v", keys, err)
	}
}

// withAuthenticator gives p's tab Chromium's virtual authenticator.
func (p *person) withAuthenticator() {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		p.t.Fatalf("WebAuthn.enable: %v", err)
	}
	_, err := chromedp.Call(p.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
			Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		p.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
}

// passkeyEnv is an env with passkeys whose admin center listens at
// localhost, and its URL: WebAuthn refuses IP addresses as relying
// parties, so the browser opens the server as localhost.
func passkeyEnv(t *testing.T) (*env, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")
	rp, err := passkey.New(base, "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, approval.Options{Passkeys: rp})
	srv := &http.Server{Handler: e.h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return e, base
}
