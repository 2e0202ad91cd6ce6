package approval

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/lockboxhq/lockbox"
)

// oneTimePassword is a generated password: 18 random bytes, base64url (24
// characters), so it passes the policy it will be replaced under.
func oneTimePassword() string { return randomSecret("", 18) }

// userLog is the audit log of events about u's account: their tenant's for
// a tenant user, the provider's for staff and service accounts (SPEC §10.1).
func userLog(u *lockbox.User) (log, recordType string) {
	if u.Tenant != "" {
		return u.Tenant, lockbox.RecordTenantAdmin
	}
	return lockbox.ProviderLog, lockbox.RecordProviderAdmin
}

// accountRecord is the audit record of op on target's account, by u.
func accountRecord(ctx context.Context, u, target *lockbox.User, op string, now time.Time) *lockbox.AuditRecord {
	log, typ := userLog(target)
	rec := newRecord(ctx, u, log, typ, op, now)
	rec.AuditData = map[string]any{"target_user": target.Email}
	return rec
}

// How a person proved who they are at sign-in (account.signed_in's
// method).
const (
	SignInPassword = "password"
	SignInPasskey  = "password_and_passkey" // a passkey after the password
	SignInSSO      = "sso"
)

// signInRecord is the audit record of u's sign-in: a session of kind ("web",
// "api_token") issued after u proved who they are by how. Every session
// and token issued to a person has one, in the same transaction, in the
// log of u's tenant (the provider log for staff), with the client address.
func signInRecord(ctx context.Context, u *lockbox.User, how, kind string, now time.Time) *lockbox.AuditRecord {
	rec := accountRecord(ctx, u, u, lockbox.OpSignedIn, now)
	rec.AuditData["method"], rec.AuditData["session"] = how, kind
	return rec
}

// Logout ends the credential the caller used for this call.
func (s *Service) Logout(ctx context.Context) error {
	u, err := signedIn(ctx)
	if err != nil {
		return err
	}
	token := lockbox.CredentialFromContext(ctx)
	if token == "" {
		return nil
	}
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		if err := tx.DeleteToken(ctx, tokenHash(token)); err != nil {
			return err
		}
		if err := tx.DeleteWebSession(ctx, tokenHash(token)); err != nil {
			return err
		}
		rec := accountRecord(ctx, u, u, lockbox.OpTokenRevoked, s.now())
		rec.AuditData["reason"] = "signed out"
		return appendAudit(ctx, tx, rec)
	})
}

// ChangePassword checks the caller's current password, stores the new one
// (no longer one-time) and ends every other session and token of theirs,
// in one transaction with its audit record.
func (s *Service) ChangePassword(ctx context.Context, in lockbox.PasswordChange) error {
	u, err := signedIn(ctx)
	if err != nil {
		return err
	}
	if u.ServiceAccount {
		return lockbox.Errorf(lockbox.EFORBIDDEN, "Service accounts have no password; rotate their token instead.")
	}
	if err := checkNewPassword(in.New, u.Email); err != nil {
		return err
	}
	if in.New == in.Current {
		return lockbox.FieldErrorf(lockbox.EINVALID, "new", "The new password must differ from the current one.")
	}
	first, err := s.verifyOwnPassword(ctx, u, in.Current, s.sessionNow())
	if err != nil {
		return err
	}
	hash := s.hashPassword(in.New)
	keep := tokenHash(lockbox.CredentialFromContext(ctx))
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		rec := accountRecord(ctx, u, u, lockbox.OpPasswordChanged, s.now())
		if first {
			// Still none: a reset committed since the check gave the
			// account a one-time password, which this must not overwrite.
			if _, stored, err := tx.GetUserByEmail(ctx, u.Tenant, lockbox.NormalizeEmail(u.Email)); err != nil {
				return err
			} else if stored != "" {
				return lockbox.Errorf(lockbox.ECONFLICT, "Your account was given a password meanwhile (an administrator's reset): sign in with it, or ask again.")
			}
			rec.AuditData["how"] = "first password, chosen in a signed-in session (the account had none)"
		}
		if err := tx.SetPassword(ctx, u.ID, hash, false); err != nil {
			return err
		}
		if err := endSessions(ctx, tx, u.ID, keep, s.sessionNow()); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rec)
	})
}

