package postgres_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestReadAheadLocksWithTheAccount: with a hint, the request is read (and
// locked) by the account's lock, in the same round trip, not later by
// GetRequest: another session finds it locked before GetRequest is called.
// Without the hint it is not locked yet. (storetest's ReadAhead cases hold
// the answers to be the same either way.)
func TestReadAheadLocksWithTheAccount(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	s := openWriters(t, dsn, 1)
	storetest.MustInsertTenant(t, s, "contoso")
	storetest.MustInsertUser(t, s, storetest.NewUser("user-operator", "operator@provider.test", "", lockbox.RoleOperator), "x")
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	db := pgtest.Open(t, dsn)
	defer db.Close()
	for _, tc := range []struct {
		name   string
		hint   bool
		locked bool
	}{{"with the hint", true, true}, {"without", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if tc.hint {
				ctx = lockbox.WithReadAhead(ctx, lockbox.ReadAhead{Request: "req-000001"})
			}
			storetest.MustUpdate(t, s, func(tx lockbox.Tx) error {
				if _, err := tx.LockUser(ctx, "user-operator", false); err != nil {
					return err
				}
				_, err := db.ExecContext(t.Context(), `SELECT 1 FROM requests WHERE id = 'req-000001' FOR UPDATE NOWAIT`)
				if locked := err != nil; locked != tc.locked {
					t.Errorf("request locked after the account's lock: %t (%v), want %t", locked, err, tc.locked)
				}
				r, err := tx.GetRequest(ctx, "req-000001")
				if err == nil && r.ID != "req-000001" {
					t.Errorf("GetRequest read %s", r.ID)
				}
				return err
			})
		})
	}
}
