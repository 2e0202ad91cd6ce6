package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
)

// GetSignInLimit returns key's bucket, nil when none; see
// lockbox.SignInLimitTx.
func (t *tx) GetSignInLimit(ctx context.Context, key string) (*lockbox.LimitBucket, error) {
	var b lockbox.LimitBucket
	var at, full int64
	err := t.tx.QueryRowContext(ctx, `SELECT tokens, at, full_at FROM sign_in_limits WHERE key = ?`, key).Scan(&b.Tokens, &at, &full)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("get sign-in limit", err)
	}
	b.At, b.FullAt = fromMicros(at), fromMicros(full)
	return &b, nil
}

// SpendSignInLimit stores spend's bucket for key. SQLite has one writer,
// so the read and the write cannot interleave with another's.
func (t *tx) SpendSignInLimit(ctx context.Context, key string, now time.Time, spend func(*lockbox.LimitBucket) lockbox.LimitBucket) error {
	b, err := t.GetSignInLimit(ctx, key)
	if err != nil {
		return err
	}
	next := spend(b)
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO sign_in_limits (key, tokens, at, full_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at, full_at = excluded.full_at`,
		key, next.Tokens, micros(next.At), micros(next.FullAt)); err != nil {
		return wrap("spend sign-in limit", err)
	}
	_, err = t.tx.ExecContext(ctx, `DELETE FROM sign_in_limits WHERE key IN
		(SELECT key FROM sign_in_limits WHERE full_at <= ? LIMIT 100)`, micros(now))
	return wrap("sweep sign-in limits", err)
}
