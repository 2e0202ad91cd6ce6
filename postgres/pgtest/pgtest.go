// Package pgtest gives tests a PostgreSQL database of their own: the DSN of
// the server named by LOCKBOX_TEST_POSTGRES, and a fresh schema per test so
// that tests and packages running in parallel never see each other's rows:
// empty (Schema), for tests of migrating, or at the newest migration
// (Migrated), a copy of a template the test binary migrated once.
//
// Without LOCKBOX_TEST_POSTGRES the tests that need PostgreSQL skip, saying
// how to enable them; with LOCKBOX_REQUIRE_POSTGRES=1 (CI) they fail
// instead. It may import only pgx, the standard library and testing: it is
// test support, also used by the load drivers (internal/replicas), and is
// never linked into the lockbox binary.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Environment variables.
const (
	// EnvDSN names the server tests may create schemas on, e.g.
	// postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
	EnvDSN = "LOCKBOX_TEST_POSTGRES"
	// EnvRequire set to 1 turns a missing DSN into a failure (CI).
	EnvRequire = "LOCKBOX_REQUIRE_POSTGRES"
)

// skipped counts the tests that skipped for want of a DSN; Main reports it.
var skipped atomic.Int64

// DSN returns the test server's DSN, or skips the test (fails it in CI)
// when there is none.
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn != "" {
		return dsn
	}
	msg := fmt.Sprintf("no PostgreSQL to test against: set %s to a server's DSN, e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
		EnvDSN, EnvDSN)
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatalf("%s (%s=1 requires it)", msg, EnvRequire)
	}
	skipped.Add(1)
	tb.Skip(msg)
	return ""
}

// Schema creates an empty schema named lbtest_<random> on the server of
// dsn, drops it (and everything in it) when the test ends, and returns dsn
// with search_path set to it: a store opened on the result creates its
// tables there.
func Schema(tb testing.TB, dsn string) string {
	tb.Helper()
	name := "lbtest_" + strings.ToLower(rand.Text()[:16])
	Exec(tb, dsn, `CREATE SCHEMA `+name)
	tb.Cleanup(func() { Exec(tb, dsn, `DROP SCHEMA `+name+` CASCADE`) })
	return WithParam(tb, dsn, "search_path", name)
}

// WithParam returns dsn with a session parameter (or pgx option) set; dsn
// may be a URL or a key=value string.
func WithParam(tb testing.TB, dsn, key, value string) string {
	tb.Helper()
	out, err := SetParam(dsn, key, value)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// SetParam returns dsn (a URL or key=value pairs) with the connection
// parameter key set to value, for callers without a testing.TB (the load
// drivers' internal/replicas).
func SetParam(dsn, key, value string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " " + key + "=" + value, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("the PostgreSQL DSN is not a URL: %w", err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Exec runs statements on a connection of its own, outside any test
// context (so it works in Cleanup).
func Exec(tb testing.TB, dsn, query string, args ...any) {
	tb.Helper()
	db := Open(tb, dsn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		tb.Fatalf("postgres: %s: %v", query, err)
	}
}

// Open opens a plain database/sql pool on dsn, for tests that inspect the
// database directly. The caller closes it.
func Open(tb testing.TB, dsn string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatalf("postgres: open: %v", err)
	}
	return db
}
