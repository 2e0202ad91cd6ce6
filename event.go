package lockbox

import (
	"fmt"
	"maps"
	"time"
)

// EventRule is what one event does: one row of the event table. The
// workflow reads the row instead of switching on the event, so adding an
// event is adding a row (and its tests); Apply (state.go) performs the
// change a row describes on a request.
type EventRule struct {
	Event Event
	// System marks an event only Lockbox itself causes.
	System bool
	// From lists the statuses the event may leave; To is where it leads
	// (SPEC §3), "" for an event that keeps the status it finds (an
	// acknowledgement of an ended request).
	From []Status
	To   Status
	// Due, for an event that happens by itself when a time comes, is that
	// time for a request in one of the From statuses. A request that ends
	// this way ends at that time, however late the worker noticed.
	Due func(r *AccessRequest) time.Time
	// Verb is the past participle, for messages ("approved").
	Verb string
	// Operation and RecordType are those of the audit record the event
	// appends.
	Operation  string
	RecordType string
	// Records is the group of the request's who-fields the actor fills.
	Records Who
	// Approval marks an event that records the actor's approval, with the
	// narrowing they asked for, in the request's approvals (approvals.go).
	Approval bool
	// Step, when set, is the person's event this row stands for when the
	// request resolves it so (AccessRequest.Resolve): people ask for Step,
	// never for this row's event.
	Step Event
	// Guard, when set, is the row's condition beyond the status: ECONFLICT
	// when the request does not allow the event (AccessRequest.Check).
	Guard func(r *AccessRequest) error
	// Effect, when set, is the row's own change to the request, made by
	// Apply before the status changes; an error leaves r unchanged.
	Effect func(r *AccessRequest, a Actor, now time.Time, s *Settings) error
	// AuditData, when set, adds the event's own fields to the audit
	// record's data, from the request as the event left it.
	AuditData func(r *AccessRequest) map[string]any
	// AskApprovers is the email that asks the tenant's approvers to decide;
	// it is not sent when the tenant does not require approval, since the
	// system then decides at once. TellApprovers is an email that informs
	// them. TellRequester is the requester's email. "" for none.
	AskApprovers, TellApprovers, TellRequester string
	// TellEscalation is the email to the tenant's escalation addresses
	// (Settings.Escalation.Notify); "" for none.
	TellEscalation string
	// Webhook is the event type delivered to the tenant's endpoints that
	// subscribed to it, once the tenant can see the request; "" for none.
	Webhook string
}

// Who names a group of a request's who-fields: who did it, when, and what
// they said.
type Who int

const (
	WhoNobody       Who = iota
	WhoReviewer         // ReviewedBy, ReviewedAt, ReviewComment
	WhoDecider          // DecidedBy, DecidedAt, DecisionComment
	WhoEnder            // EndedBy, EndComment (EndedAt comes with the ending status)
	WhoAcknowledger     // AcknowledgedBy, AcknowledgedAt, AcknowledgeComment
)