// verifyOwnPassword checks the caller's current password, of their own
// account (not another population's with the same address), under the
// same limits as signing in. An account with no password at all (one that
// signed in through its IdP, which voided an unused one-time password:
// sso.go) has nothing to prove but the session itself: it may choose a
// first password with the current one left empty, and first says so.
// Without this, such an account's only way back to a password is an
// administrator's reset — for a tenant's break-glass admin, the one
// account meant to sign in with a password when the IdP is down.
func (s *Service) verifyOwnPassword(ctx context.Context, u *lockbox.User, password string, now time.Time) (first bool, err error) {
	email, client := lockbox.NormalizeEmail(u.Email), clientKey(ctx)
	if err := s.loginLimited(ctx, email, client, now); err != nil {
		return false, err
	}
	var hash string
	err = s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		_, hash, err = tx.GetUserByEmail(ctx, u.Tenant, email)
		return err
	})
	switch {
	case err != nil:
		return false, err
	case hash == "" && password == "":
		return true, nil
	case hash == "":
		return false, lockbox.FieldErrorf(lockbox.EINVALID, "current", "Your account has no password yet (you signed in through your organisation's sign-in): leave the current password empty to choose a first one.")
	case !checkPassword(hash, password):
		s.failedSignIn(ctx, email, client, now)
		return false, lockbox.FieldErrorf(lockbox.EINVALID, "current", "Your current password is wrong.")
	}
	return false, nil
}

// endSessions ends every token and web session of a user except the one
// stored under keep (nil: all).
func endSessions(ctx context.Context, tx lockbox.Tx, userID string, keep []byte, now time.Time) error {
	if keep == nil {
		if err := tx.DeleteUserTokens(ctx, userID); err != nil {
			return err
		}
		return tx.DeleteUserWebSessions(ctx, userID)
	}
	tokens, err := tx.ListUserTokens(ctx, userID, now)
	if err != nil {
		return err
	}
	for _, k := range tokens {
		if string(k.Hash) != string(keep) {
			if err := tx.DeleteToken(ctx, k.Hash); err != nil {
				return err
			}
		}
	}
	sessions, err := tx.ListUserWebSessions(ctx, userID, now)
	if err != nil {
		return err
	}
	for _, k := range sessions {
		if string(k.Hash) != string(keep) {
			if err := tx.DeleteWebSession(ctx, k.Hash); err != nil {
				return err
			}
		}
	}
	return nil
}

// tokenID names a stored credential for the API: a prefix of its hash
// (itself a hash of a 256-bit secret), useless to sign in with.
func tokenID(kind string, hash []byte) string {
	return kind + "_" + hex.EncodeToString(hash[:min(len(hash), 10)])
}

// ListMyTokens lists the caller's live API tokens and web sessions.
func (s *Service) ListMyTokens(ctx context.Context) ([]*lockbox.TokenInfo, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	now := s.sessionNow()
	current := tokenHash(lockbox.CredentialFromContext(ctx))
	var out []*lockbox.TokenInfo
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		for _, kind := range []string{lockbox.TokenKindAPI, lockbox.TokenKindWeb} {
			list := tx.ListUserTokens
			if kind == lockbox.TokenKindWeb {
				list = tx.ListUserWebSessions
			}
			tokens, err := list(ctx, u.ID, now)
			if err != nil {
				return err
			}
			for _, k := range tokens {
				info := &lockbox.TokenInfo{ID: tokenID(kind, k.Hash), Kind: kind, CreatedAt: k.CreatedAt,
					LastUsedAt: k.LastUsedAt, Current: string(k.Hash) == string(current)}
				if !k.ExpiresAt.IsZero() {
					info.ExpiresAt = &k.ExpiresAt
				}
				out = append(out, info)
			}
		}
		return nil
	})
	return out, err
}

// RevokeMyToken ends one of the caller's tokens or sessions by its id.
func (s *Service) RevokeMyToken(ctx context.Context, id string) error {
	u, err := actor(ctx)
	if err != nil {
		return err
	}
	now := s.sessionNow()
	return s.store.Update(ctx, func(tx lockbox.Tx) error {
		for _, kind := range []string{lockbox.TokenKindAPI, lockbox.TokenKindWeb} {
			list, del := tx.ListUserTokens, tx.DeleteToken
			if kind == lockbox.TokenKindWeb {
				list, del = tx.ListUserWebSessions, tx.DeleteWebSession
			}
			tokens, err := list(ctx, u.ID, now)
			if err != nil {
				return err
			}
			for _, k := range tokens {
				if tokenID(kind, k.Hash) != id {
					continue
				}
				if err := del(ctx, k.Hash); err != nil {
					return err
				}
				rec := accountRecord(ctx, u, u, lockbox.OpTokenRevoked, s.now())
				rec.AuditData["token_id"], rec.AuditData["kind"] = id, kind
				return appendAudit(ctx, tx, rec)
			}
		}
		return lockbox.Errorf(lockbox.ENOTFOUND, "You have no session or token %q.", id)
	})
}

