package postgres_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
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
	s := openRequest1(t, dsn)
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
				ctx = lockbox.WithReadAhead(ctx, lockbox.ReadAhead{Request: "req-000001", ShareTenant: true})
			}
			storetest.MustUpdate(t, s, func(tx lockbox.Tx) error {
				if _, err := tx.LockUser(ctx, "user-operator", false); err != nil {
					return err
				}
				_, err := db.ExecContext(t.Context(), `SELECT 1 FROM requests WHERE id = 'req-000001' FOR UPDATE NOWAIT`)
				if locked := err != nil; locked != tc.locked {
					t.Errorf("request locked after the account's lock: %t (%v), want %t", locked, err, tc.locked)
				}
				_, err = db.ExecContext(t.Context(), `SELECT 1 FROM tenants WHERE name = 'contoso' FOR UPDATE NOWAIT`)
				if locked := err != nil; locked != tc.locked {
					t.Errorf("tenant held shared after the account's lock: %t (%v), want %t", locked, err, tc.locked)
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

// openRequest1 opens a store with one writer on dsn holding contoso, the
// operator and request 1.
func openRequest1(t *testing.T, dsn string) *postgres.Store {
	t.Helper()
	s := openWriters(t, dsn, 1)
	storetest.MustInsertTenant(t, s, "contoso")
	storetest.MustInsertUser(t, s, storetest.NewUser("user-operator", "operator@provider.test", "", lockbox.RoleOperator), "x")
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	return s
}

// readRequest1 makes a step's first reads of request 1 as the operator (ctx
// may name them ahead) and returns the request, to be moved on a version
// with bump.
func readRequest1(ctx context.Context, tx lockbox.Tx) (*lockbox.AccessRequest, error) {
	if _, err := tx.LockUser(ctx, "user-operator", false); err != nil {
		return nil, err
	}
	return tx.GetRequest(ctx, "req-000001")
}

// bump writes r one version on.
func bump(ctx context.Context, tx lockbox.Tx, r *lockbox.AccessRequest) error {
	prev := r.Version
	r.Version++
	return tx.UpdateRequest(ctx, r, prev)
}

// TestGroupMembersSeeEarlierWaitingWrites: in one write group, a step's
// update of a request it holds locked is not waited for but sent with the
// next round trip (later.go); the next member, acting on the same request,
// still reads it as the first left it, and a member rolled back takes no
// earlier member's change with it.
func TestGroupMembersSeeEarlierWaitingWrites(t *testing.T) {
	t.Parallel()
	s := openRequest1(t, pgtestSchema(t))
	step := func(fail bool) func(lockbox.Tx) error {
		return func(tx lockbox.Tx) error {
			ctx := lockbox.WithReadAhead(t.Context(), lockbox.ReadAhead{Request: "req-000001"})
			r, err := readRequest1(ctx, tx)
			if err != nil {
				return err
			}
			if err := bump(ctx, tx, r); err != nil {
				return err
			}
			if fail {
				return errBump
			}
			return nil
		}
	}
	release := make(chan struct{})
	first := storetest.HoldWriter(t, s, release, step(false))
	results := make([]chan error, 4)
	for i := range results {
		results[i] = make(chan error, 1)
		go func() { results[i] <- s.Update(t.Context(), step(i == 1)) }()
		queued(t, s, i+1) // in this order
	}
	close(release)
	if err := wait(t, "the first member", first); err != nil {
		t.Fatal(err)
	}
	for i, c := range results {
		err := wait(t, "a member", c)
		if (i == 1) != errors.Is(err, errBump) || (i != 1 && err != nil) {
			t.Errorf("member %d: %v", i+1, err)
		}
	}
	// Four bumps kept (the first and three of the four queued), each from
	// the version the one before left.
	if got := storetest.MustGetRequest(t, s, "req-000001").Version; got != 5 {
		t.Errorf("request at version %d, want 5", got)
	}
}

var errBump = errors.New("rolled back after its update")

// TestLaterWriteThatChangesNothingFails: the guard a waiting write is sent
// in fails the transaction when the write changed no row, rather than let
// the group commit without it; one that changed its row answers 1.
func TestLaterWriteThatChangesNothingFails(t *testing.T) {
	t.Parallel()
	dsn := pgtestSchema(t)
	storetest.MustInsertRequest(t, openWriters(t, dsn, 1), storetest.NewRequest(1))
	db := pgtest.Open(t, dsn)
	defer db.Close()
	for _, tc := range []struct {
		id string
		ok bool
	}{{"req-none", false}, {"req-000001", true}} {
		var one int
		err := db.QueryRowContext(t.Context(), postgres.LaterSQL(`UPDATE requests SET version = version + 1 WHERE id = $1`), tc.id).Scan(&one)
		if (err == nil) != tc.ok || (tc.ok && one != 1) {
			t.Errorf("guarded update of %s: %d, %v; want it to succeed: %t", tc.id, one, err, tc.ok)
		}
	}
}

// TestStepRoundTrips counts the round trips (Store.RoundTrips) of a
// workflow step alone in its group: the account, the request and its
// tenant read, the request updated, and at a completion the access
// report's search. With the reads named ahead they go in one round trip;
// without, each waits. Either way the update, of a row the step holds
// locked, goes with the COMMIT, even past the search of audit records.
func TestStepRoundTrips(t *testing.T) {
	t.Parallel()
	s := openRequest1(t, pgtestSchema(t))
	step := func(ctx context.Context, search, lockTenant bool) func(lockbox.Tx) error {
		return func(tx lockbox.Tx) error {
			r, err := readRequest1(ctx, tx)
			if err != nil {
				return err
			}
			if lockTenant {
				_, err = tx.LockSettings(ctx, r.Tenant, false)
			} else {
				_, err = tx.GetSettings(ctx, r.Tenant)
			}
			if err != nil {
				return err
			}
			if err := bump(ctx, tx, r); err != nil {
				return err
			}
			if search {
				_, err = tx.SearchAudit(ctx, lockbox.AuditQuery{Log: r.Tenant, RequestID: r.ID, Limit: 10})
			}
			return err
		}
	}
	ahead := lockbox.WithReadAhead(t.Context(), lockbox.ReadAhead{Request: "req-000001"})
	shared := lockbox.WithReadAhead(t.Context(), lockbox.ReadAhead{Request: "req-000001", ShareTenant: true})
	for _, tc := range []struct {
		name               string
		ctx                context.Context
		search, lockTenant bool
		want               int64
	}{
		// BEGIN with the reads, the COMMIT with the update.
		{"reads named ahead", ahead, false, false, 2},
		{"reads named ahead, then a search", ahead, true, false, 3},
		{"tenant held shared ahead", shared, false, true, 2},
		{"tenant read ahead, then locked", ahead, false, true, 3},
		// BEGIN with the savepoint, the account, the request, the tenant,
		// the COMMIT with the update.
		{"one at a time", t.Context(), false, false, 5},
	} {
		storetest.MustUpdate(t, s, step(tc.ctx, tc.search, tc.lockTenant)) // statements prepared, a connection open
		before := s.RoundTrips()
		storetest.MustUpdate(t, s, step(tc.ctx, tc.search, tc.lockTenant))
		if got := s.RoundTrips() - before; got != tc.want {
			t.Errorf("%s: %d round trips, want %d", tc.name, got, tc.want)
		}
	}
}
