package approval

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
)

// WebSessionOptions are the timeouts of web admin center sessions. Zero
// values mean the defaults.
type WebSessionOptions struct {
	// IdleTimeout ends a session nobody has used for this long (default 30 min).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in, however busy
	// (default 12 h).
	AbsoluteTimeout time.Duration
}

// touchEvery is how stale an idle deadline may get before a page view
// writes a new one: at most one write a minute per session instead of one
// per page, at the cost of an idle timeout up to a minute short.
const touchEvery = time.Minute

// expiredSweep bounds the dead sessions removed at each sign-in.
const expiredSweep = 100

// WebSessions signs people in to the web admin center. It shares the
// Service's store, password check, per-account failure limit and session
// clock (the wall clock in --dev, so moving the dev clock signs nobody out).
type WebSessions struct {
	s        *Service
	idle     time.Duration
	absolute time.Duration
}

var _ lockbox.WebSessionService = (*WebSessions)(nil)

// WebSessions returns the web session service of s.
func (s *Service) WebSessions(o WebSessionOptions) *WebSessions {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 30 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	return &WebSessions{s: s, idle: min(o.IdleTimeout, o.AbsoluteTimeout), absolute: o.AbsoluteTimeout}
}

// SignIn checks the password and starts a session.
func (w *WebSessions) SignIn(ctx context.Context, email, password string) (string, *lockbox.WebSession, error) {
	now := w.s.sessionNow()
	u, err := w.s.verifyPassword(ctx, email, password, now)
	if err != nil {
		return "", nil, err
	}
	if u.ServiceAccount {
		// Same message as a wrong password: nothing tells a service account
		// token's owner that the address is a real account.
		return "", nil, errBadLogin()
	}
	if u, err = w.s.secondFactor(ctx, u, now); err != nil {
		return "", nil, err
	}
	token, ws, err := w.startSession(ctx, u, SignInPassword, now)
	if err != nil {
		return "", nil, err
	}
	w.s.opts.Logger.InfoContext(ctx, "web sign-in", "user", u.Email)
	return token, ws, nil
}

// SignInPasskey finishes a sign-in that SignIn answered with
// EPASSKEYREQUIRED: the assertion over its challenge starts the session.
func (w *WebSessions) SignInPasskey(ctx context.Context, challenge string, a lockbox.PasskeyAssertion) (string, *lockbox.WebSession, error) {
	now := w.s.sessionNow()
	u, err := w.s.verifySignIn(ctx, challenge, a, now)
	if err != nil {
		return "", nil, err
	}
	token, ws, err := w.startSession(ctx, u, SignInPasskey, now)
	if err != nil {
		return "", nil, err
	}
	w.s.opts.Logger.InfoContext(ctx, "web sign-in", "user", u.Email, "passkey", true)
	return token, ws, nil
}

// startSession starts a session of u, whose identity was just proven (how:
// a password, a passkey after it, or an IdP's ID token: sso.go), with its
// sign-in record.
func (w *WebSessions) startSession(ctx context.Context, u *lockbox.User, how string, now time.Time) (string, *lockbox.WebSession, error) {
	token := randomSecret(sessionPrefix("lbw", u), 32)
	ws := &lockbox.WebSession{UserID: u.ID, CreatedAt: now,
		IdleExpiresAt: now.Add(w.idle), ExpiresAt: now.Add(w.absolute)}
	err := w.s.store.Update(ctx, func(tx lockbox.Tx) error {
		if _, err := tx.DeleteExpiredWebSessions(ctx, now, expiredSweep); err != nil {
			return err
		}
		if err := tx.InsertWebSession(ctx, tokenHash(token), ws); err != nil {
			return err
		}
		return appendAudit(ctx, tx, signInRecord(ctx, u, how, "web", now))
	})
	if err != nil {
		return "", nil, err
	}
	return token, ws, nil
}

// ResumeWebSession resolves a session token and keeps it alive.
func (w *WebSessions) ResumeWebSession(ctx context.Context, token string) (*lockbox.User, *lockbox.WebSession, error) {
	if token == "" {
		return nil, nil, errSessionGone()
	}
	now := w.s.sessionNow()
	hash := tokenHash(token)
	var ws *lockbox.WebSession
	var u *lockbox.User
	err := w.s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		ws, u, err = tx.WebSessionByHash(ctx, hash, now)
		return err
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		return nil, nil, errSessionGone()
	} else if err != nil {
		return nil, nil, err
	}
	if u, err = w.s.setupSession(ctx, token, u); err != nil {
		return nil, nil, err
	}
	idle := now.Add(w.idle)
	if idle.After(ws.ExpiresAt) {
		idle = ws.ExpiresAt
	}
	if idle.Sub(ws.IdleExpiresAt) < touchEvery {
		return u, ws, nil
	}
	err = w.s.store.Update(ctx, func(tx lockbox.Tx) error {
		return tx.TouchWebSession(ctx, hash, now, idle)
	})
	if lockbox.ErrorCode(err) == lockbox.ENOTFOUND {
		// Signed out (or timed out) between the read and the touch.
		return nil, nil, errSessionGone()
	} else if err != nil {
		return nil, nil, err
	}
	ws.IdleExpiresAt = idle
	return u, ws, nil
}

// SignOut deletes the session.
func (w *WebSessions) SignOut(ctx context.Context, token string) error {
	if token == "" {
		return nil
	}
	return w.s.store.Update(ctx, func(tx lockbox.Tx) error {
		return tx.DeleteWebSession(ctx, tokenHash(token))
	})
}

func errSessionGone() error {
	return lockbox.Errorf(lockbox.EUNAUTHENTICATED, "Your session has ended; sign in again.")
}