// EventRules is the event table, one row per event: people's events first,
// then the system's, each in lifecycle order.
var EventRules = []EventRule{
	{Event: EventReviewApprove, From: []Status{StatusPendingReview}, To: StatusPending,
		Verb: "approved in review", Operation: OpRequestReviewed, RecordType: RecordLockboxRequest,
		Records: WhoReviewer, AuditData: reviewDecision("approve"),
		AskApprovers: NoticePending, Webhook: EventTypeRequestPending},
	// Provider-internal: the tenant never saw the request, so no webhook.
	{Event: EventReviewDeny, From: []Status{StatusPendingReview}, To: StatusDenied,
		Verb: "denied in review", Operation: OpRequestDenied, RecordType: RecordLockboxRequest,
		Records: WhoReviewer, AuditData: reviewDecision("deny"),
		TellRequester: NoticeDenied},
	{Event: EventApprove, From: []Status{StatusPending}, To: StatusApproved,
		Verb: "approved", Operation: OpRequestApproved, RecordType: RecordLockboxDecision,
		Records: WhoDecider, Approval: true, AuditData: approvedData,
		TellRequester: NoticeApproved, Webhook: OpRequestApproved},
	// An approval short of the quorum: recorded, the request stays pending.
	{Event: EventRecordApproval, Step: EventApprove, From: []Status{StatusPending}, To: StatusPending,
		Verb: "approved", Operation: OpRequestApprovalRecorded, RecordType: RecordLockboxDecision,
		Approval: true, AuditData: approvalData},
	{Event: EventDeny, From: []Status{StatusPending}, To: StatusDenied,
		Verb: "denied", Operation: OpRequestDenied, RecordType: RecordLockboxDecision,
		Records: WhoDecider, TellRequester: NoticeDenied, Webhook: OpRequestDenied},
	{Event: EventCancel, From: []Status{StatusPendingReview, StatusPending, StatusApproved}, To: StatusCanceled,
		Verb: "canceled", Operation: OpRequestCanceled, RecordType: RecordLockboxDecision,
		Records: WhoEnder, Webhook: OpRequestCanceled},
	{Event: EventRevoke, From: []Status{StatusApproved, StatusActive}, To: StatusRevoked,
		Verb: "revoked", Operation: OpRequestRevoked, RecordType: RecordLockboxDecision,
		Records: WhoEnder, TellRequester: NoticeRevoked, Webhook: OpRequestRevoked},
	{Event: EventComplete, From: []Status{StatusActive}, To: StatusCompleted,
		Verb: "completed", Operation: OpRequestCompleted, RecordType: RecordLockboxRequest,
		Records: WhoEnder, Webhook: OpRequestCompleted},

	// Extensions: the requester asks, the tenant decides (with the
	// request's quorum), and an undecided one lapses with the access.
	{Event: EventExtend, From: []Status{StatusActive}, To: StatusActive,
		Verb: "extended", Operation: OpRequestExtensionRequested, RecordType: RecordLockboxRequest,
		Guard: extensionGuard(EventExtend), Effect: func(r *AccessRequest, a Actor, now time.Time, s *Settings) error { return r.extend(a, now, s) },
		AuditData: extensionData, TellApprovers: NoticeExtensionRequested, Webhook: OpRequestExtensionRequested},
	{Event: EventExtensionApprove, From: []Status{StatusActive}, To: StatusActive,
		Verb: "extended", Operation: OpRequestExtensionApproved, RecordType: RecordLockboxDecision,
		Guard: extensionGuard(EventExtensionApprove), Effect: decideExtension(true, ExtensionApproved),
		AuditData: extensionData, TellRequester: NoticeExtensionApproved, Webhook: OpRequestExtensionApproved},
	{Event: EventRecordExtensionApproval, Step: EventExtensionApprove, From: []Status{StatusActive}, To: StatusActive,
		Verb: "extended", Operation: OpRequestApprovalRecorded, RecordType: RecordLockboxDecision,
		Guard: extensionGuard(EventExtensionApprove), Effect: decideExtension(true, ""), AuditData: extensionData},
	{Event: EventExtensionDeny, From: []Status{StatusActive}, To: StatusActive,
		Verb: "denied an extension", Operation: OpRequestExtensionDenied, RecordType: RecordLockboxDecision,
		Guard: extensionGuard(EventExtensionDeny), Effect: decideExtension(false, ExtensionDenied),
		AuditData: extensionData, TellRequester: NoticeExtensionDenied, Webhook: OpRequestExtensionDenied},

	// A person's review of a break-glass request that gave access.
	{Event: EventAcknowledge, From: []Status{StatusCompleted, StatusRevoked},
		Verb: "acknowledged", Operation: OpRequestAcknowledged, RecordType: RecordLockboxDecision,
		Records: WhoAcknowledger, Guard: acknowledgeGuard, Effect: acknowledge, AuditData: acknowledgedData,
		Webhook: OpRequestAcknowledged},

	// A reviewed request of a tenant that does not require approval.
	{Event: EventSystemApprove, System: true, From: []Status{StatusPending}, To: StatusApproved,
		Verb: "approved", Operation: OpRequestApproved, RecordType: RecordLockboxDecision,
		Records: WhoDecider, AuditData: systemApproval,
		TellApprovers: NoticeAutoApproved, TellRequester: NoticeApproved, Webhook: OpRequestApproved},
	// A tenant's policy rule decided as the request became pending: only
	// when the request keeps that outcome (AccessRequest.Policy).
	{Event: EventPolicyApprove, System: true, From: []Status{StatusPending}, To: StatusApproved,
		Verb: "approved by policy", Operation: OpRequestApproved, RecordType: RecordLockboxDecision,
		Records: WhoDecider, Guard: policyOutcome(OutcomeAutoApprove), AuditData: policyApproval,
		TellApprovers: NoticePolicyApproved, TellRequester: NoticeApproved, Webhook: OpRequestApproved},
	{Event: EventPolicyDeny, System: true, From: []Status{StatusPending}, To: StatusDenied,
		Verb: "denied by policy", Operation: OpRequestDenied, RecordType: RecordLockboxDecision,
		Records: WhoDecider, Guard: policyOutcome(OutcomeDeny), AuditData: policyDenial,
		TellApprovers: NoticePolicyDenied, TellRequester: NoticeDenied, Webhook: OpRequestDenied},
	// A reviewed break-glass request of a tenant that enabled break-glass
	// (SystemDecision): approved by the system and, the start time ignored,
	// activated at once; everyone who may approve hears of it at once.
	{Event: EventBreakGlass, System: true, From: []Status{StatusPending}, To: StatusApproved,
		Verb: "activated by break-glass", Operation: OpRequestBreakGlassActivated, RecordType: RecordLockboxDecision,
		Records: WhoDecider, Guard: breakGlassGuard, Effect: breakGlass, AuditData: breakGlassData,
		TellApprovers: NoticeBreakGlass, TellRequester: NoticeApproved, Webhook: OpRequestBreakGlassActivated},
	// Before the decision deadline, while pending: escalated once.
	{Event: EventEscalate, System: true, From: []Status{StatusPending}, To: StatusPending,
		Due: escalationDue, Guard: escalationGuard, Effect: escalate,
		Verb: "escalated", Operation: OpRequestEscalated, RecordType: RecordLockboxRequest,
		AuditData: escalationData, TellEscalation: NoticeEscalated},
	{Event: EventExpire, System: true, From: []Status{StatusPendingReview, StatusPending}, To: StatusExpired,
		Due:  func(r *AccessRequest) time.Time { return r.ExpiresAt },
		Verb: "expired", Operation: OpRequestExpired, RecordType: RecordLockboxDecision,
		Records: WhoEnder, AuditData: deadline,
		TellRequester: NoticeExpired, Webhook: OpRequestExpired},
	{Event: EventActivate, System: true, From: []Status{StatusApproved}, To: StatusActive,
		Due:  func(r *AccessRequest) time.Time { return *r.AccessStartsAt },
		Verb: "activated", Operation: OpRequestActivated, RecordType: RecordLockboxRequest,
		AuditData: accessWindow, Webhook: OpRequestActivated},
	// Before the access end, at the same time: the extension lapses first.
	{Event: EventExtensionLapse, System: true, From: []Status{StatusActive}, To: StatusActive,
		Due: extensionDue, Guard: extensionGuard(EventExtensionLapse), Effect: decideExtension(false, ExtensionLapsed),
		Verb: "lapsed", Operation: OpRequestExtensionLapsed, RecordType: RecordLockboxRequest,
		AuditData: extensionData, TellRequester: NoticeExtensionLapsed, Webhook: OpRequestExtensionLapsed},
	{Event: EventAccessEnd, System: true, From: []Status{StatusActive}, To: StatusCompleted,
		Due:  func(r *AccessRequest) time.Time { return *r.AccessEndsAt },
		Verb: "completed", Operation: OpRequestCompleted, RecordType: RecordLockboxRequest,
		Records: WhoEnder, AuditData: accessEnded, Webhook: OpRequestCompleted},
	// The requester's account was disabled or removed: nobody may act on
	// their grant any more, and nobody need decide what they asked.
	{Event: EventRequesterRevoke, System: true, From: []Status{StatusApproved, StatusActive}, To: StatusRevoked,
		Verb: "revoked", Operation: OpRequestRevoked, RecordType: RecordLockboxDecision,
		Records: WhoEnder, AuditData: requesterGone, Webhook: OpRequestRevoked},
	{Event: EventRequesterCancel, System: true, From: []Status{StatusPendingReview, StatusPending}, To: StatusCanceled,
		Verb: "canceled", Operation: OpRequestCanceled, RecordType: RecordLockboxDecision,
		Records: WhoEnder, AuditData: requesterGone, Webhook: OpRequestCanceled},
}

