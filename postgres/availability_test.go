package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// Operations a server runs on every request, as closures over a store.
var storeCalls = map[string]func(ctx context.Context, s lockbox.Store) error{
	"Ping": func(ctx context.Context, s lockbox.Store) error { return s.Ping(ctx) },
	"View": func(ctx context.Context, s lockbox.Store) error {
		return s.View(ctx, func(tx lockbox.Tx) error { _, err := tx.GetRequest(ctx, "req-000001"); return err })
	},
	"Update": func(ctx context.Context, s lockbox.Store) error {
		return s.Update(ctx, func(tx lockbox.Tx) error {
			return tx.AppendAudit(ctx, storetest.NewAuditRecord("contoso", time.Now().String()))
		})
	},
}

// recovers calls op until it succeeds, failing the test after a few tries:
// a pool holding dead connections may fail a call or two, never more.
func recovers(t *testing.T, name string, op func() error) {
	t.Helper()
	var err error
	for range 3 {
		if err = op(); err == nil {
			return
		}
		if code := lockbox.ErrorCode(err); code != lockbox.EUNAVAILABLE {
			t.Fatalf("%s while recovering = %v (code %q), want %q", name, err, code, lockbox.EUNAVAILABLE)
		}
	}
	t.Fatalf("%s still failing after the database came back: %v", name, err)
}

// TestDatabaseGoneAndBack: while the database cannot be reached, every
// call fails with EUNAVAILABLE (HTTP 503) and changes nothing; when it is
// back, the same Store serves again without being reopened.
func TestDatabaseGoneAndBack(t *testing.T) {
	t.Parallel()
	proxy, dsn := pgtest.NewProxy(t, pgtest.Migrated(t, pgtest.DSN(t)))
	s := mustOpen(t, dsn)
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	for name, call := range storeCalls {
		if err := call(t.Context(), s); err != nil {
			t.Fatalf("%s before the outage: %v", name, err)
		}
	}
	proxy.Cut()
	for name, call := range storeCalls {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := call(ctx, s)
		cancel()
		if code := lockbox.ErrorCode(err); code != lockbox.EUNAVAILABLE {
			t.Errorf("%s during the outage = %v (code %q), want %q", name, err, code, lockbox.EUNAVAILABLE)
		}
	}
	proxy.Restore()
	for name, call := range storeCalls {
		recovers(t, name, func() error { return call(t.Context(), s) })
	}
	if got := storetest.MustAuditSize(t, s, "contoso"); got != 2 {
		t.Errorf("audit log size = %d, want 2: one append before the outage, one after, none during", got)
	}
}

// TestBackendsTerminated: the server ends every Lockbox connection (as a
// restart or failover does). Calls fail with EUNAVAILABLE at worst, and the
// pool reconnects by itself.
func TestBackendsTerminated(t *testing.T) {
	t.Parallel()
	base := pgtest.DSN(t)
	app := "lockbox-test-" + t.Name()
	dsn := pgtest.WithParam(t, pgtest.Migrated(t, base), "application_name", app)
	s := mustOpen(t, dsn)
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	for round := range 3 {
		// Every connection of the pool is busy or idle in it; kill them all.
		if n := terminate(t, base, app); n == 0 {
			t.Fatalf("round %d: no connection of %s to terminate", round, app)
		}
		for name, call := range storeCalls {
			recovers(t, name, func() error { return call(t.Context(), s) })
		}
		if got := storetest.MustAuditSize(t, s, "contoso"); got != int64(round+1) {
			t.Errorf("round %d: audit log size = %d, want %d", round, got, round+1)
		}
	}
}

// TestStatementTimeout: a statement stuck behind a lock held elsewhere is
// cut off by the server after the configured timeout and reported as
// EUNAVAILABLE, and its transaction rolls back.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	// Migrated already: migrating under a 200 ms statement timeout fails
	// on a busy server.
	dsn := pgtest.Migrated(t, pgtest.DSN(t))
	s, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{StatementTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))

	lockElsewhere(t, dsn, "req-000001")

	err = s.Update(t.Context(), func(tx lockbox.Tx) error {
		if err := tx.AppendAudit(t.Context(), storetest.NewAuditRecord("contoso", "rec-0")); err != nil {
			return err
		}
		_, err := tx.GetRequest(t.Context(), "req-000001")
		return err
	})
	if code := lockbox.ErrorCode(err); code != lockbox.EUNAVAILABLE {
		t.Fatalf("Update behind a held lock = %v (code %q), want %q", err, code, lockbox.EUNAVAILABLE)
	}
	if got := storetest.MustAuditSize(t, s, "contoso"); got != 0 {
		t.Errorf("audit log size = %d after the timed-out transaction, want 0", got)
	}
}

// lockElsewhere locks request id in a transaction of another session and
// keeps it until that transaction is committed or the test ends.
func lockElsewhere(t *testing.T, dsn, id string) *sql.Tx {
	t.Helper()
	db := pgtest.Open(t, dsn)
	t.Cleanup(func() { db.Close() })
	holder, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { holder.Rollback() })
	if _, err := holder.ExecContext(t.Context(), `SELECT 1 FROM requests WHERE id = $1 FOR UPDATE`, id); err != nil {
		t.Fatal(err)
	}
	return holder
}

// terminate ends every server backend of application app and returns how
// many it ended.
func terminate(t *testing.T, dsn, app string) int {
	t.Helper()
	db := pgtest.Open(t, dsn)
	defer db.Close()
	var n int
	// CASE, unlike AND, fixes the order of evaluation: only app's backends
	// are ever terminated (the server is shared with other tests).
	err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM pg_stat_activity
		WHERE CASE WHEN application_name = $1 THEN pg_terminate_backend(pid) ELSE false END`, app).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
