package approval_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/approval"
	"github.com/lockboxhq/lockbox/internal/lockboxtest"
)

// oneReadStore is a store that can run one read outside a transaction
// (lockbox.OneReader), counting how often it is asked to.
type oneReadStore struct {
	lockbox.Store
	reads atomic.Int64
}

func (s *oneReadStore) ViewOne(ctx context.Context, fn func(lockbox.Tx) error) error {
	s.reads.Add(1)
	return s.Store.View(ctx, fn)
}

// TestAuthenticateIsOneRead: resolving a bearer token, on every call of
// the API, uses the store's single read when it has one (on PostgreSQL one
// round trip instead of three), although the service wraps the store.
func TestAuthenticateIsOneRead(t *testing.T) {
	ctx := context.Background()
	st := &oneReadStore{Store: openTestStore(t)}
	svc := approval.New(st, lockbox.SystemClock{}, approval.Options{PasswordMemoryKiB: 64, PasswordTime: 1, Resolver: lockboxtest.DNS})
	if err := svc.SeedDev(ctx); err != nil {
		t.Fatal(err)
	}
	sess, err := svc.Login(ctx, "operator@provider.test", "lockbox-dev")
	if err != nil {
		t.Fatal(err)
	}
	before := st.reads.Load()
	u, err := svc.Authenticate(ctx, sess.Token)
	if err != nil || u.Email != "operator@provider.test" {
		t.Fatalf("Authenticate = %v, %v", u, err)
	}
	if n := st.reads.Load() - before; n != 1 {
		t.Errorf("Authenticate made %d single reads, want 1", n)
	}
}
