package lockbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// A tenant's policy is a list of rules in CEL (SPEC §11): each rule's
// `when` is a boolean expression over the request and the time, and its
// action says what a match does. This file holds the vocabulary and the
// one rule that combines matches into an outcome (DecidePolicy); the
// package rules compiles and evaluates the expressions.

// PolicyRule is one rule of a tenant's policy.
type PolicyRule struct {
	ID          string       `json:"id"`
	Description string       `json:"description"`
	When        string       `json:"when"`
	Action      PolicyAction `json:"action"`
}

// Policy is a tenant's rules, in the order they were given.
type Policy struct {
	Rules []PolicyRule `json:"rules"`
}

// What a rule does when it matches.
const (
	ActionDeny             = "deny"
	ActionAutoApprove      = "auto_approve"
	ActionRequireApprovals = "require_approvals"
)

// PolicyAction is a rule's action: "deny", "auto_approve", or
// {"require_approvals": N}.
type PolicyAction struct {
	Kind string
	// RequireApprovals is N of {"require_approvals": N}.
	RequireApprovals int
}

// MarshalJSON writes the action as the API shows it.
func (a PolicyAction) MarshalJSON() ([]byte, error) {
	if a.Kind == ActionRequireApprovals {
		return json.Marshal(map[string]int{ActionRequireApprovals: a.RequireApprovals})
	}
	return json.Marshal(a.Kind)
}