// ResetTenantUserPassword gives a tenant user a one-time password (the
// tenant's global admin only).
func (s *Service) ResetTenantUserPassword(ctx context.Context, tenant, email string) (*lockbox.OneTimePassword, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermWriteTenantUsers, tenant); err != nil {
		return nil, err
	}
	return s.resetPassword(ctx, u, tenant, email, func(*lockbox.User) bool { return true },
		"User %s not found in tenant "+tenant+".")
}

// ResetStaffPassword gives a staff member a one-time password
// (provider_admin only, not oneself: one changes one's own password).
func (s *Service) ResetStaffPassword(ctx context.Context, email string) (*lockbox.OneTimePassword, error) {
	u, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	if err := lockbox.Authorize(u, lockbox.PermManageStaff, ""); err != nil {
		return nil, err
	}
	return s.resetPassword(ctx, u, "", email, isStaff, "Staff member %s not found.")
}

func isStaff(u *lockbox.User) bool { return u.Tenant == "" && !u.ServiceAccount }

// resetPassword sets a new one-time password on the account of email when
// in(account) holds (else ENOTFOUND with notFound), ending its sessions.
// Resetting one's own password is refused: that is a password change.
func (s *Service) resetPassword(ctx context.Context, u *lockbox.User, population, email string, in func(*lockbox.User) bool, notFound string) (*lockbox.OneTimePassword, error) {
	pw := oneTimePassword()
	hash := s.hashPassword(pw)
	var out *lockbox.OneTimePassword
	err := s.store.Update(ctx, func(tx lockbox.Tx) error {
		target, err := findUser(ctx, tx, population, email, in, notFound)
		if err != nil {
			return err
		}
		if target.ID == u.ID {
			return lockbox.Errorf(lockbox.EFORBIDDEN, "You cannot reset your own password; change it on your Account page or with `lockbox passwd`.")
		}
		if err := tx.SetPassword(ctx, target.ID, hash, true); err != nil {
			return err
		}
		if err := endSessions(ctx, tx, target.ID, nil, s.sessionNow()); err != nil {
			return err
		}
		out = &lockbox.OneTimePassword{Email: target.Email, Password: pw}
		return appendAudit(ctx, tx, accountRecord(ctx, u, target, lockbox.OpPasswordReset, s.now()))
	})
	return out, err
}

// findUser returns the account of email in population (a tenant, or ""
// for the provider) when in(account) holds, else ENOTFOUND with notFound
// (formatted with email): an account outside the caller's reach answers
// exactly like a missing one.
func findUser(ctx context.Context, tx lockbox.Tx, population, email string, in func(*lockbox.User) bool, notFound string) (*lockbox.User, error) {
	target, _, err := tx.GetUserByEmail(ctx, population, lockbox.NormalizeEmail(email))
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND || (err == nil && !in(target)) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, notFound, email)
	}
	return target, err
}

// ResetPasswordOffline sets a one-time password on the account of email
// with no caller and no server: `lockbox admin reset-password`, for whoever
// holds the database (a lost bootstrap password, every admin locked out).
// The reset is audited as done by the system, with how.
// population is the account's tenant, or "" for provider staff.
func (s *Service) ResetPasswordOffline(ctx context.Context, population, email string) (*lockbox.OneTimePassword, error) {
	ctx = lockbox.NewContextWithUser(ctx, lockbox.System)
	pw := oneTimePassword()
	hash := s.hashPassword(pw)
	var out *lockbox.OneTimePassword
	err := s.store.Update(ctx, func(tx lockbox.Tx) error {
		target, err := findUser(ctx, tx, population, email, func(u *lockbox.User) bool { return !u.ServiceAccount }, "No account %s"+inPopulation(population)+".")
		if err != nil {
			return err
		}
		if err := tx.SetPassword(ctx, target.ID, hash, true); err != nil {
			return err
		}
		if err := tx.SetUserDisabled(ctx, target.ID, false); err != nil {
			return err
		}
		if err := endSessions(ctx, tx, target.ID, nil, s.sessionNow()); err != nil {
			return err
		}
		out = &lockbox.OneTimePassword{Email: target.Email, Password: pw}
		rec := accountRecord(ctx, lockbox.System, target, lockbox.OpPasswordReset, s.now())
		rec.AuditData["how"] = "lockbox admin reset-password (offline, with database access)"
		return appendAudit(ctx, tx, rec)
	})
	return out, err
}

func inPopulation(tenant string) string {
	if tenant == "" {
		return " among provider staff"
	}
	return " in tenant " + tenant
}
