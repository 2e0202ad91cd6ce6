package approval

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
)

// A passkey as a second factor at password sign-in (SPEC §10.3). After
// the right password, an account with a passkey gets no token yet but a
// sign-in challenge (EPASSKEYREQUIRED): single use, bound to the account,
// stored like every ceremony so any replica finishes it. The assertion
// over it gives the token or web session. A wrong assertion counts as a
// failed sign-in, against the same limits as a wrong password.
//
// Single sign-on never comes here: the IdP does its own MFA.
//
// Where a passkey is mandatory (--require-mfa, require_mfa) and the
// account has none, the right password gives a session that may only
// register one (lockbox.CheckActiveFor), as a one-time password gives one
// that may only change it.

// secondFactor decides what a right password for u still needs: nothing
// (no passkey, none required), or a passkey assertion (EPASSKEYREQUIRED
// with the challenge). It returns the account to sign in: u itself, or,
// when a passkey is required and the account has none, a copy of u marked
// PasskeySetupRequired, whose session may only register one
// (lockbox.CheckActiveFor). Refusing that sign-in instead would lock out
// for good everyone who can only get a passkey by signing in: the
// bootstrap admin of a server started with --require-mfa, every new or
// reset account of a require_mfa tenant.
func (s *Service) secondFactor(ctx context.Context, u *lockbox.User, now time.Time) (*lockbox.User, error) {
	if u.ServiceAccount {
		return u, nil // no passkeys; their tokens are issued, not signed in for
	}
	var keys []*lockbox.Passkey
	var required bool
	err := s.store.View(ctx, func(tx lockbox.Tx) error {
		var err error
		if keys, err = tx.ListPasskeys(ctx, u.ID); err != nil {
			return err
		}
		if u.Tenant == "" {
			required = s.opts.RequireMFA
			return nil
		}
		settings, err := tx.GetSettings(ctx, u.Tenant)
		required = err == nil && settings.RequireMFA
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		if !required {
			return u, nil
		}
		setup := *u
		setup.PasskeySetupRequired = true
		return &setup, nil
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // never fails (crypto/rand)
	options, err := rp.AssertionOptions(raw, keys)
	if err != nil {
		return nil, err
	}
	c := &lockbox.Challenge{ID: randomSecret("", 24), UserID: u.ID, Kind: lockbox.ChallengeSignIn,
		Data: raw, ExpiresAt: now.Add(lockbox.SignInChallengeTTL)}
	err = s.store.Update(ctx, func(tx lockbox.Tx) error { return tx.InsertChallenge(ctx, c, s.now()) })
	if err != nil {
		return nil, err
	}
	// The account is named in the challenge, so the second step finds its
	// open challenges; the random part is what proves the password.
	return nil, &lockbox.Error{Code: lockbox.EPASSKEYREQUIRED,
		Message: "Your password was right; now confirm the sign-in with one of your passkeys.",
		SignIn:  &lockbox.SignInChallenge{Challenge: u.ID + "." + c.ID, ExpiresAt: c.ExpiresAt, Options: options}}
}

// A session that must register a passkey first (secondFactor) is marked
// in its secret: its token starts "lbtm_" (API) or "lbwm_" (web session)
// instead of "lbt_" or "lbw_". Only the secret's hash is stored, so the
// mark can be neither removed from nor added to a token without it ceasing
// to exist, and the stores need no column for it.

// sessionPrefix is the prefix of a new token of kind ("lbt", "lbw") for u.
func sessionPrefix(kind string, u *lockbox.User) string {
	if u.PasskeySetupRequired {
		return kind + "m_"
	}
	return kind + "_"
}

// setupSession is the account of a session whose token is token: u, or,
// for a session that must register a passkey first and whose account
// still has none, a copy of u marked PasskeySetupRequired. Once the
// account has a passkey the session is a full one: its holder could sign
// in with that passkey anyway.
func (s *Service) setupSession(ctx context.Context, token string, u *lockbox.User) (*lockbox.User, error) {
	if len(token) < 5 || token[3:5] != "m_" {
		return u, nil
	}
	var keys []*lockbox.Passkey
	err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		keys, err = tx.ListPasskeys(ctx, u.ID)
		return err
	})
	if err != nil || len(keys) > 0 {
		return u, err
	}
	setup := *u
	setup.PasskeySetupRequired = true
	return &setup, nil
}

