package web_test

import (
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
)

// TestRequestPageShowsPolicyErrors: why a request was not decided by the
// tenant's rules (a rule that failed at evaluation) is on its page for
// those who may read the rules, the tenant's admins and approvers, and
// for nobody else.
func TestRequestPageShowsPolicyErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A time zone taken from the request: SR-… is none, so the rule fails
	// when it runs (it compiles), and nothing is approved automatically.
	policy := lockbox.Policy{Rules: []lockbox.PolicyRule{{ID: "zone-from-input", When: `now.getHours(request.service_request) < 25`,
		Action: lockbox.PolicyAction{Kind: lockbox.ActionAutoApprove}}}}
	if _, err := e.svc.PutPolicy(e.as("admin@contoso.test"), "contoso", policy); err != nil {
		t.Fatal(err)
	}
	failed := e.pending()
	if failed.Policy == nil || len(failed.Policy.Errors) != 1 {
		t.Fatalf("policy decision %+v, want one error", failed.Policy)
	}
	if _, err := e.svc.PutPolicy(e.as("admin@contoso.test"), "contoso", lockbox.Policy{Rules: []lockbox.PolicyRule{}}); err != nil {
		t.Fatal(err)
	}
	clean := e.pending()
	page := func(who string, r *lockbox.AccessRequest) string {
		return e.signIn(who).get("/requests/" + r.Reference).body
	}
	for _, who := range []string{"approver@contoso.test", "admin@contoso.test"} {
		wantBody(t, e.signIn(who).get("/requests/"+failed.Reference), `id="policy-errors"`, "<code>zone-from-input</code>: "+failed.Policy.Errors[0].Error[:20])
		if strings.Contains(page(who, clean), `id="policy-errors"`) {
			t.Errorf("%s: a request without rule errors shows them", who)
		}
	}
	for _, who := range []string{"operator@provider.test", "manager@provider.test"} {
		if body := page(who, failed); strings.Contains(body, `id="policy-errors"`) || strings.Contains(body, "zone-from-input") {
			t.Errorf("%s sees the tenant's rule errors", who)
		}
	}
}
