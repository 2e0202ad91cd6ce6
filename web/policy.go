package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// The tenant's Policy page (SPEC §11): its rules in CEL as one form, one
// block per rule plus an empty one to add a rule, and a simulate form.
// Without JavaScript: saving posts every rule; a rule whose id and
// expression are both left empty is dropped, which is how one is removed.

// ruleRow is one rule as typed, with the problems of its fields.
type ruleRow struct {
	N                                  int // the row's number in the form
	ID, Description, When, Action, Min string
	Errors                             map[string]string // by "id", "description", "when", "action"
}

// simForm is the simulate form as typed, and its answer.
type simForm struct {
	Service, Operations, Duration, RequestedBy, ServiceRequest, Reason, At string
	BreakGlass                                                             bool
	Errors                                                                 fieldErrors
	Result                                                                 *lockbox.SimulationResult
}

type policyPage struct {
	Tenant  string
	Rules   []ruleRow
	Problem string
	Sim     simForm
}

func rowsFromPolicy(p *lockbox.Policy) []ruleRow {
	rows := make([]ruleRow, 0, len(p.Rules)+1)
	for i, r := range p.Rules {
		row := ruleRow{N: i, ID: r.ID, Description: r.Description, When: r.When, Action: r.Action.Kind, Min: "2"}
		if r.Action.Kind == lockbox.ActionRequireApprovals {
			row.Min = strconv.Itoa(r.Action.RequireApprovals)
		}
		rows = append(rows, row)
	}
	return append(rows, ruleRow{N: len(p.Rules), Action: lockbox.ActionDeny, Min: "2"})
}

func (h *Handler) policyService(w http.ResponseWriter, r *http.Request) (lockbox.PolicyService, bool) {
	if h.cfg.Policies == nil {
		h.errorPage(w, r, http.StatusNotFound, "Policy rules are not enabled on this server.")
		return nil, false
	}
	return h.cfg.Policies, true
}

