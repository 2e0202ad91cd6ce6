package lockbox

import "time"

// Deadlines as data. A request changes by itself when a time comes (the
// event table's rows with Due), and its tenant's approvers get a reminder
// before the decision deadline. Both times are computed here, once, from the
// request and the tenant's settings; the workflow stores them with every
// change (AccessRequest.Deadline and RemindAt), and the stores only
// range-scan the stored times. A change to these rules must recompute the
// stored times of live requests (a migration, as 00007 did when they were
// introduced).

// NextDeadline returns when r next changes by itself and the system event
// that happens then: the decision deadline while undecided, the access
// start while approved, the access end while active. ok is false when
// nothing is ahead (r has ended).
func (r *AccessRequest) NextDeadline() (at time.Time, ev Event, ok bool) {
	for _, rule := range EventRules {
		if rule.Due != nil && rule.leaves(r.Status) {
			if at := rule.Due(r); !at.IsZero() { // zero: this row's time is not set for r
				return at, rule.Event, true
			}
		}
	}
	return time.Time{}, "", false
}

// Due returns the system event whose time has come for r at now, if any. A
// deadline at now is due: a decision at the deadline instant is too late.
func (r *AccessRequest) Due(now time.Time) (Event, bool) {
	at, ev, ok := r.NextDeadline()
	return ev, ok && !now.Before(at)
}

// Settle applies every system event due for r at now, in memory (approved
// can become active and then completed at once). It is how a reader shows a
// request as it stands: the worker, or the next decision, later writes
// exactly this (the same Apply; each deadline takes effect at its own time,
// not at now, so the result does not depend on when it is computed).
func (r *AccessRequest) Settle(now time.Time) error {
	for {
		ev, ok := r.Due(now)
		if !ok {
			return nil
		}
		if _, err := r.Apply(ev, System.Email, "", now, nil); err != nil {
			return err
		}
	}
}

// RemindAt is when the tenant's approvers get a reminder that r's decision
// deadline is near: reminder_minutes_before_expiry before it, while r is
// pending. There is none when the tenant turned reminders off (0), or when
// that time is not after r became pending (ReviewedAt): a reminder due at
// once would only repeat the email that asked them to decide. Whether the
// reminder was already sent is the store's record (OutboxTx.MarkReminded).
func RemindAt(r *AccessRequest, s Settings) *time.Time {
	if r.Status != StatusPending || s.ReminderMinutesBeforeExpiry <= 0 || r.ReviewedAt == nil {
		return nil
	}
	at := r.ExpiresAt.Add(-time.Duration(s.ReminderMinutesBeforeExpiry) * time.Minute)
	if !at.After(*r.ReviewedAt) {
		return nil
	}
	return &at
}

// Schedule sets r's stored times, Deadline and RemindAt, from its state and
// the tenant's settings s. s may be nil when r is not pending (only a
// pending request has a reminder).
func (r *AccessRequest) Schedule(s *Settings) {
	r.Deadline, r.RemindAt = nil, nil
	if at, _, ok := r.NextDeadline(); ok {
		r.Deadline = &at
	}
	if s != nil {
		r.RemindAt = RemindAt(r, *s)
	}
}
