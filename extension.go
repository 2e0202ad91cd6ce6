package lockbox

import (
	"slices"
	"time"
)

// Extensions (SPEC §11). While a request is active its requester may ask
// for more time; the tenant approves (with the request's quorum, distinct
// approvers) or denies it. An extension nobody decided lapses when the
// access it would extend ends. Approved, it moves access_ends_at; the whole
// access never exceeds the tenant's max_total_access_minutes, nor, for
// access that started by break-glass, its break_glass.max_minutes.

// Extension states.
const (
	ExtensionPending  = "pending"
	ExtensionApproved = "approved"
	ExtensionDenied   = "denied"
	ExtensionLapsed   = "lapsed"
)

// Limits of max_total_access_minutes.
const (
	DefaultMaxTotalAccessMinutes = 480
	MinTotalAccessMinutes        = 1
	MaxTotalAccessMinutes        = 1440
)

// Extension is one request for more time.
type Extension struct {
	Minutes     int        `json:"minutes"`
	Reason      string     `json:"reason"`
	Status      string     `json:"status"`
	RequestedAt time.Time  `json:"requested_at"`
	Approvals   []Approval `json:"approvals"`
	DecidedBy   *string    `json:"decided_by"`
	DecidedAt   *time.Time `json:"decided_at"`
	Comment     *string    `json:"comment"`
}

// ExtensionAsk is the requester's ask: {"minutes","reason"}.
type ExtensionAsk struct {
	Minutes int    `json:"minutes"`
	Reason  string `json:"reason"`
}

// PendingExtension is r's undecided extension, or nil.
func (r *AccessRequest) PendingExtension() *Extension {
	if n := len(r.Extensions); n > 0 && r.Extensions[n-1].Status == ExtensionPending {
		return &r.Extensions[n-1]
	}
	return nil
}

// AccessMinutes is the length of r's whole access window in minutes (0
// before approval).
func (r *AccessRequest) AccessMinutes() int {
	if r.AccessStartsAt == nil || r.AccessEndsAt == nil {
		return 0
	}
	return int(r.AccessEndsAt.Sub(*r.AccessStartsAt) / time.Minute)
}

// checkExtensionCap refuses an extension of minutes that would make the
// whole access longer than the tenant allows: max_total_access_minutes for
// any request, and break_glass.max_minutes for one that started by
// break-glass, or else an extension would undo the break-glass cap. It is
// the one place of both caps, checked when the extension is asked and again
// when it is approved, with the tenant's settings then (they may have been
// lowered meanwhile).
func (r *AccessRequest) checkExtensionCap(minutes int, s *Settings) error {
	limit := DefaultMaxTotalAccessMinutes
	if s != nil && s.MaxTotalAccessMinutes != 0 {
		limit = s.MaxTotalAccessMinutes
	}
	now := r.AccessMinutes()
	if r.brokeGlass() && s != nil && now+minutes > s.BreakGlass.MaxMinutes {
		// 409, not 400: no number of minutes is wrong as such; this request,
		// being emergency access, cannot last longer (a normal request can).
		bg := s.BreakGlass.MaxMinutes
		return Errorf(ECONFLICT, "Request %s is break-glass access, which may last at most %d minutes in this tenant; it lasts %d minutes now, so at most %d more can be asked for. File a normal request for more time.",
			r.Reference, bg, now, max(bg-now, 0))
	}
	if now+minutes > limit {
		return FieldErrorf(EINVALID, "minutes", "The whole access may last at most %d minutes in this tenant; it is %d minutes now, so at most %d more can be asked for.",
			limit, now, max(limit-now, 0))
	}
	return nil
}

// brokeGlass reports whether r's access started by break-glass (rather
// than a break-glass request that followed the normal path because the
// tenant had not enabled it): only such a request needs review.
func (r *AccessRequest) brokeGlass() bool {
	return r.BreakGlass && (r.NeedsReview || r.AcknowledgedAt != nil)
}

