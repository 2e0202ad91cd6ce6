package postgres_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestUpdateLeavesConnectionsClean: an Update runs its transaction on a
// pooled connection by hand (its audit appends go with COMMIT in one
// pipeline), so every way it can end must give the connection back outside
// a transaction: a refused append at commit, fn's error, fn's panic. With a
// pool of two, a connection left in a transaction would fail or block the
// Updates after it.
func TestUpdateLeavesConnectionsClean(t *testing.T) {
	t.Parallel()
	s, err := postgres.OpenWith(t.Context(), pgtestSchema(t), postgres.Options{MaxOpenConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "taken"))
	errFn := errors.New("fn failed")
	endings := map[string]func(tx lockbox.Tx) error{
		"refused at commit": func(tx lockbox.Tx) error {
			return tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "taken"))
		},
		"fn's error": func(tx lockbox.Tx) error {
			if err := tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "lost")); err != nil {
				return err
			}
			return errFn
		},
		"fn's panic": func(tx lockbox.Tx) error {
			if err := tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "lost")); err != nil {
				return err
			}
			panic("fn panicked")
		},
	}
	for round := range 3 {
		for name, fn := range endings {
			func() {
				defer func() { _ = recover() }()
				if err := s.Update(t.Context(), fn); err == nil {
					t.Errorf("%s: Update = nil, want an error", name)
				}
			}()
			rec := storetest.NewAuditRecord("contoso", fmt.Sprintf("kept-%d-%s", round, name))
			storetest.MustAppendAudit(t, s, rec)
		}
	}
	// Gap-free: one record first, then one per ending per round.
	if got := storetest.MustAuditSize(t, s, "contoso"); got != 1+3*3 {
		t.Errorf("AuditSize = %d, want %d", got, 1+3*3)
	}
	storetest.CheckAuditHashes(t, s, "contoso")
}
