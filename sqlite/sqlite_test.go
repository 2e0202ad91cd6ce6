package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/sqlite"
	"github.com/lockboxhq/lockbox/sqlite/sqlitetest"
	"github.com/lockboxhq/lockbox/storetest"
)

// mustOpen opens a store at path and closes it when the test ends.
func mustOpen(tb testing.TB, path string) *sqlite.Store {
	tb.Helper()
	s, err := sqlite.Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
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
	storetest.Run(t, func(t *testing.T) lockbox.Store {
		return mustOpen(t, sqlitetest.Path(t))
	})
}

// rawDB opens the file with the driver alone, as an operator's sqlite3 shell would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func schemaVersion(t *testing.T, db *sql.DB) int64 {
	t.Helper()
	var v int64
	if err := db.QueryRow(`SELECT MAX(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		t.Fatalf("read schema version: %v", err)
	}
	return v
}

func TestOpenMigrates(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nested", "dir", "lockbox.db")
	s := mustOpen(t, path)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	db := rawDB(t, path)
	if v, want := schemaVersion(t, db), newestMigration(t); v != want {
		t.Errorf("schema version = %d, want %d", v, want)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q (%v), want wal", mode, err)
	}
	for _, table := range []string{"tenants", "users", "tokens", "services", "requests", "audit_logs", "audit_records"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, table).Scan(&n); err != nil || n != 1 {
			t.Errorf("table %s: %d found (%v)", table, n, err)
		}
	}
}

// TestOpenOddPath: characters that mean something in a URI are part of the
// file name, not parameters.
func TestOpenOddPath(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "a?b#c%20d")
	path := filepath.Join(dir, "lock box.db")
	mustOpen(t, path)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database file not at %s: %v", path, err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lockbox.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustInsertTenant(t, s, "contoso")
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "rec-0"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := mustOpen(t, path)
	if got := storetest.MustGetRequest(t, s2, "req-000001"); got.Reference != "LB-00000001" {
		t.Errorf("reopened request reference = %q", got.Reference)
	}
	if got := storetest.MustAppendAudit(t, s2, storetest.NewAuditRecord("contoso", "rec-1")); got != 1 {
		t.Errorf("first append after reopen: index %d, want 1", got)
	}
	if v, want := schemaVersion(t, rawDB(t, path)), newestMigration(t); v != want {
		t.Errorf("schema version after reopen = %d, want %d", v, want)
	}
}

// TestOpenRefusesNewerSchema: a database migrated by a newer binary is left
// alone, with an error that says what to do.
func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lockbox.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (999, 1)`); err != nil {
		t.Fatal(err)
	}

	_, err = sqlite.Open(t.Context(), path)
	want := fmt.Sprintf("database schema version 999 is newer than this lockbox binary supports (%d); upgrade lockbox", newestMigration(t))
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v, want an error containing %q", err, want)
	}
	if v := schemaVersion(t, db); v != 999 {
		t.Errorf("schema version = %d after a refused open, want 999 untouched", v)
	}
}

func TestOpenCanceled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "lockbox.db")); err == nil {
		s.Close()
		t.Error("Open with a canceled context succeeded")
	}
}

// newestMigration is the number of the newest file in migrations/, the
// schema version a fresh database ends at (each issue adds its own file).
func newestMigration(t *testing.T) int64 {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	var newest int64
	for _, f := range files {
		var n int64
		if _, err := fmt.Sscanf(filepath.Base(f), "%d_", &n); err != nil {
			t.Fatalf("migration %s: %v", f, err)
		}
		newest = max(newest, n)
	}
	return newest
}
