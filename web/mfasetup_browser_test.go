package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

// TestBrowserPasskeySetup: in Chromium, a user of a require_mfa tenant
// without a passkey signs in with the password and lands on the Account
// page's passkey section, which says why; every other page sends them
// back there until they add one with the virtual authenticator, and then
// the same session opens everything.
func TestBrowserPasskeySetup(t *testing.T) {
	t.Parallel()
	b := startBrowser(t)
	e, base := passkeyEnv(t)
	on := true
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	s := &suite{e: e, browser: b, base: base, dir: artifactsDir(t)}

	p := s.person(t)
	p.withAuthenticator()
	p.open("/signin", "#email")
	p.do(chromedp.SendKeys(chromedp.CSS("#email"), "approver@contoso.test"),
		chromedp.SendKeys(chromedp.CSS("#password"), approval.DevPassword))
	p.click("#signin", "#must-add-passkey")
	p.shot("passkey-setup-required")
	if got := p.text("#must-add-passkey"); !strings.Contains(got, "must be confirmed with a passkey") {
		t.Fatalf("notice: %q", got)
	}
	p.open("/requests", "#must-add-passkey") // sent back
	p.do(chromedp.SetValue(chromedp.CSS("#passkey-name"), "Virtual key"))
	p.click("#add-passkey-button", "#passkey-list")
	if p.present("#must-add-passkey") {
		t.Fatal("the notice stays after adding a passkey")
	}
	p.open("/requests", "h1")
	if p.present("#must-add-passkey") || p.present("#add-passkey") {
		t.Fatal("with a passkey the session is still sent to the Account page")
	}
	p.shot("passkey-setup-done")
}
