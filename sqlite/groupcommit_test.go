package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestGroupCommitCancelledCallerHarmsNoOne: a caller whose context is
// cancelled while queued gets its error, and the others still commit.
func TestGroupCommitCancelledCallerHarmsNoOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	block, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // holds the writer so the next callers queue
		s.Update(ctx, func(lockbox.Tx) error { close(block); <-release; return nil })
	})
	<-block
	cctx, cancel := context.WithCancel(ctx)
	var cancelled, other error
	wg.Go(func() { cancelled = s.Update(cctx, func(lockbox.Tx) error { return nil }) })
	wg.Go(func() {
		other = s.Update(ctx, func(tx lockbox.Tx) error {
			return tx.InsertTenant(ctx, &lockbox.Tenant{Name: "kept", DisplayName: "k", CreatedAt: time.Unix(0, 0).UTC()}, lockbox.DefaultSettings())
		})
	})
	time.Sleep(50 * time.Millisecond) // let both queue (the test holds no timing assertion)
	cancel()
	close(release)
	wg.Wait()
	if !errors.Is(cancelled, context.Canceled) || other != nil {
		t.Fatalf("cancelled caller: %v (want context.Canceled); other: %v (want nil)", cancelled, other)
	}
}

// TestGroupAuditReadsSeeEarlierMembers: an Update whose audit read could
// return a record an earlier Update of its group staged (written only at
// the group's flush) is run again after a flush
// (storetest.CheckGroupAuditReads).
func TestGroupAuditReadsSeeEarlierMembers(t *testing.T) {
	t.Parallel()
	storetest.CheckGroupAuditReads(t, mustOpen(t, filepath.Join(t.TempDir(), "lb.db")))
}

// TestGroupWebhookDeleteSeesEarlierMessages: storetest.CheckGroupWebhookDelete
// (SQLite writes a message at once, so it has nothing to wait for).
func TestGroupWebhookDeleteSeesEarlierMessages(t *testing.T) {
	t.Parallel()
	storetest.CheckGroupWebhookDelete(t, mustOpen(t, filepath.Join(t.TempDir(), "lb.db")))
}
