package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
)

// apply performs a person's allowed event on r (already settled and locked)
// and any system step that follows at once: a review approval in a tenant
// that does not require approval is approved by the system, and an approval
// whose start time has come activates.
func (s *Service) apply(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, comment string, now time.Time) error {
	switch ev {
	case lockbox.EventReviewApprove, lockbox.EventReviewDeny:
		r.ReviewedBy, r.ReviewedAt, r.ReviewComment = &u.Email, &now, optional(comment)
	case lockbox.EventApprove, lockbox.EventDeny:
		r.DecidedBy, r.DecidedAt, r.DecisionComment = &u.Email, &now, optional(comment)
	case lockbox.EventCancel, lockbox.EventRevoke, lockbox.EventComplete:
		r.EndedBy, r.EndComment = &u.Email, optional(comment)
	}
	if err := s.transition(ctx, tx, u, r, ev, comment, now); err != nil {
		return err
	}
	if ev != lockbox.EventReviewApprove {
		return s.settle(ctx, tx, r, now)
	}
	return s.afterReview(ctx, tx, r, now)
}

// afterReview sends a reviewed request to the tenant: pending with the
// tenant's decision deadline, or, when the tenant does not require
// approval, approved by the system.
func (s *Service) afterReview(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, now time.Time) error {
	settings, err := tx.GetSettings(ctx, r.Tenant)
	if err != nil {
		return err
	}
	if !settings.RequireApproval {
		sys := lockbox.System
		r.DecidedBy, r.DecidedAt = &sys.Email, &now
		if err := s.transition(ctx, tx, sys, r, lockbox.EventSystemApprove, "", now); err != nil {
			return err
		}
	}
	return s.settle(ctx, tx, r, now)
}

// transition moves r along ev, sets the fields the new status implies, and
// writes the request and its audit record in tx. It is the one place every
// state change passes through.
func (s *Service) transition(ctx context.Context, tx lockbox.Tx, u *lockbox.User, r *lockbox.AccessRequest, ev lockbox.Event, comment string, now time.Time) error {
	from := r.Status
	to, err := lockbox.Next(from, ev)
	if err != nil {
		return err
	}
	r.Status = to
	prev := r.Version
	r.Version++
	switch {
	case to == lockbox.StatusPending:
		settings, err := tx.GetSettings(ctx, r.Tenant)
		if err != nil {
			return err
		}
		r.ExpiresAt = now.Add(settings.RequestTTL())
		r.TenantVisible = true
	case to == lockbox.StatusApproved:
		r.TenantVisible = true
		start := now
		if r.StartTime != nil && r.StartTime.After(now) {
			start = *r.StartTime
		}
		end := start.Add(r.Duration())
		r.AccessStartsAt, r.AccessEndsAt = &start, &end
	case to.Terminal():
		r.EndedAt = endTime(r, ev, now)
		if u == lockbox.System {
			r.EndedBy = &lockbox.System.Email
		}
	}
	if err := tx.UpdateRequest(ctx, r, prev); err != nil {
		return fmt.Errorf("update request %s: %w", r.ID, err)
	}
	if err := s.emit(ctx, tx, u, r, from, ev, comment, now); err != nil { // notifications: same transaction (notify.go)
		return err
	}
	return appendAudit(ctx, tx, transitionRecord(ctx, u, r, from, ev, comment, now))
}

// endTime is when a request ended. A deadline ends it at the deadline
// itself, however late the worker noticed.
func endTime(r *lockbox.AccessRequest, ev lockbox.Event, now time.Time) *time.Time {
	t := now
	switch ev {
	case lockbox.EventExpire:
		t = r.ExpiresAt
	case lockbox.EventAccessEnd:
		t = *r.AccessEndsAt
	}
	return &t
}

func transitionRecord(ctx context.Context, u *lockbox.User, r *lockbox.AccessRequest, from lockbox.Status, ev lockbox.Event, comment string, now time.Time) *lockbox.AuditRecord {
	recordType := lockbox.RecordLockboxDecision
	switch ev {
	case lockbox.EventReviewApprove, lockbox.EventReviewDeny, lockbox.EventActivate, lockbox.EventAccessEnd, lockbox.EventComplete:
		recordType = lockbox.RecordLockboxRequest
	}
	rec := newRecord(ctx, u, r.Tenant, recordType, ev.AuditOperation(), now)
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
	switch ev {
	case lockbox.EventReviewApprove, lockbox.EventReviewDeny:
		rec.AuditData["decision"] = map[bool]string{true: "approve", false: "deny"}[ev == lockbox.EventReviewApprove]
	case lockbox.EventSystemApprove:
		rec.AuditData["decided_by"] = "system"
		rec.AuditData["why"] = "The tenant does not require approval for data access requests."
	case lockbox.EventExpire:
		rec.AuditData["deadline"] = r.ExpiresAt.Format(time.RFC3339)
	case lockbox.EventAccessEnd:
		rec.AuditData["access_ended_at"] = r.AccessEndsAt.Format(time.RFC3339)
	}
	if r.Status == lockbox.StatusApproved || ev == lockbox.EventActivate {
		rec.AuditData["access_starts_at"] = timeString(r.AccessStartsAt)
		rec.AuditData["access_ends_at"] = timeString(r.AccessEndsAt)
	}
	return rec
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// dueEvent is the system event whose time has come for r at now, if any.
func dueEvent(r *lockbox.AccessRequest, now time.Time) (lockbox.Event, bool) {
	switch r.Status {
	case lockbox.StatusPendingReview, lockbox.StatusPending:
		return lockbox.EventExpire, !now.Before(r.ExpiresAt)
	case lockbox.StatusApproved:
		return lockbox.EventActivate, !now.Before(*r.AccessStartsAt)
	case lockbox.StatusActive:
		return lockbox.EventAccessEnd, !now.Before(*r.AccessEndsAt)
	}
	return "", false
}

func due(r *lockbox.AccessRequest, now time.Time) bool {
	_, ok := dueEvent(r, now)
	return ok
}

// settle applies every system event that is due for r at now (approved can
// become active and then completed in one call), as the system.
func (s *Service) settle(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest, now time.Time) error {
	for {
		ev, ok := dueEvent(r, now)
		if !ok {
			return nil
		}
		if err := s.transition(ctx, tx, lockbox.System, r, ev, "", now); err != nil {
			return err
		}
	}
}

// settleOne settles one request in its own transaction.
func (s *Service) settleOne(ctx context.Context, id string) error {
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		r, err := tx.GetRequest(ctx, id)
		if err != nil {
			return err
		}
		return s.settle(ctx, tx, r, s.now())
	})
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
