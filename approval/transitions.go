package approval

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/lockboxhq/lockbox"
)

// apply performs a person's allowed event on r (already settled and locked)
// and any system step that follows at once: a reviewed request the system
// decides (lockbox.SystemDecision: break-glass, or a tenant that does not
// require approval) is approved by the system, and an approval whose start
// time has come activates.
func (s *Service) apply(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, d lockbox.Decision, now time.Time) error {
	wasPending := r.Status == lockbox.StatusPending
	settings, err := s.transitionAs(ctx, tx, u, r, ev, d, now)
	if err != nil {
		return err
	}
	if r.Status == lockbox.StatusPending && !wasPending {
		if ev, by := decidedAtOnce(r, settings); ev != "" {
			if _, err := s.transition(ctx, tx, by, r, ev, "", now); err != nil {
				return err
			}
		}
	}
	return s.settle(ctx, tx, r, now)
}

// decidedAtOnce is the event that decides a request that just became
// pending, and who causes it, or "" when people decide: a policy rule's
// deny (r.Policy) first, then the system's decision (break-glass, or no
// approval required: lockbox.SystemDecision), with a rule's auto_approve
// before the latter. settings are as the policy left them
// (policyDecision): a rule that requires approvals, or failed, keeps the
// system from approving. A decision that may not stand unsigned in the
// tenant (lockbox.UnsignedDecisionAllowed: one that requires signed
// decisions) is not taken: the request waits for people, the rule's
// outcome still recorded in r.Policy. SimulatePolicy asks this too.
func decidedAtOnce(r *lockbox.AccessRequest, settings *lockbox.Settings) (lockbox.Event, *lockbox.User) {
	system := lockbox.SystemDecision(r, settings)
	ev, by := lockbox.Event(""), (*lockbox.User)(nil)
	switch {
	case r.Policy != nil && r.Policy.Outcome == lockbox.OutcomeDeny:
		ev, by = lockbox.EventPolicyDeny, lockbox.PolicyActor(r.Tenant, r.Policy.Rule)
	case system == lockbox.EventBreakGlass:
		ev, by = system, lockbox.System
	case r.Policy != nil && r.Policy.Outcome == lockbox.OutcomeAutoApprove:
		ev, by = lockbox.EventPolicyApprove, lockbox.PolicyActor(r.Tenant, r.Policy.Rule)
	case system != "":
		ev, by = system, lockbox.System
	}
	if ev == "" || !lockbox.UnsignedDecisionAllowed(ev, settings) {
		return "", nil
	}
	return ev, by
}

// transition performs ev on r as u (AccessRequest.Apply, after the event
// table's row) and writes, in tx, the request, the row's notifications and its audit
// record. It is the one place every state change passes through. It
// returns the tenant's settings, which it reads anyway.
func (s *Service) transition(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, comment string, now time.Time) (*lockbox.Settings, error) {
	return s.transitionAs(ctx, tx, u, r, ev, lockbox.Decision{Comment: comment}, now)
}

// transitionAs is transition with the whole decision d: an approval may
// narrow the request (d.Changes). The event is resolved first, so an
// approval short of the quorum is recorded as such (AccessRequest.Resolve).
func (s *Service) transitionAs(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, d lockbox.Decision, now time.Time) (*lockbox.Settings, error) {
	ev = r.Resolve(ev)
	comment := d.Comment
	rule, _ := ev.Rule()
	// A request that becomes pending stores a reminder time computed from
	// the settings: hold them, so a concurrent settings change reschedules
	// it too (rescheduleTenant) instead of missing it.
	var settings *lockbox.Settings
	var err error
	if rule.To == lockbox.StatusPending {
		settings, err = tx.LockSettings(ctx, r.Tenant, false)
	} else {
		settings, err = tx.GetSettings(ctx, r.Tenant)
	}
	if err != nil {
		return nil, fmt.Errorf("settings of %s: %w", r.Tenant, err)
	}
	var decision *lockbox.PolicyDecision
	if rule.To == lockbox.StatusPending && r.Status != lockbox.StatusPending {
		// The tenant's rules decide here, under the settings' lock, which
		// a policy change takes exclusively (PutPolicy): a request becomes
		// pending under the old rules or the new, never a mix.
		if decision, settings, err = s.policyDecision(ctx, tx, r, settings, now); err != nil {
			return nil, err
		}
	}
	prev := r.Version
	from, err := r.ApplyAs(ev, lockbox.Actor{Email: u.Email, UserID: u.ID, Comment: comment, Changes: d.Changes, Extend: d.Extend, Signed: d.Signed}, now, settings)
	if err != nil {
		return nil, err
	}
	if decision != nil {
		r.Policy = decision
	}
	if err := tx.UpdateRequest(ctx, r, prev); err != nil {
		return nil, fmt.Errorf("update request %s: %w", r.ID, err)
	}
	if err := s.emit(ctx, tx, u, r, rule, comment, settings, now); err != nil { // notifications: same transaction (notify.go)
		return nil, err
	}
	rec := transitionRecord(ctx, u, r, from, rule, comment, now)
	if decision != nil {
		if rec.AuditData["policy"], err = plainJSON(decision); err != nil {
			return nil, err
		}
	}
	if d.Signed != nil {
		rec.AuditData["signed_decision"] = d.Signed.AuditData()
	}
	if err := appendAudit(ctx, tx, rec); err != nil {
		return nil, err
	}
	if rule.EndsAccess(from) {
		if err := s.reportAccess(ctx, tx, r, now); err != nil { // report.go
			return nil, err
		}
	}
	return settings, nil
}

