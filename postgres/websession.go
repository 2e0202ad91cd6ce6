package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertWebSession stores a new web session; see lockbox.SessionTx. The row
// is inserted only if the user exists, so neither a taken hash nor an
// unknown user aborts the transaction.
func (t *tx) InsertWebSession(ctx context.Context, hash []byte, s *lockbox.WebSession) error {
	ok, err := t.insert(ctx, "insert web session", `INSERT INTO web_sessions
		(hash, user_id, created_at, idle_expires_at, expires_at)
		SELECT $1::bytea, id, $3::timestamptz, $4::timestamptz, $5::timestamptz FROM users WHERE id = $2
		ON CONFLICT DO NOTHING`,
		hash, s.UserID, ts(s.CreatedAt), ts(s.IdleExpiresAt), ts(s.ExpiresAt))
	switch {
	case isForeignKey(err): // the user was deleted by a transaction that committed meanwhile
		return lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", s.UserID)
	case err != nil || ok:
		return err
	}
	if _, err := t.GetUserByID(ctx, s.UserID); err != nil {
		return err
	}
	return lockbox.Errorf(lockbox.ECONFLICT, "Session already exists.")
}

// WebSessionByHash returns a session valid at now and its user.
func (t *tx) WebSessionByHash(ctx context.Context, hash []byte, now time.Time) (*lockbox.WebSession, *lockbox.User, error) {
	var s lockbox.WebSession
	var created, idle, expires time.Time
	row := t.tx.QueryRowContext(ctx, `SELECT `+userColumnsU+`, w.created_at, w.idle_expires_at, w.expires_at
		FROM web_sessions w JOIN users u ON u.id = w.user_id
		WHERE w.hash = $1 AND w.idle_expires_at > $2 AND w.expires_at > $2 AND NOT u.disabled`, hash, ts(now))
	u, err := scanUser(row, &created, &idle, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, lockbox.Errorf(lockbox.ENOTFOUND, "Session not found.")
	} else if err != nil {
		return nil, nil, wrap("web session by hash", err)
	}
	s.UserID = u.ID
	s.CreatedAt, s.IdleExpiresAt, s.ExpiresAt = created.UTC(), idle.UTC(), expires.UTC()
	return &s, u, nil
}

// TouchWebSession moves a valid session's idle deadline forward, capped at
// its absolute deadline. The row is locked while it is checked, so a touch
// racing a sign-out either finds the session or changes nothing.
func (t *tx) TouchWebSession(ctx context.Context, hash []byte, now, idleExpiresAt time.Time) error {
	var found bool
	err := t.tx.QueryRowContext(ctx, `SELECT true FROM web_sessions
		WHERE hash = $1 AND idle_expires_at > $2 AND expires_at > $2 FOR UPDATE`,
		hash, ts(now)).Scan(&found)
	if errors.Is(err, sql.ErrNoRows) {
		return lockbox.Errorf(lockbox.ENOTFOUND, "Session not found.")
	} else if err != nil {
		return wrap("touch web session", err)
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE web_sessions
		SET idle_expires_at = LEAST($1, expires_at), last_used_at = $3
		WHERE hash = $2 AND idle_expires_at < LEAST($1, expires_at)`,
		ts(idleExpiresAt), hash, ts(now))
	return wrap("touch web session", err)
}

// DeleteWebSession removes one session.
func (t *tx) DeleteWebSession(ctx context.Context, hash []byte) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = $1`, hash)
	return wrap("delete web session", err)
}

// ListUserWebSessions lists a user's sessions valid at now, oldest first.
func (t *tx) ListUserWebSessions(ctx context.Context, userID string, now time.Time) ([]*lockbox.Token, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT hash, created_at, last_used_at, LEAST(idle_expires_at, expires_at)
		FROM web_sessions WHERE user_id = $1 AND idle_expires_at > $2 AND expires_at > $2
		ORDER BY created_at, hash`, userID, ts(now))
	if err != nil {
		return nil, wrap("list user web sessions", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Token, error) {
		k := lockbox.Token{UserID: userID}
		var created, expires time.Time
		var used sql.Null[time.Time]
		if err := s.Scan(&k.Hash, &created, &used, &expires); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt, k.ExpiresAt = created.UTC(), timePtr(used), expires.UTC()
		return &k, nil
	})
	return out, wrap("list user web sessions", err)
}

// DeleteUserWebSessions removes every session of a user.
func (t *tx) DeleteUserWebSessions(ctx context.Context, userID string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = $1`, userID)
	return wrap("delete user web sessions", err)
}

// DeleteExpiredWebSessions removes up to limit sessions dead at now. Rows
// another replica is deleting at the same moment are skipped rather than
// waited for.
func (t *tx) DeleteExpiredWebSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash IN (
		SELECT hash FROM web_sessions WHERE idle_expires_at <= $1 OR expires_at <= $1
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, ts(now), limit))
	return int(n), wrap("delete expired web sessions", err)
}
