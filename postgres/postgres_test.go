package postgres_test

import (
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// mustOpen opens a store on dsn and closes it when the test ends.
func mustOpen(tb testing.TB, dsn string) *postgres.Store {
	tb.Helper()
	s, err := postgres.Open(tb.Context(), dsn)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	base := pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) lockbox.Store {
		return mustOpen(t, pgtest.Migrated(t, base))
	})
}

// pgtestSchema is a fresh, migrated schema on the test server, or a skip.
func pgtestSchema(t *testing.T) string {
	t.Helper()
	return pgtest.Migrated(t, pgtest.DSN(t))
}

// lockTable holds table in mode (a LOCK TABLE mode: SHARE, ACCESS
// EXCLUSIVE…) in a transaction of a session of its own, and returns what
// commits it; the lock ends with the test at the latest.
func lockTable(t *testing.T, dsn, table, mode string) (release func()) {
	t.Helper()
	db := pgtest.Open(t, dsn)
	holder, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		holder.Rollback()
		db.Close()
	})
	if _, err := holder.ExecContext(t.Context(), `LOCK TABLE `+table+` IN `+mode+` MODE`); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := holder.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}
