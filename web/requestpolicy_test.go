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
	// The support manager's review answers the request as they may see
	// it: the decision, without the rules' errors. The page relies on the
	// service for that (AccessRequest.ForViewer).
	failed := e.pending()
	if failed.Policy == nil || failed.Policy.Errors != nil {
		t.Errorf("the review's answer has policy decision %+v, want one without errors", failed.Policy)
	}
	failed, err := e.svc.GetRequest(e.as("admin@contoso.test"), failed.ID)
	if err != nil {
		t.Fatal(err)
	}
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
	for _, who := range []string{"operator@provider.test", "manager@provider.test", "admin@provider.test", "auditor@contoso.test"} {
		res := e.signIn(who).get("/requests/" + failed.Reference)
		wantBody(t, res, "Request "+failed.Reference) // the request's page, not an error
		if strings.Contains(res.body, `id="policy-errors"`) || strings.Contains(res.body, "zone-from-input") {
			t.Errorf("%s sees the tenant's rule errors", who)
		}
	}
}
