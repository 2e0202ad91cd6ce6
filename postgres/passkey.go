package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertPasskey stores a credential; ECONFLICT when its id is registered.
func (t *tx) InsertPasskey(ctx context.Context, p *lockbox.Passkey) error {
	ok, err := t.insert(ctx, "insert passkey", `INSERT INTO passkeys
		(id, user_id, name, public_key, sign_count, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT DO NOTHING`,
		p.ID, p.UserID, p.Name, p.PublicKey, int64(p.SignCount), ts(p.CreatedAt), nullTime(p.LastUsedAt))
	switch {
	case isForeignKey(err):
		return lockbox.Errorf(lockbox.ENOTFOUND, "User %q not found.", p.UserID)
	case err != nil:
		return err
	case !ok:
		return lockbox.Errorf(lockbox.ECONFLICT, "This passkey is registered already.")
	}
	return nil
}

// ListPasskeys lists a user's credentials, oldest first.
func (t *tx) ListPasskeys(ctx context.Context, userID string) ([]*lockbox.Passkey, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, user_id, name, public_key, sign_count, created_at, last_used_at
		FROM passkeys WHERE user_id = $1 ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, wrap("list passkeys", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Passkey, error) {
		var p lockbox.Passkey
		var count int64
		var created time.Time
		var used sql.Null[time.Time]
		if err := s.Scan(&p.ID, &p.UserID, &p.Name, &p.PublicKey, &count, &created, &used); err != nil {
			return nil, err
		}
		p.SignCount, p.CreatedAt, p.LastUsedAt = uint32(count), created.UTC(), timePtr(used)
		return &p, nil
	})
	if out == nil {
		out = []*lockbox.Passkey{}
	}
	return out, wrap("list passkeys", err)
}

// DeletePasskey removes one of a user's credentials; ENOTFOUND otherwise.
func (t *tx) DeletePasskey(ctx context.Context, userID, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = $1 AND id = $2`, userID, id)
	return expectRow(res, err, "delete passkey", "Passkey %q not found.", id)
}

// TouchPasskey records a use of a credential.
func (t *tx) TouchPasskey(ctx context.Context, id string, signCount uint32, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE passkeys SET sign_count = $1, last_used_at = $2 WHERE id = $3`,
		int64(signCount), ts(at), id)
	return expectRow(res, err, "touch passkey", "Passkey %q not found.", id)
}

// InsertChallenge stores c and drops the challenges expired at now.
func (t *tx) InsertChallenge(ctx context.Context, c *lockbox.Challenge, now time.Time) error {
	if _, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE expires_at <= $1`, ts(now)); err != nil {
		return wrap("drop expired challenges", err)
	}
	ok, err := t.insert(ctx, "insert challenge", `INSERT INTO passkey_challenges (id, user_id, kind, subject, data, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, c.ID, c.UserID, c.Kind, c.Subject, c.Data, ts(c.ExpiresAt))
	if err == nil && !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "Challenge %q exists.", c.ID)
	}
	return err
}

// Challenges lists a user's challenges of kind and subject valid at now.
func (t *tx) Challenges(ctx context.Context, userID, kind, subject string, now time.Time) ([]*lockbox.Challenge, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, user_id, kind, subject, data, expires_at FROM passkey_challenges
		WHERE user_id = $1 AND kind = $2 AND subject = $3 AND expires_at > $4 ORDER BY expires_at, id`,
		userID, kind, subject, ts(now))
	if err != nil {
		return nil, wrap("list challenges", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Challenge, error) {
		var c lockbox.Challenge
		var exp time.Time
		if err := s.Scan(&c.ID, &c.UserID, &c.Kind, &c.Subject, &c.Data, &exp); err != nil {
			return nil, err
		}
		c.ExpiresAt = exp.UTC()
		return &c, nil
	})
	return out, wrap("list challenges", err)
}

// DeleteChallenge uses up a challenge; ENOTFOUND when it is gone.
func (t *tx) DeleteChallenge(ctx context.Context, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM passkey_challenges WHERE id = $1`, id)
	return expectRow(res, err, "delete challenge", "The challenge was used already or has expired; ask for a new one.")
}