// extensionGuard is the event table's Guard of the extension events: extend
// needs no extension pending; deciding one needs one pending.
func extensionGuard(ev Event) func(r *AccessRequest) error {
	return func(r *AccessRequest) error {
		pending := r.PendingExtension() != nil
		switch {
		case ev == EventExtend && pending:
			return Errorf(ECONFLICT, "Request %s already has an extension waiting for a decision.", r.Reference)
		case ev != EventExtend && !pending:
			return Errorf(ECONFLICT, "Request %s has no extension waiting for a decision.", r.Reference)
		}
		return nil
	}
}

// extend opens an extension of r as a asks (Apply, for EventExtend).
func (r *AccessRequest) extend(a Actor, now time.Time, s *Settings) error {
	ask := a.Extend
	if ask == nil {
		return Errorf(EINVALID, "minutes and reason are required to ask for more time.")
	}
	if ask.Minutes < 1 || time.Duration(ask.Minutes)*time.Minute > MaxAccessDuration {
		return FieldErrorf(EINVALID, "minutes", "minutes must be between 1 and 240; got %d.", ask.Minutes)
	}
	if err := ValidText("reason", ask.Reason, MaxReasonLen, true); err != nil {
		return err
	}
	if err := r.checkExtensionCap(ask.Minutes, s); err != nil {
		return err
	}
	r.Extensions = append(slices.Clone(r.Extensions), Extension{Minutes: ask.Minutes, Reason: ask.Reason,
		Status: ExtensionPending, RequestedAt: now, Approvals: []Approval{}})
	return nil
}

// resolveExtension is the event a person's extension approval is for r: an
// approval short of the request's quorum is only recorded.
func (r *AccessRequest) resolveExtension(ev Event) Event {
	if x := r.PendingExtension(); ev == EventExtensionApprove && x != nil && len(x.Approvals)+1 < r.Quorum() {
		return EventRecordExtensionApproval
	}
	return ev
}

// decideExtension is the Effect of the rows that decide an extension.
func decideExtension(approve bool, final string) func(r *AccessRequest, a Actor, now time.Time, s *Settings) error {
	return func(r *AccessRequest, a Actor, now time.Time, s *Settings) error {
		return r.decideExtension(a, now, s, approve, final)
	}
}

// decideExtension records a's decision on r's pending extension: an
// approval (counted toward the quorum, distinct approvers), and when final
// is set, the decision itself. Approved, access_ends_at moves. On error r
// is unchanged.
func (r *AccessRequest) decideExtension(a Actor, now time.Time, s *Settings, approve bool, final string) error {
	if approve {
		if err := r.CheckDecider(EventExtensionApprove, a.UserID); err != nil {
			return err
		}
		if err := r.checkExtensionCap(r.PendingExtension().Minutes, s); err != nil {
			return err
		}
	}
	r.Extensions = slices.Clone(r.Extensions)
	x := &r.Extensions[len(r.Extensions)-1]
	var comment *string
	if a.Comment != "" {
		comment = &a.Comment
	}
	if approve {
		x.Approvals = append(slices.Clone(x.Approvals), Approval{By: a.Email, At: now, Comment: comment, UserID: a.UserID, Signed: a.Signed})
	}
	if final == "" {
		return nil
	}
	x.Status = final
	if final != ExtensionLapsed {
		x.DecidedBy, x.DecidedAt, x.Comment = &a.Email, &now, comment
	}
	if final == ExtensionApproved {
		end := r.AccessEndsAt.Add(time.Duration(x.Minutes) * time.Minute)
		r.AccessEndsAt = &end
	}
	return nil
}

func extensionData(r *AccessRequest) map[string]any {
	m := map[string]any{"access_ends_at": AuditTime(r.AccessEndsAt)}
	if n := len(r.Extensions); n > 0 {
		x := r.Extensions[n-1]
		m["extension_minutes"] = x.Minutes
		m["extension_reason"] = x.Reason
		m["extension_status"] = x.Status
		if r.Quorum() > 1 {
			m["approvals"], m["approvals_required"] = len(x.Approvals), r.Quorum()
		}
	}
	return m
}

// extensionDue is when r's pending extension lapses: when the access it
// would extend ends. Zero when none is pending.
func extensionDue(r *AccessRequest) time.Time {
	if r.PendingExtension() == nil || r.AccessEndsAt == nil {
		return time.Time{}
	}
	return *r.AccessEndsAt
}