// Rule returns ev's row of the event table; ok is false for an unknown
// event.
func (ev Event) Rule() (rule EventRule, ok bool) {
	for _, r := range EventRules {
		if r.Event == ev {
			return r, true
		}
	}
	return EventRule{}, false
}

// leaves reports whether the row's event may leave s.
func (rule EventRule) leaves(s Status) bool {
	for _, from := range rule.From {
		if from == s {
			return true
		}
	}
	return false
}

// eventsWhere lists the table's events whose System mark is system, other
// than the steps of another event.
func eventsWhere(system bool) []Event {
	var out []Event
	for _, r := range EventRules {
		if r.System == system && r.Step == "" {
			out = append(out, r.Event)
		}
	}
	return out
}

// Audit data of the rows. Times are RFC 3339 strings in UTC, as customers'
// tools parse them.

func reviewDecision(decision string) func(*AccessRequest) map[string]any {
	return func(*AccessRequest) map[string]any { return map[string]any{"decision": decision} }
}

func accessWindow(r *AccessRequest) map[string]any {
	return map[string]any{"access_starts_at": AuditTime(r.AccessStartsAt), "access_ends_at": AuditTime(r.AccessEndsAt)}
}

func approvedData(r *AccessRequest) map[string]any {
	m := accessWindow(r)
	maps.Copy(m, approvalData(r))
	return m
}