// UnmarshalJSON reads "deny", "auto_approve" or {"require_approvals": N}.
// It checks the shape only; ValidatePolicy checks the values.
func (a *PolicyAction) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*a = PolicyAction{}
		return json.Unmarshal(b, &a.Kind)
	}
	var obj struct {
		RequireApprovals *int `json:"require_approvals"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&obj); err != nil || obj.RequireApprovals == nil {
		return fmt.Errorf(`action must be "deny", "auto_approve" or {"require_approvals": N}`)
	}
	*a = PolicyAction{Kind: ActionRequireApprovals, RequireApprovals: *obj.RequireApprovals}
	return nil
}

// String is the action as a person reads it.
func (a PolicyAction) String() string {
	if a.Kind == ActionRequireApprovals {
		return fmt.Sprintf("require %d approvals", a.RequireApprovals)
	}
	return a.Kind
}

// Limits of a policy: a tenant's rules are read on every request that
// becomes pending, so they stay small.
const (
	MaxPolicyRules   = 50
	MaxPolicyWhenLen = 2000
)

var policyRuleIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidatePolicy checks everything about p but the CEL expressions (the
// package rules compiles those): EINVALID naming the rule's field, as
// "rules[i].field".
func ValidatePolicy(p Policy) error {
	if len(p.Rules) > MaxPolicyRules {
		return FieldErrorf(EINVALID, "rules", "A policy holds at most %d rules; got %d.", MaxPolicyRules, len(p.Rules))
	}
	seen := map[string]bool{}
	for i, r := range p.Rules {
		field := func(name string) string { return fmt.Sprintf("rules[%d].%s", i, name) }
		if !policyRuleIDRE.MatchString(r.ID) {
			return FieldErrorf(EINVALID, field("id"), "Rule %d: id %q must be 1–63 lower-case letters, digits, '-' or '_', starting with a letter or digit.", i+1, r.ID)
		}
		if seen[r.ID] {
			return FieldErrorf(EINVALID, field("id"), "Rule id %q is used twice.", r.ID)
		}
		seen[r.ID] = true
		if err := ValidText(field("description"), r.Description, 500, false); err != nil {
			return err
		}
		if strings.TrimSpace(r.When) == "" {
			return FieldErrorf(EINVALID, field("when"), "Rule %q: when is required (a CEL expression such as request.service == \"exchange\").", r.ID)
		}
		if err := ValidNote(field("when"), r.When, MaxPolicyWhenLen, true); err != nil {
			return err
		}
		if err := r.Action.validate(r.ID, field("action")); err != nil {
			return err
		}
	}
	return nil
}

func (a PolicyAction) validate(id, field string) error {
	switch a.Kind {
	case ActionDeny, ActionAutoApprove:
		return nil
	case ActionRequireApprovals:
		if a.RequireApprovals < MinApprovalsRequired || a.RequireApprovals > MaxApprovalsRequired {
			return FieldErrorf(EINVALID, field, "Rule %q: require_approvals must be between %d and %d; got %d.",
				id, MinApprovalsRequired, MaxApprovalsRequired, a.RequireApprovals)
		}
		return nil
	}
	return FieldErrorf(EINVALID, field, `Rule %q: action must be "deny", "auto_approve" or {"require_approvals": N}; got %q.`, id, a.Kind)
}

// PolicyInput is what a rule's `request` sees: the fields of SPEC §11,
// named as in CEL (the cel tags) and in the simulate call's JSON.
type PolicyInput struct {
	Service         string   `json:"service" cel:"service"`
	Operations      []string `json:"operations" cel:"operations"`
	DurationMinutes int      `json:"duration_minutes" cel:"duration_minutes"`
	RequestedBy     string   `json:"requested_by" cel:"requested_by"`
	ServiceRequest  string   `json:"service_request" cel:"service_request"`
	Reason          string   `json:"reason" cel:"reason"`
	BreakGlass      bool     `json:"break_glass" cel:"break_glass"`
}

// PolicyInput is the one place a request becomes a rule's input: what the
// operator asked for (an approval cannot have narrowed it yet when the
// rules run, as they run when it becomes pending).
func (r *AccessRequest) PolicyInput() PolicyInput {
	ops := r.RequestedOperations
	if ops == nil {
		ops = r.Operations
	}
	d := r.RequestedDurationMinutes
	if d == 0 {
		d = r.DurationMinutes
	}
	return PolicyInput{
		Service: r.Service, Operations: slices.Clone(ops), DurationMinutes: d,
		RequestedBy: r.RequestedBy, ServiceRequest: r.ServiceRequest, Reason: r.Reason,
		BreakGlass: r.BreakGlass,
	}
}

// RuleResult is how one rule fared on one input.
type RuleResult struct {
	ID      string `json:"id"`
	Matched bool   `json:"matched"`
	// Error, when set, is why the rule could not be evaluated (an unknown
	// time zone, the cost limit). It decides nothing automatically: see
	// DecidePolicy.
	Error string `json:"error,omitempty"`
}

// Outcomes of a policy.
const (
	OutcomeDeny             = "deny"
	OutcomeRequireApprovals = "require_approvals"
	OutcomeAutoApprove      = "auto_approve"
	// OutcomeSettings: no rule matched, the tenant's settings apply.
	OutcomeSettings = "settings"
)

// PolicyDecision is what a tenant's rules decided for a request. The
// request keeps it from the moment it became pending.
type PolicyDecision struct {
	Outcome string `json:"outcome"`
	// Rule is the rule that decided: the first matching deny, the
	// auto_approve, or the require_approvals with the largest N.
	Rule string `json:"rule,omitempty"`
	// ApprovalsRequired is the quorum the outcome sets; 0 when the
	// settings' applies.
	ApprovalsRequired int `json:"approvals_required,omitempty"`
	// Matched lists every rule that matched, in policy order.
	Matched []string `json:"matched"`
	// Errors lists the rules that could not be evaluated.
	Errors []RuleResult `json:"errors,omitempty"`
}

// DecidePolicy combines the rules' results (in policy order) into the
// outcome: any matching deny wins, then the largest require_approvals,
// then auto_approve; no match leaves the settings.
//
// A rule that could not be evaluated fails closed: it never denies or
// approves automatically. Any such error rules out auto_approve (and the
// settings' approval without approvers): a person decides, with the
// quorum the erroring rule would have required if it asked for one.
func DecidePolicy(rules []PolicyRule, results []RuleResult) PolicyDecision {
	d := PolicyDecision{Outcome: OutcomeSettings, Matched: []string{}}
	var autoRule string
	for i, res := range results {
		rule := rules[i]
		if res.Error != "" {
			d.Errors = append(d.Errors, res)
		}
		if !res.Matched && res.Error == "" {
			continue
		}
		if res.Matched {
			d.Matched = append(d.Matched, rule.ID)
		}
		switch rule.Action.Kind {
		case ActionDeny:
			if res.Matched && d.Outcome != OutcomeDeny {
				d.Outcome, d.Rule, d.ApprovalsRequired = OutcomeDeny, rule.ID, 0
			}
		case ActionRequireApprovals:
			if d.Outcome != OutcomeDeny && rule.Action.RequireApprovals > d.ApprovalsRequired {
				d.Outcome, d.Rule, d.ApprovalsRequired = OutcomeRequireApprovals, rule.ID, rule.Action.RequireApprovals
			}
		case ActionAutoApprove:
			if res.Matched && autoRule == "" {
				autoRule = rule.ID
			}
		}
	}
	if d.Outcome == OutcomeSettings && autoRule != "" && len(d.Errors) == 0 {
		d.Outcome, d.Rule = OutcomeAutoApprove, autoRule
	}
	return d
}

// HoldsForPeople reports whether the decision leaves the request to the
// tenant's approvers even when its settings do not require approval: a
// rule asked for approvals, or a rule failed (fail closed).
func (d *PolicyDecision) HoldsForPeople() bool {
	return d != nil && (d.Outcome == OutcomeRequireApprovals || (d.Outcome == OutcomeSettings && len(d.Errors) > 0))
}

// PolicySimulation is the body of POST /v1/tenants/{tenant}/policy/simulate:
// a request as a rule sees it, and the time to evaluate at (now when
// omitted).
type PolicySimulation struct {
	Request PolicyInput `json:"request"`
	Now     *time.Time  `json:"now,omitempty"`
}

// SimulationResult is what the tenant's rules would decide.
type SimulationResult struct {
	Now      time.Time      `json:"now"`
	Rules    []RuleResult   `json:"rules"`
	Decision PolicyDecision `json:"decision"`
	// ApprovalsRequired and RequireApproval are what the request would
	// need with the tenant's settings as they are.
	ApprovalsRequired int  `json:"approvals_required"`
	RequireApproval   bool `json:"require_approval"`
	// DecidedAtOnce is the event that would decide the request the moment
	// it reaches the tenant (policy_deny, policy_approve, system_approve,
	// break_glass), or empty when people decide: what would really happen,
	// break-glass and require_signed_decisions included (a rule's
	// auto_approve does not stand in a tenant that requires signatures).
	DecidedAtOnce Event `json:"decided_at_once,omitempty"`
}

// PolicyService reads, changes and tries a tenant's rules (the tenant's
// global_admin and lockbox_approver; ENOTFOUND for anyone else's tenant).
type PolicyService interface {
	GetPolicy(ctx context.Context, tenant string) (*Policy, error)
	// PutPolicy replaces the rules. EINVALID naming the rule and, for an
	// expression, the line and column of the first error.
	PutPolicy(ctx context.Context, tenant string, p Policy) (*Policy, error)
	// SimulatePolicy evaluates the rules on in and changes nothing.
	SimulatePolicy(ctx context.Context, tenant string, in PolicySimulation) (*SimulationResult, error)
}

// Validate checks a simulated request within the limits a filed request
// has, so a rule's cost estimate holds for it too.
func (in PolicyInput) Validate() error {
	field := func(name string) string { return "request." + name }
	if err := ValidText(field("service"), in.Service, 64, false); err != nil {
		return err
	}
	if err := ValidText(field("service_request"), in.ServiceRequest, MaxServiceRequestLen, false); err != nil {
		return err
	}
	if err := ValidNote(field("reason"), in.Reason, MaxReasonLen, false); err != nil {
		return err
	}
	if err := ValidText(field("requested_by"), in.RequestedBy, 254, false); err != nil {
		return err
	}
	if len(in.Operations) > 200 {
		return FieldErrorf(EINVALID, field("operations"), "A request names at most 200 operations; got %d.", len(in.Operations))
	}
	for _, op := range in.Operations {
		if err := ValidText(field("operations"), op, 128, true); err != nil {
			return err
		}
	}
	if in.DurationMinutes < 0 || in.DurationMinutes > int(MaxAccessDuration/time.Minute) {
		return FieldErrorf(EINVALID, field("duration_minutes"), "duration_minutes must be between 0 and %d; got %d.", int(MaxAccessDuration/time.Minute), in.DurationMinutes)
	}
	return nil
}
