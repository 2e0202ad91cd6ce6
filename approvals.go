package lockbox

import (
	"slices"
	"time"
)

// Quorum and approve-with-changes (SPEC §11). A pending request needs
// ApprovalsRequired approvals from distinct tenant approvers; each approval
// may narrow what is granted, and the request's Operations, DurationMinutes
// and StartTime are always what every approval so far accepts (the
// narrowest), while RequestedOperations and RequestedDurationMinutes keep
// what the operator asked for.

// Limits of approvals_required.
const (
	MinApprovalsRequired = 1
	MaxApprovalsRequired = 5
)

// Approval is one tenant approver's yes to a pending request, with the
// narrowing they asked for (nil and empty for none).
type Approval struct {
	By              string     `json:"by"`
	At              time.Time  `json:"at"`
	Comment         *string    `json:"comment"`
	DurationMinutes *int       `json:"duration_minutes,omitempty"`
	Operations      []string   `json:"operations,omitempty"`
	StartTime       *time.Time `json:"start_time,omitempty"`
	// UserID is the approver's stable id: distinct approvers are distinct
	// ids, never merely distinct addresses.
	UserID string `json:"-"`
	// Signed is the approver's signed decision, in a tenant that requires
	// them (SPEC §10.3): kept with the approval so that a grant can check it.
	Signed *SignedDecision `json:"-"`
}

// Changes narrow a request on approval: a shorter duration, a subset of
// the operations, a later start. The zero value changes nothing.
type Changes struct {
	DurationMinutes *int       `json:"duration_minutes,omitempty"`
	Operations      []string   `json:"operations,omitempty"`
	StartTime       *time.Time `json:"start_time,omitempty"`
}

// Empty reports whether c changes nothing.
func (c Changes) Empty() bool {
	return c.DurationMinutes == nil && c.Operations == nil && c.StartTime == nil
}

// Actor is who causes an event, and what they said and asked for.
type Actor struct {
	Email   string
	UserID  string
	Comment string
	// Changes is the narrowing an approver asks for (approvals only).
	Changes Changes
	// Extend is the requester's ask for more time (EventExtend only).
	Extend *ExtensionAsk
	// Signed is the decider's verified signed decision, if any.
	Signed *SignedDecision
}

// Quorum is how many approvals r needs in all (at least one).
func (r *AccessRequest) Quorum() int {
	return max(r.ApprovalsRequired, MinApprovalsRequired)
}

// Resolve is the event that ev is for r as it stands: a person's approval
// short of the quorum only records the approval (EventRecordApproval); the
// last one approves. Every other event is itself.
func (r *AccessRequest) Resolve(ev Event) Event {
	if ev == EventApprove && len(r.Approvals)+1 < r.Quorum() {
		return EventRecordApproval
	}
	return r.resolveExtension(ev)
}

// CheckDecider refuses (ECONFLICT) a person's approval, of the request or
// of its pending extension, when they already gave it: a quorum counts
// distinct people.
func (r *AccessRequest) CheckDecider(ev Event, userID string) error {
	switch ev {
	case EventApprove:
		return r.CheckApprover(userID)
	case EventExtensionApprove:
		if x := r.PendingExtension(); x != nil && userID != "" &&
			slices.ContainsFunc(x.Approvals, func(a Approval) bool { return a.UserID == userID }) {
			return Errorf(ECONFLICT, "You already approved the extension of request %s; another approver must.", r.Reference)
		}
	}
	return nil
}

// ApprovedBy reports whether the user with id userID has already approved r.
func (r *AccessRequest) ApprovedBy(userID string) bool {
	return slices.ContainsFunc(r.Approvals, func(a Approval) bool { return a.UserID == userID })
}

// CheckApprover refuses (ECONFLICT) an approval by someone who already
// approved r: a quorum counts distinct people.
func (r *AccessRequest) CheckApprover(userID string) error {
	if userID != "" && r.ApprovedBy(userID) {
		return Errorf(ECONFLICT, "You already approved request %s; %d more approval(s) from other approvers are needed.",
			r.Reference, r.Quorum()-len(r.Approvals))
	}
	return nil
}