// LoginPasskey finishes a password sign-in with a passkey assertion and
// issues the bearer token.
func (s *Service) LoginPasskey(ctx context.Context, challenge string, a lockbox.PasskeyAssertion) (*lockbox.Session, error) {
	now := s.sessionNow()
	u, err := s.verifySignIn(ctx, challenge, a, now)
	if err != nil {
		return nil, err
	}
	return s.issueToken(ctx, u, SignInPasskey, now)
}

func errBadSignInChallenge() error {
	return lockbox.FieldErrorf(lockbox.EUNAUTHENTICATED, "challenge", "This sign-in challenge is unknown, used or expired (it lasts 5 minutes and works once): sign in with your password again.")
}

// verifySignIn returns the account whose open sign-in challenge the
// assertion signs with one of its passkeys, using the challenge up. Any
// failure counts against the account's and the client's sign-in limits.
func (s *Service) verifySignIn(ctx context.Context, challenge string, a lockbox.PasskeyAssertion, now time.Time) (*lockbox.User, error) {
	client := clientKey(ctx)
	userID, id, ok := strings.Cut(challenge, ".")
	if !ok || userID == "" || id == "" {
		return nil, errBadSignInChallenge()
	}
	rp, err := s.relyingParty()
	if err != nil {
		return nil, err
	}
	var u *lockbox.User
	err = s.store.View(ctx, func(tx lockbox.Tx) error {
		var err error
		u, err = tx.GetUserByID(ctx, userID)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		s.failedSignIn(ctx, "", client, now)
		return nil, errBadSignInChallenge()
	} else if err != nil {
		return nil, err
	}
	if err := s.loginLimited(ctx, u.Email, client, now); err != nil {
		return nil, err
	}
	if u.Disabled { // disabled since its password was checked
		s.failedSignIn(ctx, "", client, now)
		return nil, errBadSignInChallenge()
	}
	fail := func(err error) (*lockbox.User, error) {
		if code := lockbox.ErrorCode(err); code == lockbox.EINVALID || code == lockbox.EUNAUTHENTICATED {
			s.failedSignIn(ctx, u.Email, client, now)
		}
		return nil, err
	}
	var c *lockbox.Challenge
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		open, err := tx.Challenges(ctx, u.ID, lockbox.ChallengeSignIn, "", now)
		if err != nil {
			return err
		}
		for _, o := range open {
			if o.ID == id {
				c = o
			}
		}
		if c == nil {
			return errBadSignInChallenge()
		}
		// Any answer, right or wrong, uses the challenge up: after a wrong
		// assertion the password is needed again. Of two racing answers,
		// one deletes it and the other finds it gone.
		if err := tx.DeleteChallenge(ctx, c.ID); lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
			return errBadSignInChallenge()
		}
		return err
	})
	if err != nil {
		return fail(err)
	}
	err = s.store.Update(ctx, func(tx lockbox.Tx) error {
		key, err := ownPasskey(ctx, tx, u.ID, a.CredentialID)
		if err != nil {
			if lockbox.ErrorCode(err) == lockbox.EINVALID {
				return lockbox.FieldErrorf(lockbox.EUNAUTHENTICATED, "assertion.credential_id", "That passkey is not registered to this account: sign in with your password again.")
			}
			return err
		}
		count, err := rp.VerifyAssertion(key, c.Data, a)
		if lockbox.ErrorCode(err) == lockbox.EINVALID {
			return lockbox.FieldErrorf(lockbox.EUNAUTHENTICATED, "assertion", "The passkey did not confirm this sign-in (%s): sign in with your password again.", strings.TrimSuffix(lockbox.ErrorMessage(err), "."))
		} else if err != nil {
			return err
		}
		return tx.TouchPasskey(ctx, key.ID, count, now)
	})
	if err != nil {
		return fail(err)
	}
	// Enforced single sign-on was checked (and a break-glass sign-in
	// audited) with the password, minutes ago at most; a disabled or
	// removed account is refused when the token or session is written.
	return u, nil
}
