package postgres_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
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

// appendOneSQL appends one record with id $1 to contoso's log by calling
// lockbox_audit_append directly, as queueAudit does with one record.
const appendOneSQL = `SELECT lockbox_audit_append('contoso', ARRAY['\x7b22696478223a'::bytea], ARRAY['\x7d'::bytea],
	ARRAY[$1::text], ARRAY[now()], ARRAY['access'], ARRAY['approve'], ARRAY['u1'], ARRAY['user'], ARRAY['LB-1'])`

// TestBundleTriggerFiresOnlyOnFill: the trigger that stores a full entry
// bundle (migration 00018) is called only by the append that fills one
// (00021's WHEN clauses), not on every append, and that append still
// stores the bundle. Counted with the transaction's own function
// statistics, which see every call made in it.
func TestBundleTriggerFiresOnlyOnFill(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, pgtestSchema(t))
	defer db.Close()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(t.Context(), `SET LOCAL track_functions = 'pl'`); err != nil {
		t.Fatal(err)
	}
	calls := func() (n int64) {
		t.Helper()
		err := tx.QueryRowContext(t.Context(), `SELECT coalesce(sum(calls), 0) FROM pg_stat_xact_user_functions
			WHERE funcname = 'lockbox_audit_bundles_filled' AND schemaname = current_schema()`).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i := range 300 {
		if _, err := tx.ExecContext(t.Context(), appendOneSQL, fmt.Sprintf("rec-%d", i)); err != nil {
			t.Fatal(err)
		}
		want := int64(0)
		if i >= 255 { // the 256th append (index 255) fills bundle 0
			want = 1
		}
		if got := calls(); got != want {
			t.Fatalf("after append %d: the bundle trigger ran %d times, want %d", i, got, want)
		}
	}
	var bundles int
	if err := tx.QueryRowContext(t.Context(), `SELECT count(*) FROM audit_bundles WHERE log = 'contoso' AND n = 0
		AND data = lockbox_audit_bundle('contoso', 0)`).Scan(&bundles); err != nil {
		t.Fatal(err)
	}
	if bundles != 1 {
		t.Errorf("bundle 0 stored %d times after the append that filled it, want 1", bundles)
	}
}
