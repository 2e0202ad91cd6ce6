package approval

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lockboxhq/lockbox"
)

// UpdateStaff changes a staff member's roles or disables/enables them.
// Disabling, or taking away the operator role, ends their requests
// (endRequests); disabling and any role removed also end their sessions,
// all in one transaction with the audit records.
func (s *Service) UpdateStaff(ctx context.Context, email string, upd lockbox.StaffUpdate) (*lockbox.User, error) {
	if upd.Roles == nil && upd.Disabled == nil {
		return nil, lockbox.Errorf(lockbox.EINVALID, "Give roles, disabled, or both.")
	}
	if upd.Roles != nil {
		if err := lockbox.ValidateRoles(upd.Roles, false); err != nil {
			return nil, err
		}
	}
	var out *lockbox.User
	err := s.changeStaff(ctx, email, func(tx lockbox.Tx, u, target *lockbox.User, now time.Time) error {
		endAll := false
		if upd.Roles != nil {
			added, removed := diffRoles(target.Roles, upd.Roles)
			if err := tx.UpdateUserRoles(ctx, target.ID, upd.Roles); err != nil {
				return err
			}
			if err := auditRoles(ctx, tx, u, lockbox.ProviderLog, target.Email, added, removed, now); err != nil {
				return err
			}
			endAll = len(removed) > 0
			if slices.Contains(removed, lockbox.RoleOperator) {
				if err := s.endRequests(ctx, tx, target, now); err != nil {
					return err
				}
			}
			target.Roles = slices.Clone(upd.Roles)
		}
		if upd.Disabled != nil && *upd.Disabled != target.Disabled {
			if err := tx.SetUserDisabled(ctx, target.ID, *upd.Disabled); err != nil {
				return err
			}
			op := lockbox.OpAccountEnabled
			if *upd.Disabled {
				op, endAll = lockbox.OpAccountDisabled, true
				if err := s.endRequests(ctx, tx, target, now); err != nil {
					return err
				}
			}
			if err := appendAudit(ctx, tx, accountRecord(ctx, u, target, op, now)); err != nil {
				return err
			}
			target.Disabled = *upd.Disabled
		}
		out = target
		if endAll {
			return endSessions(ctx, tx, target.ID, nil, s.sessionNow())
		}
		return nil
	})
	return out, err
}

// RemoveStaff deletes a staff member: their sessions and tokens go with
// the account, their requests end (endRequests), in one transaction.
func (s *Service) RemoveStaff(ctx context.Context, email string) error {
	return s.changeStaff(ctx, email, func(tx lockbox.Tx, u, target *lockbox.User, now time.Time) error {
		if err := s.endRequests(ctx, tx, target, now); err != nil {
			return err
		}
		if err := tx.DeleteUser(ctx, target.ID); err != nil {
			return err
		}
		if err := tx.DeleteUserWebSessions(ctx, target.ID); err != nil {
			return err
		}
		rec := accountRecord(ctx, u, target, lockbox.OpAccountRemoved, now)
		rec.AuditData["roles"] = target.Roles
		return appendAudit(ctx, tx, rec)
	})
}

// changeStaff authorizes the caller (provider_admin, not on themselves),
// finds the staff member of email and runs change in one transaction.
func (s *Service) changeStaff(ctx context.Context, email string, change func(tx lockbox.Tx, u, target *lockbox.User, now time.Time) error) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		target, err := findUser(ctx, tx, "", email, isStaff, "Staff member %s not found.")
		if err != nil {
			return err
		}
		if target.ID == u.ID {
			return lockbox.Errorf(lockbox.EFORBIDDEN, "You cannot change or remove your own staff account; ask another provider admin.")
		}
		// Lock the member: a call of theirs in flight either commits
		// before this change (and what it did is ended below) or sees it.
		if _, err := tx.LockUser(ctx, target.ID, true); err != nil {
			return err
		}
		return change(tx, u, target, s.now())
	})
}

// endRequests ends every request the staff member filed that is not over:
// approved and active ones are revoked (their grant stops at the next
// access check), open ones canceled, each by the system with its audit
// record and notifications, in tx.
func (s *Service) endRequests(ctx context.Context, tx lockbox.Tx, target *lockbox.User, now time.Time) error {
	statuses := []lockbox.Status{lockbox.StatusPendingReview, lockbox.StatusPending, lockbox.StatusApproved, lockbox.StatusActive}
	var ids []string
	q := lockbox.RequestQuery{RequesterID: target.ID, Statuses: statuses, Limit: 500}
	for {
		page, err := tx.ListRequests(ctx, q)
		if err != nil {
			return fmt.Errorf("requests of %s: %w", target.Email, err)
		}
		for _, r := range page {
			ids = append(ids, r.ID)
		}
		if len(page) < q.Limit {
			break
		}
		last := page[len(page)-1]
		q.BeforeCreatedAt, q.BeforeID = &last.CreatedAt, last.ID
	}
	for _, id := range ids {
		r, err := tx.GetRequest(ctx, id) // locks it
		if err != nil {
			return err
		}
		if err := s.settle(ctx, tx, r, now); err != nil {
			return err
		}
		ev := lockbox.EventRequesterCancel
		if r.Status == lockbox.StatusApproved || r.Status == lockbox.StatusActive {
			ev = lockbox.EventRequesterRevoke
		} else if r.Status != lockbox.StatusPendingReview && r.Status != lockbox.StatusPending {
			continue // ended by its deadline just now
		}
		if _, err := s.transition(ctx, tx, lockbox.System, r, ev, "", now); err != nil {
			return fmt.Errorf("end request %s: %w", r.Reference, err)
		}
	}
	return nil
}
