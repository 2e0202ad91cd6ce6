package sqlrows

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// The approval-policy state of requests and tenants (SPEC §11) is one JSON
// document per row (the requests.policy and tenants.policy columns), the
// same on both engines: no query filters on it, and keeping it in one
// column keeps the stores out of the policy's rules.

// requestPolicy is the stored form of a request's policy fields.
type requestPolicy struct {
	RequestedOperations      []string          `json:"requested_operations,omitempty"`
	RequestedDurationMinutes int               `json:"requested_duration_minutes,omitempty"`
	RequestedStartTime       *time.Time        `json:"requested_start_time,omitempty"`
	ApprovalsRequired        int               `json:"approvals_required,omitempty"`
	Approvals                []storedApproval  `json:"approvals,omitempty"`
	Extensions               []storedExtension `json:"extensions,omitempty"`
	BreakGlass               bool              `json:"break_glass,omitempty"`
	Incident                 string            `json:"incident,omitempty"`
	AcknowledgedBy           *string           `json:"acknowledged_by,omitempty"`
	AcknowledgedAt           *time.Time        `json:"acknowledged_at,omitempty"`
	AcknowledgeComment       *string           `json:"acknowledge_comment,omitempty"`
	EscalateAt               *time.Time        `json:"escalate_at,omitempty"`
	EscalatedAt              *time.Time        `json:"escalated_at,omitempty"`
	// Policy is what the tenant's rules decided when the request became
	// pending (rules in CEL, migration 00017 for the rules themselves).
	Policy *lockbox.PolicyDecision `json:"policy_decision,omitempty"`
}

// storedExtension keeps its approvers' user ids too.
type storedExtension struct {
	lockbox.Extension
	Approvals []storedApproval `json:"approvals"`
}

func storeApprovals(as []lockbox.Approval) []storedApproval {
	out := make([]storedApproval, len(as))
	for i, a := range as {
		out[i] = storedApproval{Approval: a, UserID: a.UserID, Signed: a.Signed}
	}
	return out
}

func loadApprovals(as []storedApproval) []lockbox.Approval {
	out := make([]lockbox.Approval, len(as))
	for i, a := range as {
		a.Approval.UserID, a.Approval.Signed = a.UserID, a.Signed
		out[i] = a.Approval
	}
	return out
}

// storedApproval keeps the approver's user id, which the API does not show.
type storedApproval struct {
	lockbox.Approval
	UserID string `json:"user_id"`
	// Signed is the approval's signed decision (SPEC §10.3).
	Signed *lockbox.SignedDecision `json:"signed_decision,omitempty"`
}

// RequestPolicy encodes r's policy fields.
func RequestPolicy(r *lockbox.AccessRequest) (string, error) {
	p := requestPolicy{
		RequestedOperations: r.RequestedOperations, RequestedDurationMinutes: r.RequestedDurationMinutes,
		RequestedStartTime: r.RequestedStartTime, ApprovalsRequired: r.ApprovalsRequired,
		BreakGlass: r.BreakGlass, Incident: r.Incident, AcknowledgedBy: r.AcknowledgedBy,
		AcknowledgedAt: r.AcknowledgedAt, AcknowledgeComment: r.AcknowledgeComment,
		EscalateAt: r.EscalateAt, EscalatedAt: r.EscalatedAt,
		Policy: r.Policy,
	}
	if len(r.Approvals) > 0 {
		p.Approvals = storeApprovals(r.Approvals)
	}
	for _, x := range r.Extensions {
		p.Extensions = append(p.Extensions, storedExtension{Extension: x, Approvals: storeApprovals(x.Approvals)})
	}
	b, err := json.Marshal(p)
	return string(b), err
}

