package server_test

import (
	"encoding/json"
	"testing"
)

// TestPolicyErrorsOnTheWire: a request's JSON carries its policy decision
// to everyone who may see the request, but policy.errors (the tenant's
// rules that failed to evaluate, whose messages can quote them) only to
// the tenant's global admins and lockbox approvers, who may read the
// rules: in GET /v1/requests/{id}, in the listing and in an action's
// answer. Every answer is also checked against the OpenAPI document.
func TestPolicyErrorsOnTheWire(t *testing.T) {
	t.Parallel()
	c := newConformance(t)
	c.signIn(t)
	// A time zone taken from the request: SR-… is none, so the rule fails
	// when it runs, and people decide.
	c.run(t, step{name: "policy: set", as: approver, method: "PUT", path: "/v1/tenants/contoso/policy", want: 200,
		body: map[string]any{"rules": []map[string]any{
			{"id": "zone-from-input", "when": `now.getHours(request.service_request) < 25`, "action": "auto_approve"}}}})
	r := c.file(t, "failing rule")
	path := "/v1/requests/" + r.ID
	review := c.run(t, step{name: "review", as: manager, method: "POST", path: path + "/review",
		body: map[string]string{"decision": "approve"}, want: 200})
	checkPolicyJSON(t, "review's answer to the support manager", review, false)

	for _, tc := range []struct {
		who        string
		wantErrors bool
	}{
		{operator, false},
		{manager, false},
		{"admin@provider.test", false},
		{approver, true},
		{"admin@contoso.test", true},
		{"auditor@contoso.test", false},
	} {
		got := c.run(t, step{name: "get as " + tc.who, as: tc.who, method: "GET", path: path, want: 200})
		checkPolicyJSON(t, "GET as "+tc.who, got, tc.wantErrors)
		list := decode[struct {
			Requests []json.RawMessage `json:"requests"`
		}](t, c.run(t, step{name: "list as " + tc.who, as: tc.who, method: "GET", path: "/v1/requests?tenant=contoso", want: 200}))
		listed := false
		for _, x := range list.Requests {
			if decode[struct {
				ID string `json:"id"`
			}](t, x).ID == r.ID {
				listed = true
				checkPolicyJSON(t, "list as "+tc.who, x, tc.wantErrors)
			}
		}
		if !listed {
			t.Errorf("list as %s: %s is not listed", tc.who, r.Reference)
		}
	}
	approve := c.run(t, step{name: "approve", as: approver, method: "POST", path: path + "/approve", want: 200})
	checkPolicyJSON(t, "approval's answer to the approver", approve, true)
	complete := c.run(t, step{name: "complete", as: operator, method: "POST", path: path + "/complete", want: 200})
	checkPolicyJSON(t, "completion's answer to the operator", complete, false)
}

// checkPolicyJSON checks a request's JSON: its policy says the settings
// applied and that no rule matched, and holds errors (zone-from-input's)
// exactly when wantErrors.
func checkPolicyJSON(t *testing.T, what string, body []byte, wantErrors bool) {
	t.Helper()
	var r struct {
		Policy map[string]json.RawMessage `json:"policy"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if string(r.Policy["outcome"]) != `"settings"` || string(r.Policy["matched"]) != `[]` {
		t.Errorf("%s: policy %s, want outcome settings, nothing matched", what, body)
	}
	errs, ok := r.Policy["errors"]
	if ok != wantErrors {
		t.Errorf("%s: policy.errors shown = %v, want %v; body %s", what, ok, wantErrors, body)
	}
	if wantErrors {
		var rules []struct {
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal(errs, &rules); err != nil || len(rules) != 1 || rules[0].ID != "zone-from-input" || rules[0].Error == "" {
			t.Errorf("%s: policy.errors %s, want zone-from-input's error", what, errs)
		}
	}
}
