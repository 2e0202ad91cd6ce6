package lockbox

import (
	"fmt"
	"time"
)

// Event is something that happens to a request. People cause the first
// group; the system causes the second when a time comes. What each event
// does is its row of the event table (event.go).
type Event string

const (
	EventReviewApprove Event = "review_approve"
	EventReviewDeny    Event = "review_deny"
	EventApprove       Event = "approve"
	EventDeny          Event = "deny"
	EventCancel        Event = "cancel"
	EventRevoke        Event = "revoke"
	EventComplete      Event = "complete"
	// EventRecordApproval is a person's approval short of the quorum: the
	// workflow resolves EventApprove to it (AccessRequest.Resolve).
	EventRecordApproval Event = "record_approval"

	// Extensions (SPEC §11): the requester asks, the tenant decides.
	EventExtend           Event = "extend"
	EventExtensionApprove Event = "extension_approve"
	EventExtensionDeny    Event = "extension_deny"
	// EventRecordExtensionApproval is an extension approval short of the
	// quorum (AccessRequest.Resolve).
	EventRecordExtensionApproval Event = "record_extension_approval"

	// EventSystemApprove approves a reviewed request of a tenant that does not
	// require approval.
	EventSystemApprove Event = "system_approve"
	EventExpire        Event = "expire"
	EventActivate      Event = "activate"
	EventAccessEnd     Event = "access_end"
	// EventRequesterRevoke and EventRequesterCancel end the requests of a
	// staff member who was disabled or removed (SPEC §10.1): access that
	// was granted is revoked, requests still open are canceled.
	EventRequesterRevoke Event = "requester_revoke"
	EventRequesterCancel Event = "requester_cancel"
	// EventExtensionLapse ends an extension nobody decided when the access
	// it would extend ends.
	EventExtensionLapse Event = "extension_lapse"
	// EventPolicyApprove and EventPolicyDeny are a tenant's policy rule
	// deciding a request as it becomes pending (SPEC §11); the actor is
	// PolicyActor(rule id).
	EventPolicyApprove Event = "policy_approve"
	EventPolicyDeny    Event = "policy_deny"

	// Break-glass and escalation (SPEC §11, breakglass.go).
	EventBreakGlass  Event = "break_glass"
	EventAcknowledge Event = "acknowledge"
	EventEscalate    Event = "escalate"
)

// PersonEvents are the events a person may cause, in table order.
var PersonEvents = eventsWhere(false)

// SystemEvents are the events only the system causes, in table order.
var SystemEvents = eventsWhere(true)

// Next returns the status that ev leads to from s, or ECONFLICT when the
// event table has no such transition. Approval lands in approved; the
// service then activates at once when the start time has come, so the
// audit log shows both steps.
func Next(s Status, ev Event) (Status, error) {
	if rule, ok := ev.Rule(); ok && rule.leaves(s) {
		if rule.To == "" {
			return s, nil // the row's event keeps the status
		}
		return rule.To, nil
	}
	return "", Errorf(ECONFLICT, "A request that is %s cannot be %s.", s, ev.Verb())
}

// Check returns ECONFLICT when r, as it stands, does not allow ev: its
// status (Next), or the row's own condition (an extension to decide).
func (r *AccessRequest) Check(ev Event) error {
	if _, err := Next(r.Status, ev); err != nil {
		return err
	}
	if rule, _ := ev.Rule(); rule.Guard != nil {
		return rule.Guard(r)
	}
	return nil
}

// AuditOperation is the audit operation recorded when ev succeeds.
func (ev Event) AuditOperation() string {
	if rule, ok := ev.Rule(); ok {
		return rule.Operation
	}
	return "request." + string(ev)
}

// Verb is the past participle of ev, for messages ("approved").
func (ev Event) Verb() string {
	if rule, ok := ev.Rule(); ok {
		return rule.Verb
	}
	return string(ev)
}

// Apply performs ev on r, as by (a person's address, or System.Email) at
// now with the person's comment: r moves to the status the event table
// gives, records who did it, takes the times its new status implies, its
// next deadline and reminder (Schedule), and a new version. It returns the
// status r left, and ECONFLICT, leaving r unchanged, when r's status does
// not allow ev.
//
// s are the tenant's settings: a request that becomes pending takes its
// decision deadline and reminder from them. s may be nil for an event that
// cannot make a request pending, such as every deadline's event: this is
// how a reader applies deadlines in memory (Settle).
//
// Apply is the one place a request's fields change on an event, for the
// workflow that writes the change and for readers that only show it.
func (r *AccessRequest) Apply(ev Event, by, comment string, now time.Time, s *Settings) (Status, error) {
	return r.ApplyAs(ev, Actor{Email: by, Comment: comment}, now, s)
}

// ApplyAs is Apply by a, whose approval (a row with Approval) is recorded
// and may narrow r (AccessRequest.approve): EINVALID for a change that
// widens, ECONFLICT for an approver who already approved, r unchanged.
func (r *AccessRequest) ApplyAs(ev Event, a Actor, now time.Time, s *Settings) (Status, error) {
	from := r.Status
	to, err := Next(from, ev)
	if err != nil {
		return "", err
	}
	rule, _ := ev.Rule()
	if rule.Guard != nil {
		if err := rule.Guard(r); err != nil {
			return "", err
		}
	}
	if ev != EventExtend && a.Extend != nil {
		return "", Errorf(EINVALID, "Only asking for an extension takes minutes and a reason.")
	}
	becomesPending := to == StatusPending && from != StatusPending
	if becomesPending && s == nil {
		return "", fmt.Errorf("apply %s to request %s: the tenant's settings are needed", ev, r.ID)
	}
	if rule.Approval {
		if err := r.approve(a, now); err != nil {
			return "", err
		}
	} else if !a.Changes.Empty() {
		return "", Errorf(EINVALID, "Only an approval may change the duration, operations or start time of a request.")
	}
	if rule.Effect != nil {
		if err := rule.Effect(r, a, now, s); err != nil {
			return "", err
		}
	}
	rule.Records.record(r, a.Email, a.Comment, now)
	r.Status = to
	r.Version++
	switch {
	case becomesPending:
		r.ExpiresAt = now.Add(s.RequestTTL())
		r.EscalateAt, r.EscalatedAt = escalateAt(s, now), nil
		r.TenantVisible = true
		r.ApprovalsRequired = max(s.ApprovalsRequired, MinApprovalsRequired)
	case to == StatusApproved:
		r.TenantVisible = true
		start := now
		if r.StartTime != nil && r.StartTime.After(now) {
			start = *r.StartTime
		}
		end := start.Add(r.Duration())
		r.AccessStartsAt, r.AccessEndsAt = &start, &end
	case to.Terminal() && !from.Terminal():
		end := now
		if rule.Due != nil {
			end = rule.Due(r) // a deadline ends the request at the deadline itself
		}
		r.EndedAt = &end
	}
	r.Schedule(s)
	return from, nil
}

// record fills w's fields of r.
func (w Who) record(r *AccessRequest, by, comment string, at time.Time) {
	var c *string
	if comment != "" {
		c = &comment
	}
	switch w {
	case WhoReviewer:
		r.ReviewedBy, r.ReviewedAt, r.ReviewComment = &by, &at, c
	case WhoDecider:
		r.DecidedBy, r.DecidedAt, r.DecisionComment = &by, &at, c
	case WhoEnder:
		r.EndedBy, r.EndComment = &by, c
	case WhoAcknowledger:
		r.AcknowledgedBy, r.AcknowledgedAt, r.AcknowledgeComment = &by, &at, c
	}
}
