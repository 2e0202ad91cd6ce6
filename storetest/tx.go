package storetest

import (
	"errors"
	"testing"

	"github.com/lockboxhq/lockbox"
)

var txTests = []test{
	{"Ping", testPing},
	{"UpdateCommits", testUpdateCommits},
	{"UpdateRollsBackOnError", testUpdateRollsBackOnError},
	{"UpdateRollsBackOnPanic", testUpdateRollsBackOnPanic},
	{"ViewIsReadOnly", testViewIsReadOnly},
	{"ViewReturnsFnError", testViewReturnsFnError},
}

func testPing(t *testing.T, s lockbox.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// writeEverything writes one row of every kind, in one transaction.
func writeEverything(t *testing.T, tx lockbox.Tx) error {
	ctx := t.Context()
	if err := tx.InsertTenant(ctx, &lockbox.Tenant{Name: "contoso", CreatedAt: T0}, lockbox.DefaultSettings()); err != nil {
		return err
	}
	if err := tx.InsertUser(ctx, NewUser("u1", "admin@contoso.test", "contoso", lockbox.RoleGlobalAdmin), "h"); err != nil {
		return err
	}
	if err := tx.InsertToken(ctx, []byte("token"), "u1", T0, T0.AddDate(1, 0, 0)); err != nil {
		return err
	}
	if err := tx.PutService(ctx, exchange()); err != nil {
		return err
	}
	if err := tx.InsertRequest(ctx, NewRequest(1)); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, NewAuditRecord("contoso", "rec-0"))
}

// checkEverything reports which rows of writeEverything are present.
func checkEverything(t *testing.T, s lockbox.Store, want bool) {
	t.Helper()
	ctx := t.Context()
	checks := map[string]func(tx lockbox.Tx) error{
		"tenant":  func(tx lockbox.Tx) error { _, err := tx.GetTenant(ctx, "contoso"); return err },
		"user":    func(tx lockbox.Tx) error { _, err := tx.GetUserByID(ctx, "u1"); return err },
		"token":   func(tx lockbox.Tx) error { _, err := tx.UserByToken(ctx, []byte("token"), T0); return err },
		"service": func(tx lockbox.Tx) error { _, err := tx.GetService(ctx, "exchange"); return err },
		"request": func(tx lockbox.Tx) error { _, err := tx.GetRequest(ctx, "req-000001"); return err },
		"audit": func(tx lockbox.Tx) error {
			if n, err := tx.AuditSize(ctx, "contoso"); err != nil || n == 0 {
				return errors.Join(err, lockbox.Errorf(lockbox.ENOTFOUND, "empty log"))
			}
			return nil
		},
	}
	for name, check := range checks {
		err := s.View(ctx, check)
		if got := err == nil; got != want {
			t.Errorf("%s present = %v (%v), want %v", name, got, err, want)
		}
	}
}

func testUpdateCommits(t *testing.T, s lockbox.Store) {
	MustUpdate(t, s, func(tx lockbox.Tx) error { return writeEverything(t, tx) })
	checkEverything(t, s, true)
}

// testUpdateRollsBackOnError: fn's error comes back unchanged and nothing
// fn wrote persists.
func testUpdateRollsBackOnError(t *testing.T, s lockbox.Store) {
	errAbort := lockbox.Errorf(lockbox.EFORBIDDEN, "abort")
	err := s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := writeEverything(t, tx); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update = %v, want fn's error", err)
	}
	checkEverything(t, s, false)
	// The store is usable afterwards, and the same writes now succeed.
	MustUpdate(t, s, func(tx lockbox.Tx) error { return writeEverything(t, tx) })
	checkEverything(t, s, true)
}

// testUpdateRollsBackOnPanic: a panic in fn propagates, nothing persists and
// the store is still usable (the transaction did not leak).
func testUpdateRollsBackOnPanic(t *testing.T, s lockbox.Store) {
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Update swallowed the panic")
			}
		}()
		_ = s.Update(t.Context(), func(tx lockbox.Tx) error {
			if err := writeEverything(t, tx); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	checkEverything(t, s, false)
	MustUpdate(t, s, func(tx lockbox.Tx) error { return writeEverything(t, tx) })
	checkEverything(t, s, true)
}

// testViewIsReadOnly: a write inside View fails and leaves nothing.
func testViewIsReadOnly(t *testing.T, s lockbox.Store) {
	err := s.View(t.Context(), func(tx lockbox.Tx) error {
		return tx.InsertTenant(t.Context(), &lockbox.Tenant{Name: "contoso", CreatedAt: T0}, lockbox.DefaultSettings())
	})
	if err == nil {
		t.Error("InsertTenant inside View succeeded")
	}
	err = s.View(t.Context(), func(tx lockbox.Tx) error { _, err := tx.GetTenant(t.Context(), "contoso"); return err })
	wantCode(t, err, lockbox.ENOTFOUND)
}

func testViewReturnsFnError(t *testing.T, s lockbox.Store) {
	errAbort := errors.New("abort")
	if err := s.View(t.Context(), func(lockbox.Tx) error { return errAbort }); !errors.Is(err, errAbort) {
		t.Errorf("View = %v, want fn's error", err)
	}
}
