package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lockboxhq/lockbox"
)

// signInLimitTests are the conformance cases of lockbox.SignInLimitTx.
var signInLimitTests = []test{
	{"StoredAndSwept", testSignInLimitStoredAndSwept},
	{"ConcurrentSpendsAllCount", testSignInLimitConcurrentSpends},
}

// testSignInLimitStoredAndSwept: a spend sees the stored bucket (nil for
// none) and stores what it returns; a bucket full again is forgotten by a
// later spend's housekeeping, never before.
func testSignInLimitStoredAndSwept(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	get := func(key string) *lockbox.LimitBucket {
		t.Helper()
		var b *lockbox.LimitBucket
		MustView(t, s, func(tx lockbox.Tx) (err error) { b, err = tx.GetSignInLimit(ctx, key); return err })
		return b
	}
	if b := get("a@contoso.test"); b != nil {
		t.Fatalf("bucket of a key never spent = %+v, want none", b)
	}
	first := lockbox.LimitBucket{Tokens: 9, At: T0, FullAt: T0.Add(30 * time.Second)}
	var seen []*lockbox.LimitBucket
	spend := func(key string, now time.Time, next lockbox.LimitBucket) {
		t.Helper()
		MustUpdate(t, s, func(tx lockbox.Tx) error {
			return tx.SpendSignInLimit(ctx, key, now, func(b *lockbox.LimitBucket) lockbox.LimitBucket {
				seen = append(seen, b)
				return next
			})
		})
	}
	spend("a@contoso.test", T0, first)
	second := lockbox.LimitBucket{Tokens: 8.5, At: T0.Add(time.Second), FullAt: T0.Add(46 * time.Second)}
	spend("a@contoso.test", T0.Add(time.Second), second)
	if diff := cmp.Diff([]*lockbox.LimitBucket{nil, &first}, seen); diff != "" {
		t.Errorf("buckets given to spend (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&second, get("a@contoso.test")); diff != "" {
		t.Errorf("stored bucket (-want +got):\n%s", diff)
	}
	// Another key's spend before a@'s FullAt keeps it, at or after it
	// forgets it.
	spend("b@contoso.test", second.FullAt.Add(-time.Microsecond), first)
	if get("a@contoso.test") == nil {
		t.Error("a bucket not yet full was swept")
	}
	spend("b@contoso.test", second.FullAt, lockbox.LimitBucket{Tokens: 1, At: second.FullAt, FullAt: second.FullAt.Add(time.Hour)})
	if b := get("a@contoso.test"); b != nil {
		t.Errorf("a bucket full again was kept: %+v", b)
	}
	if b := get("b@contoso.test"); b == nil || b.Tokens != 1 {
		t.Errorf("the spending key's own bucket = %+v, want kept", b)
	}
}

// testSignInLimitConcurrentSpends: failures counted at once (by replicas,
// on PostgreSQL with several writers) all count: none is lost to another's
// read-modify-write.
func testSignInLimitConcurrentSpends(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	const n = 16
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := s.Update(ctx, func(tx lockbox.Tx) error {
				return tx.SpendSignInLimit(ctx, "a@contoso.test", T0, func(b *lockbox.LimitBucket) lockbox.LimitBucket {
					next := lockbox.LimitBucket{Tokens: 100, At: T0, FullAt: T0.Add(time.Hour)}
					if b != nil {
						next.Tokens = b.Tokens
					}
					next.Tokens--
					return next
				})
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var b *lockbox.LimitBucket
	MustView(t, s, func(tx lockbox.Tx) (err error) { b, err = tx.GetSignInLimit(ctx, "a@contoso.test"); return err })
	if b == nil || b.Tokens != 100-n {
		t.Errorf("after %d concurrent spends: %+v, want %d tokens", n, b, 100-n)
	}
}
