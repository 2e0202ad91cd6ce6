package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/lockboxhq/lockbox"
)

// TestPolicyPageWithoutJavaScript: plain form posts save rules, show an
// invalid expression's problem next to that rule's field (and save
// nothing), remove a cleared rule, and simulate without changing anything.
func TestPolicyPageWithoutJavaScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.signIn("approver@contoso.test")
	wantBody(t, c.get("/policy"), `id="policy"`, `name="rules.0.when"`, `id="simulate"`)
	form := url.Values{"rule_count": {"3"},
		"rules.0.id": {"no-teams"}, "rules.0.when": {`request.service == "teams"`}, "rules.0.action": {"deny"},
		"rules.1.id": {"exports"}, "rules.1.when": {`request.operations.exists(o, o.startsWith("Export-")) && request.servce == "x"`},
		"rules.1.action": {"require_approvals"}, "rules.1.approvals": {"2"},
		"rules.2.id": {""}, "rules.2.when": {""}, "rules.2.action": {"deny"}}
	res := c.post("/policy", form)
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="rule-1-when-error">Rule &#34;exports&#34;: line 1, column 65: undefined field &#39;servce&#39;`,
		`aria-invalid="true" aria-describedby="rule-1-when-error"`, `request.servce == &#34;x&#34;</textarea>`)
	if p, _ := e.svc.GetPolicy(e.as("approver@contoso.test"), "contoso"); len(p.Rules) != 0 {
		t.Fatalf("an invalid policy was saved: %+v", p)
	}
	form.Set("rules.1.when", `request.operations.exists(o, o.startsWith("Export-"))`)
	wantRedirect(t, c.post("/policy", form), "/policy?done=policy")
	wantBody(t, c.get("/policy?done=policy"), "Policy saved", `value="exports"`, `name="rules.2.id" value=""`)
	p, err := e.svc.GetPolicy(e.as("approver@contoso.test"), "contoso")
	if err != nil || len(p.Rules) != 2 || p.Rules[1].Action.RequireApprovals != 2 {
		t.Fatalf("saved: %+v, %v", p, err)
	}
	before := len(e.auditRecords("contoso"))
	res = c.post("/policy/simulate", url.Values{"service": {"exchange"}, "operations": {"Get-Mailbox\nExport-MailboxDiagnosticLogs"},
		"duration_minutes": {"60"}, "at": {"2026-03-30T07:30"}})
	wantStatus(t, res, http.StatusOK)
	wantBody(t, res, `id="sim-outcome"><strong>Needs 2 approvals (rule exports).</strong>`, "At 2026-03-30 07:30 UTC",
		`<tr id="sim-rule-exports"><td>exports</td><td>yes</td>`)
	res = c.post("/policy/simulate", url.Values{"service": {"exchange"}, "at": {"yesterday"}})
	wantStatus(t, res, http.StatusBadRequest)
	wantBody(t, res, `id="sim-at-error">Enter a time`)
	if after := len(e.auditRecords("contoso")); after != before {
		t.Fatalf("simulating wrote %d audit records", after-before)
	}
	// Clearing a rule's id and expression removes it.
	form.Set("rules.0.id", "")
	form.Set("rules.0.when", "")
	wantRedirect(t, c.post("/policy", form), "/policy?done=policy")
	if p, _ := e.svc.GetPolicy(e.as("approver@contoso.test"), "contoso"); len(p.Rules) != 1 || p.Rules[0].ID != "exports" {
		t.Fatalf("after removing a rule: %+v", p)
	}
	// The provider has no policy page for a tenant; an auditor neither.
	wantStatus(t, e.signIn("auditor@contoso.test").get("/policy"), http.StatusForbidden)
}

// policyPage: an approver writes a rule with a typo in the browser, sees
// the problem next to the rule's expression, fixes it, saves, and tries a
// request against it.
func (s *suite) policyPage(t *testing.T) {
	p := s.person(t)
	p.signIn("approver@contoso.test")
	p.open("/policy", "#rule-0-when")
	p.do(chromedp.SendKeys(chromedp.CSS("#rule-0-id"), "no-teams"),
		chromedp.SendKeys(chromedp.CSS("#rule-0-description"), "Nobody reads our Teams"),
		chromedp.SendKeys(chromedp.CSS("#rule-0-when"), `request.servce == "teams"`))
	p.click("#save-policy", "#rule-0-when-error")
	if got := p.text("#rule-0-when-error"); !strings.Contains(got, `Rule "no-teams": line 1, column 8: undefined field 'servce'`) {
		t.Errorf("error beside the expression: %q", got)
	}
	p.shot("policy-error", true)
	p.do(chromedp.SetValue(chromedp.CSS("#rule-0-when"), `request.service == "teams"`))
	p.click("#save-policy", ".notice.ok")
	p.do(chromedp.SendKeys(chromedp.CSS("#sim-service"), "teams"),
		chromedp.SetValue(chromedp.CSS("#sim-at"), "2026-10-25T01:30"))
	p.click("#run-simulation", "#sim-outcome")
	if got := p.text("#sim-outcome"); !strings.Contains(got, "Denied automatically by rule no-teams.") {
		t.Errorf("simulation: %q", got)
	}
	p.shot("policy-simulate", true)
	pol, err := s.e.svc.GetPolicy(s.e.as("approver@contoso.test"), "contoso")
	if err != nil || len(pol.Rules) != 1 || pol.Rules[0].Action.Kind != lockbox.ActionDeny {
		t.Errorf("stored policy %+v, %v", pol, err)
	}
}

// auditRecords reads a log's records straight from the store.
func (e *env) auditRecords(log string) []*lockbox.AuditRecord {
	e.t.Helper()
	var out []*lockbox.AuditRecord
	err := e.store.View(e.t.Context(), func(tx lockbox.Tx) error {
		n, err := tx.AuditSize(e.t.Context(), log)
		if err != nil {
			return err
		}
		out, err = tx.AuditRecords(e.t.Context(), log, 0, n)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}
