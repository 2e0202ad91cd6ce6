package lockbox

import (
	"time"
)

// Break-glass and escalation (SPEC §11). Each is rows of the event table
// (event.go) and the request fields those rows change; this file holds the
// rows' functions.
//
// Break-glass: an operator files a request with BreakGlass and an
// incident; the provider's review still applies; once reviewed, a tenant
// that enabled break-glass does not decide: the system activates the
// request at once (EventBreakGlass), capped at the tenant's max_minutes,
// and tells every approver loudly. The request then needs review
// (NeedsReview) until a tenant approver acknowledges it after it ended
// (EventAcknowledge).
//
// Escalation: a request that becomes pending stores when it escalates
// (EscalateAt, from the tenant's setting then); still pending at that
// time, it is escalated once (EventEscalate, a deadline like any other),
// which emails the tenant's escalation addresses.

// MaxIncidentLen bounds a break-glass request's incident reference.
const MaxIncidentLen = 64

// SystemDecision is the system event that decides r, pending after review,
// in its tenant's settings s at once, or "" when the tenant's approvers
// decide: break-glass when the tenant enabled it, else the system's
// approval when the tenant does not require approval. The approval
// workflow takes it only when it may stand unsigned
// (UnsignedDecisionAllowed, applied in approval's decidedAtOnce).
func SystemDecision(r *AccessRequest, s *Settings) Event {
	switch {
	case r.Status != StatusPending || s == nil:
		return ""
	case r.BreakGlass && s.BreakGlass.Enabled:
		return EventBreakGlass
	case !s.RequireApproval:
		return EventSystemApprove
	}
	return ""
}

// UnsignedDecisionAllowed is the one rule of which decisions may stand
// without a person's valid signed decision (SPEC §10.3): in a tenant whose
// settings s do not require signed decisions, all; in one that does, only
// a policy rule's denial (it withholds access, which anyone running the
// servers can do anyway) and a break-glass activation while the tenant
// enables break-glass (the tenant chose to let the provider start access
// alone in an emergency: a forged activation gives the provider nothing a
// real one does not, and both are in the log, loud and needing review).
// Every other decision — a person's approval or denial, of a request or an
// extension, and the system's or a rule's approval — needs one, so in such
// a tenant nothing is approved automatically: people decide, with their
// passkeys. The approval workflow decides with it (SystemDecision, its
// automatic decisions, grants) and the offline verifier (auditlog) checks
// the log with it, on the settings the log shows at the time.
func UnsignedDecisionAllowed(ev Event, s *Settings) bool {
	if s == nil || !s.RequireSignedDecisions {
		return true
	}
	switch ev {
	case EventPolicyDeny:
		return true
	case EventBreakGlass:
		return s.BreakGlass.Enabled
	}
	return false
}

// breakGlassGuard: only a break-glass request can be activated so.
func breakGlassGuard(r *AccessRequest) error {
	if !r.BreakGlass {
		return Errorf(ECONFLICT, "Request %s is not a break-glass request.", r.Reference)
	}
	return nil
}

// breakGlass is the Effect of EventBreakGlass: access starts now (a start
// time asked for is not waited for: it is an emergency), lasts at most the
// tenant's max_minutes, and needs the tenant's review afterwards.
func breakGlass(r *AccessRequest, _ Actor, _ time.Time, s *Settings) error {
	if s != nil && r.DurationMinutes > s.BreakGlass.MaxMinutes {
		r.DurationMinutes = s.BreakGlass.MaxMinutes
	}
	r.StartTime = nil
	r.NeedsReview = true
	return nil
}

func breakGlassData(r *AccessRequest) map[string]any {
	m := accessWindow(r)
	m["decided_by"] = "system"
	m["incident"] = r.Incident
	m["requested_duration_minutes"] = r.RequestedDurationMinutes
	m["why"] = "Break-glass: the tenant lets a reviewed emergency request start without approval; it must be acknowledged afterwards."
	return m
}

// acknowledgeGuard: only a break-glass request whose access ended and that
// nobody acknowledged yet needs (and takes) an acknowledgement.
func acknowledgeGuard(r *AccessRequest) error {
	if !r.NeedsReview {
		if r.AcknowledgedAt != nil {
			return Errorf(ECONFLICT, "Request %s was already acknowledged by %s.", r.Reference, *r.AcknowledgedBy)
		}
		return Errorf(ECONFLICT, "Request %s needs no acknowledgement: only a break-glass request that gave access does.", r.Reference)
	}
	return nil
}

// acknowledge is the Effect of EventAcknowledge.
func acknowledge(r *AccessRequest, _ Actor, _ time.Time, _ *Settings) error {
	r.NeedsReview = false
	return nil
}

func acknowledgedData(r *AccessRequest) map[string]any {
	return map[string]any{"incident": r.Incident, "break_glass": r.BreakGlass}
}

// escalateAt is when a request that becomes pending at now escalates under
// s; nil when escalation is off.
func escalateAt(s *Settings, now time.Time) *time.Time {
	if s == nil || s.Escalation.AfterMinutes <= 0 {
		return nil
	}
	at := now.Add(time.Duration(s.Escalation.AfterMinutes) * time.Minute)
	return &at
}

// escalationDue is when r escalates: zero when it has no escalation time,
// was escalated already, or expires first (then nobody need be hurried).
func escalationDue(r *AccessRequest) time.Time {
	if r.EscalateAt == nil || r.EscalatedAt != nil || !r.EscalateAt.Before(r.ExpiresAt) {
		return time.Time{}
	}
	return *r.EscalateAt
}

func escalationGuard(r *AccessRequest) error {
	if escalationDue(r).IsZero() {
		return Errorf(ECONFLICT, "Request %s has no escalation due.", r.Reference)
	}
	return nil
}

// escalate is the Effect of EventEscalate: escalated at its own time, so
// the result does not depend on when the worker (or a reader) applied it.
func escalate(r *AccessRequest, _ Actor, _ time.Time, _ *Settings) error {
	at := *r.EscalateAt
	r.EscalatedAt = &at
	return nil
}

func escalationData(r *AccessRequest) map[string]any {
	return map[string]any{"escalated_at": AuditTime(r.EscalatedAt), "deadline": AuditTime(&r.ExpiresAt)}
}