// transitionRecord is the audit record of r's change from from by rule's
// event: the row's record type and operation, the data every transition
// records, and the row's own data.
func transitionRecord(ctx context.Context, u *lockbox.User, r *lockbox.AccessRequest, from lockbox.Status, rule lockbox.EventRule, comment string, now time.Time) *lockbox.AuditRecord {
	rec := newRecord(ctx, u, r.Tenant, rule.RecordType, rule.Operation, now)
	if u == lockbox.System {
		rec.ClientIP = ""
	}
	rec.RequestID = r.ID
	rec.AuditData = map[string]any{
		"reference": r.Reference, "from": string(from), "to": string(r.Status),
		"duration_minutes": r.DurationMinutes, "service": r.Service,
	}
	if comment != "" {
		rec.AuditData["comment"] = comment
	}
	if rule.AuditData != nil {
		maps.Copy(rec.AuditData, rule.AuditData(r))
	}
	return rec
}

// settle applies every system event that is due for r at now (approved can
// become active and then completed in one call), as the system, and writes
// each: the same steps as lockbox's Settle, which readers apply in memory.
func (s *Service) settle(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, now time.Time) error {
	for {
		ev, ok := r.Due(now)
		if !ok {
			return nil
		}
		if _, err := s.transition(ctx, tx, lockbox.System, r, ev, "", now); err != nil {
			return err
		}
	}
}

// settleOne settles one request the store found due, in its own
// transaction. When nothing is due after all (another replica settled it
// first, or its stored deadline no longer follows the rule), it stores the
// schedule the rule gives, so a stale row does not stay due forever.
func (s *Service) settleOne(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		now := s.now()
		if _, due := r.Due(now); due {
			return s.settle(ctx, tx, r, now)
		}
		settings, err := tx.GetSettings(ctx, r.Tenant)
		if err != nil {
			return fmt.Errorf("settings of %s: %w", r.Tenant, err)
		}
		return reschedule(ctx, tx, r, settings)
	})
}

// reschedule rewrites r's stored deadline and reminder time when they are
// not what the rule gives under settings (AccessRequest.Schedule): the
// tenant changed its settings, or the row is stale. It keeps r's version:
// nothing a client sees changed, so an If-Match taken before still holds.
// A request that changed since it was read (ECONFLICT) is left alone: its
// own writer scheduled it.
func reschedule(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, settings *lockbox.Settings) error {
	deadline, remindAt := r.Deadline, r.RemindAt
	r.Schedule(settings)
	if sameTime(deadline, r.Deadline) && sameTime(remindAt, r.RemindAt) {
		return nil
	}
	err := tx.UpdateRequest(ctx, r, r.Version)
	if lockbox.ErrorCode(err) == lockbox.ECONFLICT {
		return nil
	} else if err != nil {
		return fmt.Errorf("reschedule request %s: %w", r.ID, err)
	}
	return nil
}

func sameTime(a, b *time.Time) bool {
	return a == b || (a != nil && b != nil && a.Equal(*b))
}

// settleBatch is how many due requests one sweep reads at a time.
const settleBatch = 200

// SettleDue applies every passed deadline: expiry, activation, completion.
// Each request settles in its own transaction under its row lock, so any
// number of workers and replicas may run this at once and each transition
// still happens exactly once.
func (s *Service) SettleDue(ctx context.Context) error {
	after := ""
	for {
		var ids []string
		err := s.store.View(ctx, func(tx lockbox.Tx) error {
			var err error
			ids, err = tx.DueRequests(ctx, s.now(), after, settleBatch)
			return err
		})
		if err != nil {
			return fmt.Errorf("find due requests: %w", err)
		}
		for _, id := range ids {
			if err := s.settleOne(ctx, id); err != nil {
				return fmt.Errorf("settle %s: %w", id, err)
			}
		}
		if len(ids) < settleBatch {
			return nil
		}
		after = ids[len(ids)-1]
	}
}
