package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

var rotatedTokenRE = regexp.MustCompile(`<code class="secret">([^<]+)</code>`)

// TestServiceAccountsPage: the provider admin lists the service accounts,
// rotates one's token with a grace period (the new token shown once, the
// old one still working), rotates again without one (the old one stops),
// and revokes it only after a confirmation page; a bad grace period is
// shown beside its field and changes nothing.
func TestServiceAccountsPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	works := func(token string) bool {
		_, err := e.svc.Authenticate(ctx, token)
		return err == nil
	}
	admin := e.signIn("admin@provider.test")
	wantBody(t, admin.get("/service-accounts"), `id="service-accounts"`, "dev-service", `id="grace-ends-dev-service">—<`,
		`href="/service-accounts/dev-service/rotate"`, `href="/service-accounts/dev-service/revoke"`)

	// The confirmation pages change nothing.
	wantBody(t, admin.get("/service-accounts/dev-service/rotate"), `name="grace"`, `value="10m"`)
	wantBody(t, admin.get("/service-accounts/dev-service/revoke"), `id="confirm"`, "stops at once")
	if !works(approval.DevServiceToken) {
		t.Fatal("a confirmation page stopped the token")
	}

	for _, grace := range []string{"soon", "48h", "-1m"} {
		res := admin.post("/service-accounts/dev-service/rotate", url.Values{"grace": {grace}})
		wantStatus(t, res, http.StatusBadRequest)
		wantBody(t, res, `id="grace-error"`, `aria-invalid="true"`, `value="`+grace+`"`)
		if rotatedTokenRE.MatchString(res.body) || !works(approval.DevServiceToken) {
			t.Fatalf("grace %q: a refused rotation issued a token or stopped the old one", grace)
		}
	}

	res := admin.post("/service-accounts/dev-service/rotate", url.Values{"grace": {"10m"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="rotated"`, "keeps working for 10m0s")
	m := rotatedTokenRE.FindStringSubmatch(res.body)
	if m == nil {
		t.Fatalf("no new token on the page:\n%s", excerpt(res.body))
	}
	first := m[1]
	if !works(first) || !works(approval.DevServiceToken) {
		t.Fatalf("after a rotation with grace: new token works %v, old works %v", works(first), works(approval.DevServiceToken))
	}
	list := admin.get("/service-accounts")
	if rotatedTokenRE.MatchString(list.body) {
		t.Error("the list shows a token again")
	}
	if !regexp.MustCompile(`id="grace-ends-dev-service">[^—]*UTC`).MatchString(list.body) {
		t.Errorf("the list does not show when the old token stops:\n%s", excerpt(list.body))
	}

	res = admin.post("/service-accounts/dev-service/rotate", url.Values{"grace": {"0"}})
	wantBody(t, res, "stopped working at once")
	second := rotatedTokenRE.FindStringSubmatch(res.body)[1]
	if works(first) || !works(second) {
		t.Fatalf("after a rotation without grace: previous token works %v, new works %v", works(first), works(second))
	}

	wantRedirect(t, admin.post("/service-accounts/dev-service/revoke", nil), "/service-accounts?done=service_account_revoked")
	wantBody(t, admin.get("/service-accounts?done=service_account_revoked"), "Service account revoked", `id="no-service-accounts"`)
	if works(second) {
		t.Error("a revoked service account's token still works")
	}
	wantStatus(t, admin.post("/service-accounts/dev-service/revoke", nil), http.StatusNotFound)
	wantStatus(t, admin.get("/service-accounts/dev-service/rotate"), http.StatusNotFound)
}

// TestServiceAccountsRefused: nobody but the provider admin (the
// service's rule) rotates or revokes a service account from the web, and
// a refused attempt changes nothing.
func TestServiceAccountsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, email := range devAccounts[1:] {
		if lockbox.Can(lockbox.UserFromContext(e.as(email)), lockbox.PermManageStaff, "") {
			t.Fatalf("%s may manage service accounts; the test assumes only the provider admin does", email)
		}
		c := e.signIn(email)
		wantStatus(t, c.post("/service-accounts/dev-service/rotate", url.Values{"grace": {"0"}}), http.StatusForbidden)
		wantStatus(t, c.post("/service-accounts/dev-service/revoke", nil), http.StatusForbidden)
		if _, err := e.svc.Authenticate(context.Background(), approval.DevServiceToken); err != nil {
			t.Fatalf("after %s's refused attempts the token stopped: %v", email, err)
		}
	}
}
