package lockbox

// Event is something that happens to a request. People cause the first
// group; the system causes the second when a time comes.
type Event string

const (
	EventReviewApprove Event = "review_approve"
	EventReviewDeny    Event = "review_deny"
	EventApprove       Event = "approve"
	EventDeny          Event = "deny"
	EventCancel        Event = "cancel"
	EventRevoke        Event = "revoke"
	EventComplete      Event = "complete"

	// EventSystemApprove approves a reviewed request of a tenant that does not
	// require approval.
	EventSystemApprove Event = "system_approve"
	EventExpire        Event = "expire"
	EventActivate      Event = "activate"
	EventAccessEnd     Event = "access_end"
)

// PersonEvents are the events a person may cause.
var PersonEvents = []Event{EventReviewApprove, EventReviewDeny, EventApprove, EventDeny,
	EventCancel, EventRevoke, EventComplete}

// SystemEvents are the events only the system causes.
var SystemEvents = []Event{EventSystemApprove, EventExpire, EventActivate, EventAccessEnd}

// transitions is SPEC §3's table. Approval lands in approved; the service
// then activates at once when the start time has come, so the audit log
// shows both steps.
var transitions = map[Status]map[Event]Status{
	StatusPendingReview: {
		EventReviewApprove: StatusPending,
		EventReviewDeny:    StatusDenied,
		EventCancel:        StatusCanceled,
		EventExpire:        StatusExpired,
	},
	StatusPending: {
		EventApprove:       StatusApproved,
		EventSystemApprove: StatusApproved,
		EventDeny:          StatusDenied,
		EventCancel:        StatusCanceled,
		EventExpire:        StatusExpired,
	},
	StatusApproved: {
		EventCancel:   StatusCanceled,
		EventRevoke:   StatusRevoked,
		EventActivate: StatusActive,
	},
	StatusActive: {
		EventRevoke:    StatusRevoked,
		EventComplete:  StatusCompleted,
		EventAccessEnd: StatusCompleted,
	},
}

// Next returns the status that ev leads to from s, or ECONFLICT when the
// table has no such transition.
func Next(s Status, ev Event) (Status, error) {
	if to, ok := transitions[s][ev]; ok {
		return to, nil
	}
	return "", Errorf(ECONFLICT, "A request that is %s cannot be %s.", s, ev.Verb())
}

// AuditOperation is the audit operation recorded when ev succeeds.
func (ev Event) AuditOperation() string {
	switch ev {
	case EventReviewApprove:
		return OpRequestReviewed
	case EventReviewDeny:
		return OpRequestDenied
	case EventApprove, EventSystemApprove:
		return OpRequestApproved
	case EventDeny:
		return OpRequestDenied
	case EventCancel:
		return OpRequestCanceled
	case EventRevoke:
		return OpRequestRevoked
	case EventComplete, EventAccessEnd:
		return OpRequestCompleted
	case EventExpire:
		return OpRequestExpired
	case EventActivate:
		return OpRequestActivated
	}
	return "request." + string(ev)
}

// Verb is the past participle of ev, for messages ("approved").
func (ev Event) Verb() string {
	switch ev {
	case EventReviewApprove:
		return "approved in review"
	case EventReviewDeny:
		return "denied in review"
	case EventApprove, EventSystemApprove:
		return "approved"
	case EventDeny:
		return "denied"
	case EventCancel:
		return "canceled"
	case EventRevoke:
		return "revoked"
	case EventComplete, EventAccessEnd:
		return "completed"
	case EventExpire:
		return "expired"
	case EventActivate:
		return "activated"
	}
	return string(ev)
}
