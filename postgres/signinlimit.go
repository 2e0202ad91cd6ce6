package postgres

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
	return t.signInLimit(ctx, key, "")
}

func (t *tx) signInLimit(ctx context.Context, key, lock string) (*lockbox.LimitBucket, error) {
	var b lockbox.LimitBucket
	err := t.tx.QueryRowContext(ctx, `SELECT tokens, at, full_at FROM sign_in_limits WHERE key = $1 `+lock, key).Scan(&b.Tokens, &b.At, &b.FullAt)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, wrap("get sign-in limit", err)
	}
	b.At, b.FullAt = b.At.UTC(), b.FullAt.UTC()
	return &b, nil
}

// SpendSignInLimit stores spend's bucket for key, with the row locked
// (FOR UPDATE) from the read to the write: two replicas counting a failure
// of one account at once wait for each other, and both failures count. A
// first failure inserts the row; when another transaction inserted it
// meanwhile, the insert waits for it and does nothing, and the row is then
// locked and read again.
func (t *tx) SpendSignInLimit(ctx context.Context, key string, now time.Time, spend func(*lockbox.LimitBucket) lockbox.LimitBucket) error {
	for range 2 {
		b, err := t.signInLimit(ctx, key, "FOR UPDATE")
		if err != nil {
			return err
		}
		next := spend(b)
		if b != nil {
			_, err := t.tx.ExecContext(ctx, `UPDATE sign_in_limits SET tokens = $2, at = $3, full_at = $4 WHERE key = $1`,
				key, next.Tokens, ts(next.At), ts(next.FullAt))
			if err != nil {
				return wrap("spend sign-in limit", err)
			}
			return t.sweepSignInLimits(ctx, now)
		}
		ok, err := t.insert(ctx, "spend sign-in limit", `INSERT INTO sign_in_limits (key, tokens, at, full_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (key) DO NOTHING`, key, next.Tokens, ts(next.At), ts(next.FullAt))
		if err != nil {
			return err
		}
		if ok {
			return t.sweepSignInLimits(ctx, now)
		}
	}
	return lockbox.Errorf(lockbox.ECONFLICT, "The sign-in limit of %s changed meanwhile; try again.", key)
}

// sweepSignInLimits forgets some buckets full again at now, skipping rows
// another transaction holds: two spends sweeping each other's rows would
// otherwise deadlock.
func (t *tx) sweepSignInLimits(ctx context.Context, now time.Time) error {
	_, err := t.tx.ExecContext(ctx, `DELETE FROM sign_in_limits WHERE key IN
		(SELECT key FROM sign_in_limits WHERE full_at <= $1 LIMIT 100 FOR UPDATE SKIP LOCKED)`, ts(now))
	return wrap("sweep sign-in limits", err)
}
