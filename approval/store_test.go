package approval_test

import (
	"context"
	"os"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
)

// openTestStore opens the store the workflow tests run on: SQLite in a
// temporary directory, or, with LOCKBOX_TEST_STORE=postgres, a fresh schema
// on the PostgreSQL server of LOCKBOX_TEST_POSTGRES. CI runs this package
// both ways, so the workflow's guarantees (deadlines, races, audit trail)
// are proven on both engines, not only the store contract.
func openTestStore(t testing.TB) lockbox.Store {
	t.Helper()
	ctx := context.Background()
	var st lockbox.Store
	var err error
	switch engine := os.Getenv("LOCKBOX_TEST_STORE"); engine {
	case "", "sqlite":
		st, err = sqlite.Open(ctx, sqlitetest.Path(t))
	case "postgres":
		// The tests' clock is synctest's, years from the server's: Ping
		// compares none, as it would fail them all (postgres/clock.go).
		st, err = postgres.OpenWith(ctx, pgtest.Migrated(t, pgtest.DSN(t)), postgres.Options{MaxClockSkew: -1})
	default:
		t.Fatalf("LOCKBOX_TEST_STORE=%q: want sqlite or postgres", engine)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
