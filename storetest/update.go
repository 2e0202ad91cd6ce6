package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Both stores run concurrent Updates together, each in a savepoint of one
// shared transaction (group commit): these hold every caller to its own
// outcome however the Updates were grouped.
var updateTests = []test{
	{"IsolatesFailures", testUpdateIsolatesFailures},
	{"CancelledCaller", testUpdateCancelledCaller},
	{"SameAuditIDTwice", testUpdateSameAuditIDTwice},
	{"AfterClose", testUpdateAfterClose},
}

// testUpdateIsolatesFailures: many concurrent Updates (so they share commit
// groups); every third fails after writing and one panics. Exactly the
// successful ones persist, and each caller gets its own outcome.
func testUpdateIsolatesFailures(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
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
				if err := tx.AppendAudit(ctx, NewAuditRecord(tn.Name, "rec-"+tn.Name)); err != nil {
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
	MustView(t, s, func(tx lockbox.Tx) (err error) {
		tenants, err = tx.ListTenants(ctx)
		return err
	})
	stored := map[string]bool{}
	for _, tn := range tenants {
		stored[tn.Name] = true
	}
	for i := range n {
		name := fmt.Sprintf("t%03d", i)
		logged := MustAuditSize(t, s, name) == 1
		switch {
		case i == 50:
			if panics[i] != "fn panicked" || stored[name] || logged {
				t.Errorf("%d: panic %v re-raised in the caller, stored %v, logged %v; want re-raised, neither", i, panics[i], stored[name], logged)
			}
		case i%3 == 0:
			if !errors.Is(results[i], errBoom) || stored[name] || logged {
				t.Errorf("%d: got %v, stored %v, logged %v; want boom, neither", i, results[i], stored[name], logged)
			}
		default:
			if results[i] != nil || !stored[name] || !logged {
				t.Errorf("%d: got %v, stored %v, logged %v; want committed, both", i, results[i], stored[name], logged)
			}
		}
	}
}

// testUpdateCancelledCaller: a caller whose context has ended gets its
// error and changes nothing, and Updates around it still commit.
func testUpdateCancelledCaller(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		c := ctx
		if i%2 == 1 {
			c = cctx
		}
		wg.Go(func() {
			errs[i] = s.Update(c, func(tx lockbox.Tx) error {
				return tx.InsertTenant(ctx, &lockbox.Tenant{Name: fmt.Sprint("t", i), DisplayName: "x", CreatedAt: time.Unix(0, 0).UTC()}, lockbox.DefaultSettings())
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		_, getErr := lookupTenant(t, s, fmt.Sprint("t", i))
		if i%2 == 1 {
			if !errors.Is(err, context.Canceled) || getErr == nil {
				t.Errorf("cancelled caller %d: %v, tenant lookup %v; want context.Canceled and no tenant", i, err, getErr)
			}
		} else if err != nil || getErr != nil {
			t.Errorf("caller %d: %v, tenant lookup %v; want committed", i, err, getErr)
		}
	}
}

func lookupTenant(t *testing.T, s lockbox.Store, name string) (tn *lockbox.Tenant, err error) {
	t.Helper()
	vErr := s.View(t.Context(), func(tx lockbox.Tx) error {
		tn, err = tx.GetTenant(t.Context(), name)
		return nil
	})
	if vErr != nil {
		t.Fatal(vErr)
	}
	return tn, err
}

// testUpdateSameAuditIDTwice: concurrent Updates appending a record with
// the same id, each beside a write of its own: exactly one commits, the
// others are ECONFLICT and leave nothing.
func testUpdateSameAuditIDTwice(t *testing.T, s lockbox.Store) {
	ctx := t.Context()
	MustInsertTenant(t, s, "contoso")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Update(ctx, func(tx lockbox.Tx) error {
				if err := tx.InsertTenant(ctx, &lockbox.Tenant{Name: fmt.Sprint("t", i), DisplayName: "x", CreatedAt: time.Unix(0, 0).UTC()}, lockbox.DefaultSettings()); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, NewAuditRecord("contoso", "same"))
			})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		_, getErr := lookupTenant(t, s, fmt.Sprint("t", i))
		switch {
		case err == nil && getErr == nil:
			won++
		case lockbox.ErrorCode(err) == lockbox.ECONFLICT && getErr != nil:
		default:
			t.Errorf("caller %d: %v, tenant lookup %v; want committed, or ECONFLICT and nothing stored", i, err, getErr)
		}
	}
	if won != 1 || MustAuditSize(t, s, "contoso") != 1 {
		t.Errorf("%d callers committed, the log holds %d records; want 1 and 1", won, MustAuditSize(t, s, "contoso"))
	}
}

// testUpdateAfterClose: an Update on a closed store fails.
func testUpdateAfterClose(t *testing.T, s lockbox.Store) {
	if c, ok := s.(interface{ Close() error }); ok {
		c.Close()
	} else {
		t.Skip("the store cannot be closed")
	}
	if err := s.Update(t.Context(), func(lockbox.Tx) error { return nil }); err == nil {
		t.Fatal("Update on a closed store succeeded")
	}
}