// approve records a's approval of r at now and narrows r by a's changes.
// Each change is checked against what the operator requested (widening is
// EINVALID); under a quorum the narrowest of all approvals applies: the
// shortest duration, the operations every approver kept, the latest start.
// It returns ECONFLICT when a already approved, and on any error leaves r
// unchanged.
func (r *AccessRequest) approve(a Actor, now time.Time) error {
	if err := r.CheckApprover(a.UserID); err != nil {
		return err
	}
	c := a.Changes
	requested := r.RequestedDurationMinutes
	if requested == 0 {
		requested = r.DurationMinutes
	}
	if d := c.DurationMinutes; d != nil && (*d < 1 || *d > requested) {
		return FieldErrorf(EINVALID, "duration_minutes", "An approval may shorten the access, not lengthen it: duration_minutes must be between 1 and %d; got %d.", requested, *d)
	}
	ops, err := r.narrowOperations(c.Operations)
	if err != nil {
		return err
	}
	start, err := r.narrowStart(c.StartTime, now)
	if err != nil {
		return err
	}
	var comment *string
	if a.Comment != "" {
		comment = &a.Comment
	}
	rec := Approval{By: a.Email, At: now, Comment: comment, UserID: a.UserID, StartTime: start, Signed: a.Signed}
	if d := c.DurationMinutes; d != nil {
		rec.DurationMinutes = ptrTo(*d)
		r.DurationMinutes = min(r.DurationMinutes, *d)
	}
	if ops != nil {
		rec.Operations = ops
		r.Operations = slices.DeleteFunc(slices.Clone(r.Operations), func(op string) bool { return !slices.Contains(ops, op) })
	}
	if start != nil && (r.StartTime == nil || start.After(*r.StartTime)) {
		r.StartTime = start
	}
	r.Approvals = append(slices.Clone(r.Approvals), rec)
	return nil
}

// narrowOperations checks that ops (nil for no change) is a non-empty
// subset of the requested operations that keeps at least one operation
// earlier approvals kept, and returns it without repeats.
func (r *AccessRequest) narrowOperations(ops []string) ([]string, error) {
	if ops == nil {
		return nil, nil
	}
	if len(ops) == 0 {
		return nil, FieldErrorf(EINVALID, "operations", "operations must keep at least one operation; deny the request to grant none.")
	}
	requested := r.RequestedOperations
	if requested == nil {
		requested = r.Operations
	}
	var out []string
	for _, op := range ops {
		if !slices.Contains(requested, op) {
			return nil, FieldErrorf(EINVALID, "operations", "Operation %q was not requested (%v): an approval may only remove operations.", op, requested)
		}
		if !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	if !slices.ContainsFunc(out, func(op string) bool { return slices.Contains(r.Operations, op) }) {
		return nil, FieldErrorf(EINVALID, "operations", "Earlier approvals kept only %v; keep at least one of them, or deny the request.", r.Operations)
	}
	return out, nil
}

// narrowStart checks an approver's start time (nil for no change): not
// earlier than the requested start (or now, when none was requested), at
// most 30 days ahead.
func (r *AccessRequest) narrowStart(start *time.Time, now time.Time) (*time.Time, error) {
	if start == nil {
		return nil, nil
	}
	t := start.UTC().Truncate(time.Microsecond)
	earliest := now.Add(-5 * time.Minute) // clock skew, as for a requested start
	if r.RequestedStartTime != nil && r.RequestedStartTime.After(earliest) {
		earliest = *r.RequestedStartTime
	}
	if t.Before(earliest) {
		return nil, FieldErrorf(EINVALID, "start_time", "An approval may delay the start, not bring it forward: start_time must be at or after %s.", earliest.UTC().Format(time.RFC3339))
	}
	if t.After(now.Add(MaxStartTimeAhead)) {
		return nil, FieldErrorf(EINVALID, "start_time", "start_time may be at most 30 days ahead.")
	}
	return &t, nil
}

func ptrTo[T any](v T) *T { return &v }

// approvalData is the audit data of an approval: how far the quorum is,
// and the narrowing this approver asked for.
func approvalData(r *AccessRequest) map[string]any {
	m := map[string]any{}
	if r.Quorum() > 1 {
		m["approvals"] = len(r.Approvals)
		m["approvals_required"] = r.Quorum()
	}
	if n := len(r.Approvals); n > 0 {
		a := r.Approvals[n-1]
		if a.DurationMinutes != nil {
			m["approved_duration_minutes"] = *a.DurationMinutes
		}
		if a.Operations != nil {
			m["approved_operations"] = a.Operations
		}
		if a.StartTime != nil {
			m["approved_start_time"] = AuditTime(a.StartTime)
		}
	}
	return m
}
