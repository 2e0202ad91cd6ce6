package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertWebSession stores a new web session; see lockbox.SessionTx.
func (t *tx) InsertWebSession(ctx context.Context, hash []byte, s *lockbox.WebSession) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO web_sessions
		(hash, user_id, created_at, idle_expires_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		hash, s.UserID, micros(s.CreatedAt), micros(s.IdleExpiresAt), micros(s.ExpiresAt))
	switch {
	case isUnique(err):
		return lockbox.Errorf(lockbox.ECONFLICT, "Session already exists.")
	case isForeignKey(err):
		return lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", s.UserID)
	}
	return wrap("insert web session", err)
}

// WebSessionByHash returns a session valid at now and its user.
func (t *tx) WebSessionByHash(ctx context.Context, hash []byte, now time.Time) (*lockbox.WebSession, *lockbox.User, error) {
	var s lockbox.WebSession
	var created, idle, expires int64
	row := t.tx.QueryRowContext(ctx, `SELECT `+userColumnsU+`, w.created_at, w.idle_expires_at, w.expires_at
		FROM web_sessions w JOIN users u ON u.id = w.user_id
		WHERE w.hash = ? AND w.idle_expires_at > ? AND w.expires_at > ? AND NOT u.disabled`,
		hash, micros(now), micros(now))
	u, err := scanUser(row, &created, &idle, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, lockbox.Errorf(lockbox.ENOTFOUND, "Session not found.")
	} else if err != nil {
		return nil, nil, wrap("web session by hash", err)
	}
	s.UserID = u.ID
	s.CreatedAt, s.IdleExpiresAt, s.ExpiresAt = fromMicros(created), fromMicros(idle), fromMicros(expires)
	return &s, u, nil
}

// TouchWebSession moves a valid session's idle deadline forward, capped at
// its absolute deadline.
func (t *tx) TouchWebSession(ctx context.Context, hash []byte, now, idleExpiresAt time.Time) error {
	var n int
	err := t.tx.QueryRowContext(ctx, `SELECT count(*) FROM web_sessions
		WHERE hash = ? AND idle_expires_at > ? AND expires_at > ?`,
		hash, micros(now), micros(now)).Scan(&n)
	if err != nil {
		return wrap("touch web session", err)
	}
	if n == 0 {
		return lockbox.Errorf(lockbox.ENOTFOUND, "Session not found.")
	}
	_, err = t.tx.ExecContext(ctx, `UPDATE web_sessions
		SET idle_expires_at = min(?1, expires_at), last_used_at = ?3
		WHERE hash = ?2 AND idle_expires_at < min(?1, expires_at)`,
		micros(idleExpiresAt), hash, micros(now))
	return wrap("touch web session", err)
}

// DeleteWebSession removes one session.
func (t *tx) DeleteWebSession(ctx context.Context, hash []byte) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash)
	return wrap("delete web session", err)
}

// ListUserWebSessions lists a user's sessions valid at now, oldest first.
func (t *tx) ListUserWebSessions(ctx context.Context, userID string, now time.Time) ([]*lockbox.Token, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT hash, created_at, last_used_at, min(idle_expires_at, expires_at)
		FROM web_sessions WHERE user_id = ?1 AND idle_expires_at > ?2 AND expires_at > ?2
		ORDER BY created_at, hash`, userID, micros(now))
	if err != nil {
		return nil, wrap("list user web sessions", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Token, error) {
		k := lockbox.Token{UserID: userID}
		var created, expires int64
		var used sql.Null[int64]
		if err := s.Scan(&k.Hash, &created, &used, &expires); err != nil {
			return nil, err
		}
		k.CreatedAt, k.LastUsedAt, k.ExpiresAt = fromMicros(created), timePtr(used), fromMicros(expires)
		return &k, nil
	})
	return out, wrap("list user web sessions", err)
}

// DeleteUserWebSessions removes every session of a user.
func (t *tx) DeleteUserWebSessions(ctx context.Context, userID string) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE user_id = ?`, userID)
	return wrap("delete user web sessions", err)
}

// DeleteExpiredWebSessions removes up to limit sessions dead at now.
func (t *tx) DeleteExpiredWebSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE hash IN (
		SELECT hash FROM web_sessions WHERE idle_expires_at <= ? OR expires_at <= ? LIMIT ?)`,
		micros(now), micros(now), limit))
	return int(n), wrap("delete expired web sessions", err)
}
