package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/passkeytest"
	"github.com/lockboxhq/lockbox/passkey"
)

// TestPasskeyPagesWithoutScript: without JavaScript the Account page says
// adding a passkey needs it, and a form sent without a ceremony's answer is
// refused with that explanation; in a tenant that requires signed
// decisions the approval page says it cannot decide, and an unsigned
// approval is refused and changes nothing.
func TestPasskeyPagesWithoutScript(t *testing.T) {
	t.Parallel()
	rp, err := passkey.New("http://localhost:8080", "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, approval.Options{Passkeys: rp})
	c := e.signIn("approver@contoso.test")
	res := c.get("/account")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="passkey-needs-js"`, "Adding a passkey needs JavaScript", "You have no passkey.")
	res = c.post("/account/passkeys", url.Values{"name": {"x"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "Adding a passkey needs JavaScript")

	on := true
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireSignedDecisions: &on}); err != nil {
		t.Fatal(err)
	}
	r := e.pending()
	res = c.get("/requests/" + r.Reference + "/approve")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="sign-needs-js"`, "this browser cannot decide here")
	res = c.post("/requests/"+r.Reference+"/approve", url.Values{"version": {"2"}})
	wantStatus(t, res, http.StatusForbidden)
	wantBody(t, res, "requires decisions signed with a passkey")
	if got := e.get(r.ID); got.Status != lockbox.StatusPending {
		t.Fatalf("an unsigned approval changed the request to %s", got.Status)
	}
	// The settings page shows and keeps the two settings.
	admin := e.signIn("admin@contoso.test")
	wantBody(t, admin.get("/settings"), `id="require_signed_decisions" name="require_signed_decisions" checked`)
}

// TestPasskeySignInWithoutScript: an account with a passkey gets the
// passkey step after its password; without JavaScript the step says it
// needs it, and a form sent without an assertion signs nobody in. In a
// tenant requiring MFA a user without a passkey can only add one.
func TestPasskeySignInWithoutScript(t *testing.T) {
	t.Parallel()
	rp, err := passkey.New("http://localhost:8080", "")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, approval.Options{Passkeys: rp})
	a := passkeytest.New("localhost", "http://localhost:8080")
	ctx := e.as("approver@contoso.test")
	b, err := e.svc.BeginPasskey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Register(b.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.FinishPasskey(ctx, "key", resp); err != nil {
		t.Fatal(err)
	}
	c := e.client()
	res := c.post("/signin", url.Values{"email": {"approver@contoso.test"}, "password": {approval.DevPassword}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, "Confirm with your passkey", `id="signin-passkey-needs-js"`, "Confirming with a passkey needs JavaScript", `data-options="{`)
	if len(c.cookies) != 0 {
		t.Fatalf("the password alone set cookies: %v", c.cookies)
	}
	challenge := regexp.MustCompile(`name="challenge" value="([^"]+)"`).FindStringSubmatch(res.body)
	if challenge == nil {
		t.Fatal("no challenge on the passkey step")
	}
	res = c.post("/signin/passkey", url.Values{"challenge": {challenge[1]}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, "Confirming with a passkey needs JavaScript")
	if res := c.get("/requests"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("signed in without the passkey: %d", res.StatusCode)
	}

	on := true
	if _, err := e.svc.UpdateSettings(e.as("admin@contoso.test"), "contoso", lockbox.SettingsPatch{RequireMFA: &on}); err != nil {
		t.Fatal(err)
	}
	// A user without a passkey signs in only to add one: every other page
	// sends them to the Account page's passkey section, which says why.
	mfa := e.client()
	wantRedirect(t, mfa.post("/signin", url.Values{"email": {"auditor@contoso.test"}, "password": {approval.DevPassword}}), "/")
	wantRedirect(t, mfa.get("/requests"), "/account#passkeys")
	wantRedirect(t, mfa.post("/account/tokens/x/end", nil), "/account#passkeys")
	res = mfa.get("/account")
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="must-add-passkey"`, "must be confirmed with a passkey", `id="add-passkey"`)
	if strings.Contains(res.body, `id="tokens"`) {
		t.Errorf("the Account page of a passkey setup session lists tokens")
	}
	res = mfa.post("/account/passkeys/begin", nil)
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `"publicKey"`)
}