func (h *Handler) policyPage(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.policyService(w, r)
	if !ok {
		return
	}
	tenant := lockbox.UserFromContext(r.Context()).Tenant
	p, err := svc.GetPolicy(r.Context(), tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	h.render(w, r, http.StatusOK, "policy", "Policy", &policyPage{Tenant: tenant, Rules: rowsFromPolicy(p),
		Sim: simForm{Duration: "60", At: time.Now().UTC().Format("2006-01-02T15:04")}})
}

// savePolicy replaces the rules with the form's. A problem is shown next
// to the rule's field it concerns (the service names it as
// "rules[i].when"), and nothing is saved.
func (h *Handler) savePolicy(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.policyService(w, r)
	if !ok {
		return
	}
	tenant := lockbox.UserFromContext(r.Context()).Tenant
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	page := &policyPage{Tenant: tenant, Sim: simForm{Duration: "60", At: time.Now().UTC().Format("2006-01-02T15:04")}}
	policy, rowOf := page.readRules(r.PostForm)
	if page.Problem != "" {
		h.render(w, r, http.StatusBadRequest, "policy", "Policy", page)
		return
	}
	_, err := svc.PutPolicy(r.Context(), tenant, policy)
	switch lockbox.ErrorCode(err) {
	case "":
		http.Redirect(w, r, "/policy?done=policy", http.StatusSeeOther)
	case lockbox.EINVALID:
		page.Problem = page.ruleError(err, rowOf)
		h.render(w, r, http.StatusBadRequest, "policy", "Policy", page)
	default:
		h.serviceError(w, r, err)
	}
}

// readRules reads the rule rows of form f into page.Rules (as typed, plus
// an empty row) and the policy to save; rowOf maps a rule's index in the
// policy to its row.
func (page *policyPage) readRules(f url.Values) (lockbox.Policy, []int) {
	n, _ := strconv.Atoi(f.Get("rule_count"))
	n = min(max(n, 0), lockbox.MaxPolicyRules+1)
	policy := lockbox.Policy{Rules: []lockbox.PolicyRule{}}
	var rowOf []int
	for i := range n {
		get := func(name string) string { return f.Get(fmt.Sprintf("rules.%d.%s", i, name)) }
		row := ruleRow{N: len(page.Rules), ID: strings.TrimSpace(get("id")), Description: strings.TrimSpace(get("description")),
			When: strings.TrimSpace(get("when")), Action: get("action"), Min: strings.TrimSpace(get("approvals"))}
		if row.ID == "" && row.When == "" {
			continue // an empty row, or one cleared to remove the rule
		}
		rule := lockbox.PolicyRule{ID: row.ID, Description: row.Description, When: row.When, Action: lockbox.PolicyAction{Kind: row.Action}}
		if row.Action == lockbox.ActionRequireApprovals {
			m, err := strconv.Atoi(row.Min)
			if err != nil {
				row.Errors = map[string]string{"action": "Enter how many approvals: a whole number from 1 to 5."}
				page.Problem = "Some rules need your attention: see the messages next to them. Nothing was saved."
			}
			rule.Action.RequireApprovals = m
		}
		rowOf = append(rowOf, row.N)
		policy.Rules = append(policy.Rules, rule)
		page.Rules = append(page.Rules, row)
	}
	page.Rules = append(page.Rules, ruleRow{N: len(page.Rules), Action: lockbox.ActionDeny, Min: "2"})
	return policy, rowOf
}

// ruleError puts err next to the field of the rule it names
// ("rules[2].when") and returns the notice for above the form.
func (page *policyPage) ruleError(err error, rowOf []int) string {
	field := lockbox.ErrorField(err)
	var i int
	var name string
	if _, scanErr := fmt.Sscanf(strings.Replace(field, "].", "] ", 1), "rules[%d] %s", &i, &name); scanErr != nil || i < 0 || i >= len(rowOf) {
		return lockbox.ErrorMessage(err)
	}
	row := &page.Rules[rowOf[i]]
	row.Errors = map[string]string{name: lockbox.ErrorMessage(err)}
	return "Some rules need your attention: see the messages next to them. Nothing was saved."
}

// simulatePolicy answers the simulate form on the page: which rules match
// the request described and what they decide. It changes nothing.
func (h *Handler) simulatePolicy(w http.ResponseWriter, r *http.Request) {
	svc, ok := h.policyService(w, r)
	if !ok {
		return
	}
	tenant := lockbox.UserFromContext(r.Context()).Tenant
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read.")
		return
	}
	f := r.PostForm
	sim := simForm{Service: strings.TrimSpace(f.Get("service")), Operations: f.Get("operations"),
		Duration: strings.TrimSpace(f.Get("duration_minutes")), RequestedBy: strings.TrimSpace(f.Get("requested_by")),
		ServiceRequest: strings.TrimSpace(f.Get("service_request")), Reason: f.Get("reason"),
		At: strings.TrimSpace(f.Get("at")), BreakGlass: f.Get("break_glass") == "on", Errors: fieldErrors{}}
	in := lockbox.PolicySimulation{Request: lockbox.PolicyInput{Service: sim.Service, RequestedBy: sim.RequestedBy,
		ServiceRequest: sim.ServiceRequest, Reason: sim.Reason, BreakGlass: sim.BreakGlass, Operations: []string{}}}
	for _, op := range strings.FieldsFunc(sim.Operations, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		if op = strings.TrimSpace(op); op != "" {
			in.Request.Operations = append(in.Request.Operations, op)
		}
	}
	if sim.Duration != "" {
		n, err := strconv.Atoi(sim.Duration)
		if err != nil {
			sim.Errors["request.duration_minutes"] = "Enter a whole number of minutes."
		}
		in.Request.DurationMinutes = n
	}
	if sim.At != "" {
		at, err := parseSimTime(sim.At)
		if err != nil {
			sim.Errors["now"] = "Enter a time in UTC as 2026-03-30T07:30, or with its offset as 2026-03-30T09:30:00+02:00."
		}
		in.Now = &at
	}
	p, err := svc.GetPolicy(r.Context(), tenant)
	if err != nil {
		h.serviceError(w, r, err)
		return
	}
	page := &policyPage{Tenant: tenant, Rules: rowsFromPolicy(p), Sim: sim}
	if len(sim.Errors) > 0 {
		h.render(w, r, http.StatusBadRequest, "policy", "Policy", page)
		return
	}
	res, err := svc.SimulatePolicy(r.Context(), tenant, in)
	switch lockbox.ErrorCode(err) {
	case "":
		page.Sim.Result = res
		h.render(w, r, http.StatusOK, "policy", "Policy", page)
	case lockbox.EINVALID:
		if msg := page.Sim.Errors.add(err); lockbox.ErrorField(err) == "" {
			page.Problem = msg
		}
		h.render(w, r, http.StatusBadRequest, "policy", "Policy", page)
	default:
		h.serviceError(w, r, err)
	}
}

// parseSimTime reads a time typed in the simulate form: RFC 3339, or a
// date and time in UTC as a browser's datetime-local field sends it.
func parseSimTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}

// simOutcome says in words what the simulated rules decide.
func simOutcome(res *lockbox.SimulationResult) string {
	switch d := res.Decision; {
	case res.DecidedAtOnce == lockbox.EventBreakGlass:
		return "Activated at once by break-glass (your settings enable it); it needs review afterwards."
	case d.Outcome == lockbox.OutcomeAutoApprove && res.DecidedAtOnce == "":
		return fmt.Sprintf("Rule %s matched to approve, but your tenant requires signed decisions: %d approval(s) needed.", d.Rule, res.ApprovalsRequired)
	}
	switch d := res.Decision; d.Outcome {
	case lockbox.OutcomeDeny:
		return "Denied automatically by rule " + d.Rule + "."
	case lockbox.OutcomeAutoApprove:
		return "Approved automatically by rule " + d.Rule + "."
	case lockbox.OutcomeRequireApprovals:
		return fmt.Sprintf("Needs %d approvals (rule %s).", res.ApprovalsRequired, d.Rule)
	}
	if len(res.Decision.Errors) > 0 {
		return fmt.Sprintf("A rule could not be evaluated, so nothing is decided automatically: %d approval(s) needed.", res.ApprovalsRequired)
	}
	if !res.RequireApproval {
		return "No rule matched: your settings approve it automatically."
	}
	return fmt.Sprintf("No rule matched: your settings apply (%d approval(s) needed).", res.ApprovalsRequired)
}
