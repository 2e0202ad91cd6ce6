package lockbox_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

func action(kind string, n int) lockbox.PolicyAction {
	return lockbox.PolicyAction{Kind: kind, RequireApprovals: n}
}

// TestDecidePolicy is SPEC §11's precedence: deny wins, then the largest
// require_approvals, then auto_approve; and a rule that failed never
// decides by itself (fail closed).
func TestDecidePolicy(t *testing.T) {
	t.Parallel()
	rules := []lockbox.PolicyRule{
		{ID: "auto", Action: action(lockbox.ActionAutoApprove, 0)},
		{ID: "two", Action: action(lockbox.ActionRequireApprovals, 2)},
		{ID: "three", Action: action(lockbox.ActionRequireApprovals, 3)},
		{ID: "deny", Action: action(lockbox.ActionDeny, 0)},
		{ID: "deny2", Action: action(lockbox.ActionDeny, 0)},
	}
	const m, e = "m", "e" // matched, error
	for _, tc := range []struct {
		name string
		res  [5]string // per rule: "", "m" or "e"
		want lockbox.PolicyDecision
	}{
		{"NoMatch", [5]string{}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeSettings, Matched: []string{}}},
		{"AutoApprove", [5]string{m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeAutoApprove, Rule: "auto", Matched: []string{"auto"}}},
		{"RequireBeatsAuto", [5]string{m, m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeRequireApprovals, Rule: "two", ApprovalsRequired: 2, Matched: []string{"auto", "two"}}},
		{"LargestRequire", [5]string{"", m, m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeRequireApprovals, Rule: "three", ApprovalsRequired: 3, Matched: []string{"two", "three"}}},
		{"DenyWins", [5]string{m, m, m, m, m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeDeny, Rule: "deny", Matched: []string{"auto", "two", "three", "deny", "deny2"}}},
		{"LaterDeny", [5]string{m, "", "", "", m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeDeny, Rule: "deny2", Matched: []string{"auto", "deny2"}}},
		// Fail closed: an erroring deny does not deny, but stops the
		// auto-approval; an erroring require_approvals counts.
		{"ErrorStopsAuto", [5]string{m, "", "", e}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeSettings, Matched: []string{"auto"},
			Errors: []lockbox.RuleResult{{ID: "deny", Error: "boom"}}}},
		{"ErrorAutoDoesNotApprove", [5]string{e}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeSettings, Matched: []string{},
			Errors: []lockbox.RuleResult{{ID: "auto", Error: "boom"}}}},
		{"ErrorRequireCounts", [5]string{m, m, e}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeRequireApprovals, Rule: "three", ApprovalsRequired: 3,
			Matched: []string{"auto", "two"}, Errors: []lockbox.RuleResult{{ID: "three", Error: "boom"}}}},
		{"ErrorDoesNotStopDeny", [5]string{"", "", "", e, m}, lockbox.PolicyDecision{Outcome: lockbox.OutcomeDeny, Rule: "deny2", Matched: []string{"deny2"},
			Errors: []lockbox.RuleResult{{ID: "deny", Error: "boom"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := make([]lockbox.RuleResult, len(rules))
			for i, r := range rules {
				res[i] = lockbox.RuleResult{ID: r.ID, Matched: tc.res[i] == m}
				if tc.res[i] == e {
					res[i].Error = "boom"
				}
			}
			got := lockbox.DecidePolicy(rules, res)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			wantHold := tc.want.Outcome == lockbox.OutcomeRequireApprovals || (tc.want.Outcome == lockbox.OutcomeSettings && len(tc.want.Errors) > 0)
			if got.HoldsForPeople() != wantHold {
				t.Errorf("HoldsForPeople = %v, want %v", got.HoldsForPeople(), wantHold)
			}
		})
	}
}

