package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertPasskey stores a credential; ECONFLICT when its id is registered.
func (t *tx) InsertPasskey(ctx context.Context, p *lockbox.Passkey) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO passkeys
		(id, user_id, name, public_key, sign_count, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.UserID, p.Name, p.PublicKey, int64(p.SignCount), micros(p.CreatedAt), nullMicros(p.LastUsedAt))
	switch {
	case isUnique(err):
		return lockbox.Errorf(lockbox.ECONFLICT, "This passkey is registered already.")
	case isForeignKey(err):
		return lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", p.UserID)
	}
	return wrap("insert passkey", err)
}

// ListPasskeys lists a user's credentials, oldest first.
func (t *tx) ListPasskeys(ctx context.Context, userID string) ([]*lockbox.Passkey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, user_id, name, public_key, sign_count, created_at, last_used_at
		FROM passkeys WHERE user_id = ? ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap("list passkeys", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Passkey, error) {
		var p lockbox.Passkey
		var count, created int64
		var used sql.NullInt64
		if err := s.Scan(&p.ID, &p.UserID, &p.Name, &p.PublicKey, &count, &created, &used); err != nil {
			return nil, err
		}
		p.SignCount, p.CreatedAt = uint32(count), fromMicros(created)
		if used.Valid {
			at := fromMicros(used.Int64)
			p.LastUsedAt = &at
		}
		return &p, nil
	})
	if out == nil {
		out = []*lockbox.Passkey{}
	}
	return out, wrap("list passkeys", err)
}

// DeletePasskey removes one of a user's credentials; ENOTFOUND otherwise.
func (t *tx) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ? AND id = ?`, userID, id)
	return expectRow(res, err, "delete passkey", "Passkey %q not found.", id)
}

// TouchPasskey records a use of a credential.
func (t *tx) TouchPasskey(ctx context.Context, id string, signCount uint32, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = ?, last_used_at = ? WHERE id = ?`,
		int64(signCount), micros(at), id)
	return expectRow(res, err, "touch passkey", "Passkey %q not found.", id)
}

// InsertChallenge stores c and drops the challenges expired at now.
func (t *tx) InsertChallenge(ctx context.Context, c *lockbox.Challenge, now time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE expires_at <= ?`, micros(now)); err != nil {
		return wrap("drop expired challenges", err)
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO passkey_challenges (id, user_id, kind, subject, data, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, c.ID, c.UserID, c.Kind, c.Subject, c.Data, micros(c.ExpiresAt))
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Challenge %q exists.", c.ID)
	}
	return wrap("insert challenge", err)
}

// Challenges lists a user's challenges of kind and subject valid at now.
func (t *tx) Challenges(ctx context.Context, userID, kind, subject string, now time.Time) ([]*lockbox.Challenge, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, user_id, kind, subject, data, expires_at FROM passkey_challenges
		WHERE user_id = ? AND kind = ? AND subject = ? AND expires_at > ? ORDER BY expires_at, id`,
		userID, kind, subject, micros(now))
	if err != nil {
		return nil, wrap("list challenges", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Challenge, error) {
		var c lockbox.Challenge
		var exp int64
		if err := s.Scan(&c.ID, &c.UserID, &c.Kind, &c.Subject, &c.Data, &exp); err != nil {
			return nil, err
		}
		c.ExpiresAt = fromMicros(exp)
		return &c, nil
	})
	return out, wrap("list challenges", err)
}

// DeleteChallenge uses up a challenge; ENOTFOUND when it is gone.
func (t *tx) DeleteChallenge(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE id = ?`, id)
	return expectRow(res, err, "delete challenge", "The challenge was used already or has expired; ask for a new one.")
}
