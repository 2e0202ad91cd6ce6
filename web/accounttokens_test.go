package web_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
)

var endTokenRE = regexp.MustCompile(`action="/account/tokens/([^/"]+)/end"`)

// endableTokens maps the kind shown on the Account page ("Browser
// session", "API token") to the ids of the tokens it offers to end.
func endableTokens(t *testing.T, body string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, row := range strings.Split(body, "<tr>") {
		m := endTokenRE.FindStringSubmatch(row)
		if m == nil {
			continue
		}
		for _, kind := range []string{"Browser session", "API token"} {
			if strings.Contains(row, kind) {
				out[kind] = append(out[kind], m[1])
			}
		}
	}
	return out
}

// TestEndTokenFromTheWeb: the Account page ends another browser session
// and an API token of one's own, each at once and audited as
// token.revoked in the person's log; it never offers the session in use,
// and ending a token that is not one's own (another person's, or none)
// is not found and ends nothing.
func TestEndTokenFromTheWeb(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	c, other := e.signIn("approver@contoso.test"), e.signIn("approver@contoso.test")
	api, err := e.svc.Login(ctx, "approver@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	adminAPI, err := e.svc.Login(ctx, "admin@contoso.test", approval.DevPassword)
	if err != nil {
		t.Fatal(err)
	}
	adminTokens := endableTokens(t, e.signIn("admin@contoso.test").get("/account").body)["API token"]
	if len(adminTokens) != 1 {
		t.Fatalf("the admin's page offers API tokens %v, want one", adminTokens)
	}

	page := c.get("/account")
	wantStatus(t, page, http.StatusOK)
	tokens := endableTokens(t, page.body)
	if len(tokens["Browser session"]) != 1 || len(tokens["API token"]) != 1 {
		t.Fatalf("the page offers to end %v; want the other browser session and the API token (never this session)", tokens)
	}

	for _, id := range []string{adminTokens[0], "web_nonexistent"} {
		wantStatus(t, c.post("/account/tokens/"+id+"/end", nil), http.StatusNotFound)
	}
	if _, err := e.svc.Authenticate(ctx, adminAPI.Token); err != nil {
		t.Fatalf("another person's token ended: %v", err)
	}
	wantStatus(t, other.get("/account"), http.StatusOK)

	wantRedirect(t, c.post("/account/tokens/"+tokens["Browser session"][0]+"/end", nil), "/account?done=token")
	wantBody(t, c.get("/account?done=token"), "Session ended.")
	wantRedirect(t, other.get("/account"), "/signin")
	wantRedirect(t, c.post("/account/tokens/"+tokens["API token"][0]+"/end", nil), "/account?done=token")
	_, err = e.svc.Authenticate(ctx, api.Token)
	if lockbox.ErrorCode(err) != lockbox.EUNAUTHENTICATED {
		t.Errorf("the ended API token: %v, want unauthenticated", err)
	}
	wantStatus(t, c.get("/account"), http.StatusOK) // this session goes on

	var ended []string
	err = e.store.View(ctx, func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(ctx, "contoso")
		if err != nil {
			return err
		}
		recs, err := tx.AuditRecords(ctx, "contoso", 0, n)
		for _, r := range recs {
			if r.Operation == lockbox.OpTokenRevoked && r.UserID == "approver@contoso.test" {
				ended = append(ended, r.AuditData["token_id"].(string))
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{tokens["Browser session"][0], tokens["API token"][0]}; strings.Join(ended, ",") != strings.Join(want, ",") {
		t.Errorf("token.revoked records: %v, want %v", ended, want)
	}
}
