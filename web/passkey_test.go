package web_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
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