// ParseRequestPolicy decodes s into r's policy fields. A request stored
// before policies existed ('{}') requested what it grants and needed one
// approval.
func ParseRequestPolicy(s string, r *lockbox.AccessRequest) error {
	var p requestPolicy
	if err := decode(s, &p); err != nil {
		return err
	}
	r.RequestedOperations, r.RequestedDurationMinutes = p.RequestedOperations, p.RequestedDurationMinutes
	r.RequestedStartTime, r.ApprovalsRequired = p.RequestedStartTime, max(p.ApprovalsRequired, 1)
	if r.RequestedOperations == nil {
		r.RequestedOperations = slices.Clone(r.Operations)
	}
	if r.RequestedDurationMinutes == 0 {
		r.RequestedDurationMinutes = r.DurationMinutes
	}
	if r.RequestedStartTime == nil && p.RequestedOperations == nil {
		r.RequestedStartTime = r.StartTime
	}
	r.BreakGlass, r.Incident = p.BreakGlass, p.Incident
	r.AcknowledgedBy, r.AcknowledgedAt, r.AcknowledgeComment = p.AcknowledgedBy, utcPtr(p.AcknowledgedAt), p.AcknowledgeComment
	r.EscalateAt, r.EscalatedAt = utcPtr(p.EscalateAt), utcPtr(p.EscalatedAt)
	r.Policy = p.Policy
	r.Approvals = loadApprovals(p.Approvals)
	r.Extensions = make([]lockbox.Extension, len(p.Extensions))
	for i, x := range p.Extensions {
		x.Extension.Approvals = loadApprovals(x.Approvals)
		r.Extensions[i] = x.Extension
	}
	return nil
}

// tenantPolicy is the stored form of a tenant's policy settings.
type tenantPolicy struct {
	ApprovalsRequired     int                         `json:"approvals_required,omitempty"`
	MaxTotalAccessMinutes int                         `json:"max_total_access_minutes,omitempty"`
	BreakGlass            *lockbox.BreakGlassSettings `json:"break_glass,omitempty"`
	Escalation            *lockbox.EscalationSettings `json:"escalation,omitempty"`
	// Passkey setting (SPEC §10.3); false when stored before it.
	RequireSignedDecisions bool `json:"require_signed_decisions,omitempty"`
	RequireMFA             bool `json:"require_mfa,omitempty"`
}

// TenantPolicy encodes s's policy settings.
func TenantPolicy(s lockbox.Settings) (string, error) {
	b, err := json.Marshal(tenantPolicy{ApprovalsRequired: s.ApprovalsRequired, MaxTotalAccessMinutes: s.MaxTotalAccessMinutes,
		BreakGlass: &s.BreakGlass, Escalation: &s.Escalation, RequireSignedDecisions: s.RequireSignedDecisions, RequireMFA: s.RequireMFA})
	return string(b), err
}

// ParseTenantPolicy decodes str into s's policy settings; what a tenant
// stored before policies existed ('{}') takes the defaults.
func ParseTenantPolicy(str string, s *lockbox.Settings) error {
	var p tenantPolicy
	if err := decode(str, &p); err != nil {
		return err
	}
	d := lockbox.DefaultSettings()
	s.ApprovalsRequired = d.ApprovalsRequired
	if p.ApprovalsRequired != 0 {
		s.ApprovalsRequired = p.ApprovalsRequired
	}
	s.RequireSignedDecisions = p.RequireSignedDecisions
	s.RequireMFA = p.RequireMFA
	s.MaxTotalAccessMinutes = d.MaxTotalAccessMinutes
	if p.MaxTotalAccessMinutes != 0 {
		s.MaxTotalAccessMinutes = p.MaxTotalAccessMinutes
	}
	s.BreakGlass, s.Escalation = d.BreakGlass, d.Escalation
	if p.BreakGlass != nil {
		s.BreakGlass = *p.BreakGlass
	}
	if p.Escalation != nil {
		s.Escalation = *p.Escalation
	}
	return nil
}

// utcPtr is t in UTC, as the stores read every other time.
func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
