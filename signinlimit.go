package lockbox

import (
	"context"
	"time"
)

// LimitBucket is a token bucket of the sign-in limit, as a store keeps it
// (the arithmetic is internal/ratelimit's Rule): Tokens left at At, and
// FullAt, when it is full again, from which on the store may forget it.
type LimitBucket struct {
	Tokens float64
	At     time.Time
	FullAt time.Time
}

// SignInLimitTx keeps the failed sign-ins of each account and of each
// client address (one key each), so every replica of one database
// enforces one limit (docs/identity.md, "Sign-in throttling"). Part of
// every store's Tx.
type SignInLimitTx interface {
	// GetSignInLimit returns key's bucket; nil when there is none (a full
	// one).
	GetSignInLimit(ctx context.Context, key string) (*LimitBucket, error)
	// SpendSignInLimit locks key's bucket against every other writer, so
	// failures on two replicas at once both count, gives it to spend (nil:
	// none yet) and stores what spend returns. It also deletes some
	// buckets that were full again at now (housekeeping).
	SpendSignInLimit(ctx context.Context, key string, now time.Time, spend func(*LimitBucket) LimitBucket) error
}