func systemApproval(r *AccessRequest) map[string]any {
	m := accessWindow(r)
	m["decided_by"] = "system"
	m["why"] = "The tenant does not require approval for data access requests."
	return m
}

// policyOutcome is the guard of a policy decision's row: the request's
// rules decided outcome when it became pending.
func policyOutcome(outcome string) func(r *AccessRequest) error {
	return func(r *AccessRequest) error {
		if r.Policy == nil || r.Policy.Outcome != outcome {
			return Errorf(ECONFLICT, "No policy rule decided %s for request %s.", outcome, r.Reference)
		}
		return nil
	}
}

func policyApproval(r *AccessRequest) map[string]any {
	m := accessWindow(r)
	maps.Copy(m, policyDenial(r))
	return m
}

func policyDenial(r *AccessRequest) map[string]any {
	var d PolicyDecision // the guard makes sure there is one
	if r.Policy != nil {
		d = *r.Policy
	}
	return map[string]any{"decided_by": "policy:" + d.Rule, "rule": d.Rule, "matched": d.Matched,
		"why": fmt.Sprintf("The tenant's policy rule %q matched this request.", d.Rule)}
}

func deadline(r *AccessRequest) map[string]any {
	return map[string]any{"deadline": AuditTime(&r.ExpiresAt)}
}

func accessEnded(r *AccessRequest) map[string]any {
	return map[string]any{"access_ended_at": AuditTime(r.AccessEndsAt)}
}

func requesterGone(*AccessRequest) map[string]any {
	return map[string]any{"decided_by": "system", "why": "The requester's provider account was disabled or removed."}
}

// AuditTime is t as an audit data value: RFC 3339 in UTC, or null.
func AuditTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}
