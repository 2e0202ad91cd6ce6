package lockbox

import (
	"context"
	"time"
)

// WebSession is a person signed in to the web admin center in a browser.
// The browser holds a random token in a cookie; the store holds only the
// token's SHA-256 hash, so a leaked database signs nobody in.
//
// A session is valid at time t only when t is strictly before both of its
// deadlines: IdleExpiresAt (moved forward while the person is active, never
// past ExpiresAt) and ExpiresAt (fixed at sign-in: the absolute timeout).
// Validity is decided at lookup from these times alone, so a session is
// never valid after a deadline, whether or not anything has cleaned it up.
type WebSession struct {
	UserID        string    `json:"user_id"`
	CreatedAt     time.Time `json:"created_at"`
	IdleExpiresAt time.Time `json:"idle_expires_at"`
	ExpiresAt     time.Time `json:"expires_at"`
}

// ValidAt reports whether the session may be used at now.
func (s *WebSession) ValidAt(now time.Time) bool {
	return now.Before(s.IdleExpiresAt) && now.Before(s.ExpiresAt)
}

// SessionTx is the persistence of web sessions, part of every store's Tx.
// Hashes are opaque byte strings (32 bytes in practice); times are the
// caller's clock at microsecond precision, compared exactly as given: a
// store never reads its own clock.
type SessionTx interface {
	// InsertWebSession stores a new session under hash. ECONFLICT when the
	// hash is already stored; ENOTFOUND when s.UserID is not a user.
	InsertWebSession(ctx context.Context, hash []byte, s *WebSession) error
	// WebSessionByHash returns the session stored under hash and its user
	// (as GetUserByID returns it: current roles, so a role removed a moment
	// ago is gone from the session too) when the session is valid at now
	// (WebSession.ValidAt) and its user is not disabled. ENOTFOUND otherwise: a missing and an expired
	// session answer the same. It does not change the session.
	WebSessionByHash(ctx context.Context, hash []byte, now time.Time) (*WebSession, *User, error)
	// TouchWebSession moves the idle deadline of the session stored under
	// hash to idleExpiresAt, capped at its ExpiresAt, and records now as its
	// last use, if the session is valid at now and the new idle deadline is
	// later than the stored one.
	// ENOTFOUND when no session valid at now is stored under hash (so a
	// touch can never revive an expired session). Touching with an earlier
	// deadline is not an error and changes nothing.
	TouchWebSession(ctx context.Context, hash []byte, now, idleExpiresAt time.Time) error
	// DeleteWebSession removes the session stored under hash (sign-out).
	// Deleting a missing session is not an error.
	DeleteWebSession(ctx context.Context, hash []byte) error
	// ListUserWebSessions lists a user's sessions valid at now, oldest
	// first, as Tokens (ExpiresAt: the earlier deadline; LastUsedAt: the
	// last touch).
	ListUserWebSessions(ctx context.Context, userID string, now time.Time) ([]*Token, error)
	// DeleteUserWebSessions removes every session of a user (none is not an
	// error). Deleting the user removes them too.
	DeleteUserWebSessions(ctx context.Context, userID string) error
	// DeleteExpiredWebSessions removes at most limit sessions that are not
	// valid at now and returns how many it removed. Housekeeping only:
	// validity never depends on it.
	DeleteExpiredWebSessions(ctx context.Context, now time.Time, limit int) (int, error)
}

// WebSessionService signs people in to and out of the web admin center.
// Sessions are for browsers only: the JSON API keeps bearer tokens.
type WebSessionService interface {
	// SignIn checks the password exactly as AccountService.Login does (one
	// message for unknown email and wrong password: EUNAUTHENTICATED; the
	// same per-account limit on failures: ERATELIMITED) and starts a
	// session. Service accounts cannot sign in to the web (EUNAUTHENTICATED,
	// the same message). The token is returned once and stored hashed.
	SignIn(ctx context.Context, email, password string) (token string, s *WebSession, err error)
	// SignInPasskey finishes a SignIn that answered EPASSKEYREQUIRED, as
	// PasskeyService.LoginPasskey does, and starts the session.
	SignInPasskey(ctx context.Context, challenge string, a PasskeyAssertion) (token string, s *WebSession, err error)
	// ResumeWebSession resolves a session token to its user and moves the
	// idle deadline forward. EUNAUTHENTICATED when the token is unknown,
	// idle too long, or past its absolute deadline.
	ResumeWebSession(ctx context.Context, token string) (*User, *WebSession, error)
	// SignOut deletes the session server-side, so the cookie is worthless
	// even if it was copied. An unknown token is not an error.
	SignOut(ctx context.Context, token string) error
}
