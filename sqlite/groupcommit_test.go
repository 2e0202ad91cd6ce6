package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
)

// TestGroupCommitIsolatesFailures: many concurrent Updates (so they share
// commit groups); every third fails after writing and one panics. Exactly
// the successful ones persist, and each caller gets its own outcome.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 96
	errBoom := errors.New("boom")
	results := make([]error, n)
	panics := make([]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			defer func() { panics[i] = recover() }()
			results[i] = s.Update(ctx, func(tx lockbox.Tx) error {
				tn := &lockbox.Tenant{Name: fmt.Sprintf("t%03d", i), DisplayName: "x", CreatedAt: time.Unix(0, 0).UTC()}
				if err := tx.InsertTenant(ctx, tn, lockbox.DefaultSettings()); err != nil {
					return err
				}
				switch {
				case i == 50:
					panic("fn panicked")
				case i%3 == 0:
					return errBoom
				}
				return nil
			})
		})
	}
	wg.Wait()
	var tenants []*lockbox.Tenant
	if err := s.View(ctx, func(tx lockbox.Tx) error {
		tenants, err = tx.ListTenants(ctx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	stored := map[string]bool{}
	for _, tn := range tenants {
		stored[tn.Name] = true
	}
	for i := range n {
		name := fmt.Sprintf("t%03d", i)
		switch {
		case i == 50:
			if panics[i] != "fn panicked" || stored[name] {
				t.Errorf("%d: panic %v re-raised in the caller, stored %v; want re-raised and not stored", i, panics[i], stored[name])
			}
		case i%3 == 0:
			if !errors.Is(results[i], errBoom) || stored[name] {
				t.Errorf("%d: got %v, stored %v; want boom and not stored", i, results[i], stored[name])
			}
		default:
			if results[i] != nil || !stored[name] {
				t.Errorf("%d: got %v, stored %v; want committed", i, results[i], stored[name])
			}
		}
	}
}

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

func TestUpdateAfterCloseFails(t *testing.T) {
	t.Parallel()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "lb.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Update(context.Background(), func(lockbox.Tx) error { return nil }); err == nil {
		t.Fatal("Update on a closed store succeeded")
	}
}
