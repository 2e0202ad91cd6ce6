package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
)

// maxRotationGrace bounds how long a rotated credential (a service
// account's token, a webhook's signing secret) keeps working: long enough
// to roll a deployment or a receiver, short enough that a leaked one is not
// kept alive by "rotating" it.
const maxRotationGrace = 24 * time.Hour

// checkRotationGrace is the rule for a rotation's grace period.
func checkRotationGrace(grace time.Duration) error {
	if grace < 0 || grace > maxRotationGrace {
		return lockbox.FieldErrorf(lockbox.EINVALID, "grace", "The grace period must be between 0 and %s.", maxRotationGrace)
	}
	return nil
}

// ListServiceAccounts lists the service accounts (never their tokens).
func (s *Service) ListServiceAccounts(ctx context.Context) ([]*lockbox.ServiceAccount, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return nil, err
	}
	var out []*lockbox.ServiceAccount
	now := s.sessionNow()
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		users, err := tx.ListServiceAccounts(ctx)
		if err != nil {
			return err
		}
		for _, sa := range users {
			tokens, err := tx.ListUserTokens(ctx, sa.ID, now)
			if err != nil {
				return fmt.Errorf("tokens of service account %s: %w", sa.Name, err)
			}
			out = append(out, serviceAccountInfo(sa, tokens))
		}
		return nil
	})
	return out, err
}

// serviceAccountInfo describes a service account by its valid tokens: an
// admin deciding whether to revoke or rotate needs to know whether it is
// still used and whether a rotated-out token still works.
func serviceAccountInfo(sa *lockbox.User, tokens []*lockbox.Token) *lockbox.ServiceAccount {
	out := &lockbox.ServiceAccount{ID: sa.ID, Name: sa.Name, CreatedAt: sa.CreatedAt}
	for _, t := range tokens {
		if t.LastUsedAt != nil && (out.LastUsedAt == nil || t.LastUsedAt.After(*out.LastUsedAt)) {
			out.LastUsedAt = t.LastUsedAt
		}
		if !t.ExpiresAt.IsZero() && (out.GraceEndsAt == nil || t.ExpiresAt.After(*out.GraceEndsAt)) {
			out.GraceEndsAt = &t.ExpiresAt
		}
	}
	return out
}

// RevokeServiceAccount removes a service account: its tokens stop at once.
func (s *Service) RevokeServiceAccount(ctx context.Context, name string) error {
	return s.changeServiceAccount(ctx, name, func(tx lockbox.Tx, u, sa *lockbox.User, now time.Time) error {
		if err := tx.DeleteUser(ctx, sa.ID); err != nil {
			return err
		}
		rec := accountRecord(ctx, u, sa, lockbox.OpAccountRemoved, now)
		rec.AuditData["service_account"] = sa.Name
		return appendAudit(ctx, tx, rec)
	})
}

// RotateServiceAccount issues a new token for a service account; the old
// ones stop after grace (0: at once).
func (s *Service) RotateServiceAccount(ctx context.Context, name string, grace time.Duration) (*lockbox.ServiceAccount, error) {
	if err := checkRotationGrace(grace); err != nil {
		return nil, err
	}
	token := randomSecret("lbs_", 32)
	var out *lockbox.ServiceAccount
	err := s.changeServiceAccount(ctx, name, func(tx lockbox.Tx, u, sa *lockbox.User, now time.Time) error {
		var err error
		if grace == 0 {
			err = tx.DeleteUserTokens(ctx, sa.ID)
		} else {
			err = tx.ExpireUserTokens(ctx, sa.ID, s.sessionNow().Add(grace))
		}
		if err != nil {
			return err
		}
		if err := tx.InsertToken(ctx, tokenHash(token), sa.ID, s.sessionNow(), time.Time{}); err != nil {
			return err
		}
		rec := accountRecord(ctx, u, sa, lockbox.OpServiceAccountRotate, now)
		rec.AuditData["service_account"], rec.AuditData["grace_seconds"] = sa.Name, int(grace.Seconds())
		out = &lockbox.ServiceAccount{ID: sa.ID, Name: sa.Name, Token: token, CreatedAt: sa.CreatedAt}
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

func (s *Service) changeServiceAccount(ctx context.Context, name string, change func(tx lockbox.Tx, u, sa *lockbox.User, now time.Time) error) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return err
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		sa, err := findUser(ctx, tx, "", "service:"+name, func(u *lockbox.User) bool { return u.ServiceAccount },
			"Service account %s not found.")
		if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return lockbox.Errorf(lockbox.ENOTFOUND, "Service account %s not found.", name)
		} else if err != nil {
			return err
		}
		return change(tx, u, sa, s.now())
	})
}
