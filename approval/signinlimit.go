package approval

import (
	"context"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/ratelimit"
)

// Failed sign-ins (a wrong password, a wrong current password, a passkey
// second factor that does not confirm) are limited per account, so a
// password cannot be guessed online however many clients try, and per
// client address, so one client cannot spray a password over many
// accounts (docs/identity.md, "Sign-in throttling"). Both limits' buckets
// are in the store, so every replica of one database enforces one limit
// and a restart resets nothing.

const (
	clientLimitedMsg  = "Too many failed sign-ins from your address; wait a minute and try again."
	accountLimitedMsg = "Too many failed sign-ins for this account; wait a minute and try again."
)

// clientKey is the caller's key in the per-client sign-in limit: its
// address, or its /64 for IPv6 (ratelimit.ClientKey, "ip:…").
func clientKey(ctx context.Context) string {
	return ratelimit.ClientKey(lockbox.ClientIPFromContext(ctx))
}

// accountKey is an account's key in the store, apart from clients'.
func accountKey(email string) string { return "account:" + email }

func rateLimited(wait time.Duration, msg string) error {
	return &lockbox.Error{Code: lockbox.ERATELIMITED, RetryAfter: wait, Message: msg}
}

// loginLimited refuses a sign-in when the client or the account has no
// failed attempt left, saying when to try again. The client comes first: a
// client already throttled learns nothing about the account and touches
// no per-account state, however many addresses it makes up; one this
// replica saw throttled is refused without reading the store.
func (s *Service) loginLimited(ctx context.Context, email, client string, now time.Time) error {
	if !s.clients.Allowed(client, now) {
		return rateLimited(s.clients.Wait(client, now), clientLimitedMsg)
	}
	var byClient, byAccount *lockbox.LimitBucket
	if err := s.store.View(ctx, func(tx lockbox.Tx) (err error) {
		if byClient, err = tx.GetSignInLimit(ctx, client); err != nil {
			return err
		}
		byAccount, err = tx.GetSignInLimit(ctx, accountKey(email))
		return err
	}); err != nil {
		return err
	}
	if b := bucketOf(byClient); !s.clientLimit.Allowed(b, now) {
		return rateLimited(s.clientLimit.Wait(b, now), clientLimitedMsg)
	}
	if b := bucketOf(byAccount); !s.accountLimit.Allowed(b, now) {
		return rateLimited(s.accountLimit.Wait(b, now), accountLimitedMsg)
	}
	return nil
}

// failedSignIn counts a failure against the client and, when it named
// one (email != ""), the account: in the store, where every replica's
// failures add up, and the client's in this replica's memory too. Counted
// even when the caller has gone: hanging up must not make a guess free. A
// store that cannot count it is logged; the sign-in was refused anyway.
func (s *Service) failedSignIn(ctx context.Context, email, client string, now time.Time) {
	s.clients.Spend(client, now)
	ctx = context.WithoutCancel(ctx)
	err := s.store.Update(ctx, func(tx lockbox.Tx) error {
		// Always the client's row first, then the account's: two
		// transactions never lock the same two rows in opposite orders.
		if err := spendLimit(ctx, tx, client, s.clientLimit, now); err != nil || email == "" {
			return err
		}
		return spendLimit(ctx, tx, accountKey(email), s.accountLimit, now)
	})
	if err != nil {
		s.opts.Logger.WarnContext(ctx, "counting a failed sign-in", "err", err)
	}
}

func spendLimit(ctx context.Context, tx lockbox.Tx, key string, rule ratelimit.Rule, now time.Time) error {
	return tx.SpendSignInLimit(ctx, key, now, func(stored *lockbox.LimitBucket) lockbox.LimitBucket {
		next, _ := rule.Spend(bucketOf(stored), now)
		return lockbox.LimitBucket{Tokens: next.Tokens, At: next.At, FullAt: rule.FullAt(next)}
	})
}

func bucketOf(b *lockbox.LimitBucket) *ratelimit.Bucket {
	if b == nil {
		return nil
	}
	return &ratelimit.Bucket{Tokens: b.Tokens, At: b.At}
}