func TestValidatePolicy(t *testing.T) {
	t.Parallel()
	ok := lockbox.PolicyRule{ID: "diag", When: "true", Action: action(lockbox.ActionDeny, 0)}
	many := make([]lockbox.PolicyRule, lockbox.MaxPolicyRules+1)
	for i := range many {
		many[i] = ok
	}
	for _, tc := range []struct {
		name      string
		rules     []lockbox.PolicyRule
		wantField string
	}{
		{"OK", []lockbox.PolicyRule{ok}, ""},
		{"Empty", nil, ""},
		{"TooMany", many, "rules"},
		{"BadID", []lockbox.PolicyRule{{ID: "Diag!", When: "true", Action: ok.Action}}, "rules[0].id"},
		{"DuplicateID", []lockbox.PolicyRule{ok, ok}, "rules[1].id"},
		{"NoWhen", []lockbox.PolicyRule{{ID: "a", When: "  ", Action: ok.Action}}, "rules[0].when"},
		{"BadAction", []lockbox.PolicyRule{{ID: "a", When: "true", Action: action("approve", 0)}}, "rules[0].action"},
		{"ZeroApprovals", []lockbox.PolicyRule{{ID: "a", When: "true", Action: action(lockbox.ActionRequireApprovals, 0)}}, "rules[0].action"},
		{"SixApprovals", []lockbox.PolicyRule{{ID: "a", When: "true", Action: action(lockbox.ActionRequireApprovals, 6)}}, "rules[0].action"},
		{"FiveApprovals", []lockbox.PolicyRule{{ID: "a", When: "true", Action: action(lockbox.ActionRequireApprovals, 5)}}, ""},
		{"ControlInDescription", []lockbox.PolicyRule{{ID: "a", Description: "x\x1b[31m", When: "true", Action: ok.Action}}, "rules[0].description"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := lockbox.ValidatePolicy(lockbox.Policy{Rules: tc.rules})
			var field string
			if e, ok := err.(*lockbox.Error); ok {
				field = e.Field
			} else if err != nil {
				t.Fatalf("not a *lockbox.Error: %v", err)
			}
			if field != tc.wantField || (tc.wantField != "") != (err != nil) {
				t.Errorf("got %v, want field %q", err, tc.wantField)
			}
		})
	}
}

func TestPolicyActionJSON(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		want    lockbox.PolicyAction
		wantErr bool
	}{
		{`"deny"`, action(lockbox.ActionDeny, 0), false},
		{`"auto_approve"`, action(lockbox.ActionAutoApprove, 0), false},
		{`{"require_approvals": 2}`, action(lockbox.ActionRequireApprovals, 2), false},
		{`{"require_approvals": 2, "x": 1}`, lockbox.PolicyAction{}, true},
		{`{}`, lockbox.PolicyAction{}, true},
		{`7`, lockbox.PolicyAction{}, true},
	} {
		var got lockbox.PolicyAction
		err := json.Unmarshal([]byte(tc.in), &got)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("%s: got %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.wantErr)
			continue
		}
		if tc.wantErr {
			continue
		}
		b, _ := json.Marshal(got)
		var back lockbox.PolicyAction
		if err := json.Unmarshal(b, &back); err != nil || back != got {
			t.Errorf("%s: round trip gave %s", tc.in, b)
		}
	}
}

// TestPolicyGuards: the policy's rows happen only when the request's rules
// decided that outcome.
func TestPolicyGuards(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		ev      lockbox.Event
		outcome string
		want    string
	}{
		{lockbox.EventPolicyApprove, "", lockbox.ECONFLICT},
		{lockbox.EventPolicyApprove, lockbox.OutcomeDeny, lockbox.ECONFLICT},
		{lockbox.EventPolicyApprove, lockbox.OutcomeAutoApprove, ""},
		{lockbox.EventPolicyDeny, lockbox.OutcomeAutoApprove, lockbox.ECONFLICT},
		{lockbox.EventPolicyDeny, lockbox.OutcomeRequireApprovals, lockbox.ECONFLICT},
		{lockbox.EventPolicyDeny, lockbox.OutcomeDeny, ""},
	} {
		r := &lockbox.AccessRequest{Tenant: "contoso", Status: lockbox.StatusPending, DurationMinutes: 60}
		if tc.outcome != "" {
			r.Policy = &lockbox.PolicyDecision{Outcome: tc.outcome, Rule: "diag"}
		}
		_, err := r.Apply(tc.ev, "policy:diag", "", now, nil)
		if got := lockbox.ErrorCode(err); got != tc.want {
			t.Errorf("%s with outcome %q: got %v, want %q", tc.ev, tc.outcome, err, tc.want)
		}
		if tc.want == "" && (r.DecidedBy == nil || *r.DecidedBy != "policy:diag") {
			t.Errorf("%s: decided_by = %v, want policy:diag", tc.ev, r.DecidedBy)
		}
	}
}

// TestPolicyInput: the rule sees what the operator asked for, even after
// an approval narrowed it.
func TestPolicyInput(t *testing.T) {
	t.Parallel()
	r := &lockbox.AccessRequest{Service: "exchange", ServiceRequest: "SR-1", Reason: "why", RequestedBy: "op@p.test",
		Operations: []string{"Get-A"}, DurationMinutes: 30,
		RequestedOperations: []string{"Get-A", "Export-B"}, RequestedDurationMinutes: 120}
	want := lockbox.PolicyInput{Service: "exchange", Operations: []string{"Get-A", "Export-B"}, DurationMinutes: 120,
		RequestedBy: "op@p.test", ServiceRequest: "SR-1", Reason: "why"}
	if diff := cmp.Diff(want, r.PolicyInput()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
