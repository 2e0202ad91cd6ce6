package postgres_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// newestVersion is the number of the newest file in migrations/.
const newestVersion = 31

func schemaVersion(t *testing.T, dsn string) int64 {
	t.Helper()
	db := pgtest.Open(t, dsn)
	defer db.Close()
	var v int64
	if err := db.QueryRowContext(t.Context(), `SELECT max(version_id) FROM goose_db_version`).Scan(&v); err != nil {
		t.Fatalf("read schema version: %v", err)
	}
	return v
}

func TestOpenMigrates(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	s := mustOpen(t, dsn)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if v := schemaVersion(t, dsn); v != newestVersion {
		t.Errorf("schema version = %d, want %d", v, newestVersion)
	}
	db := pgtest.Open(t, dsn)
	defer db.Close()
	for _, table := range []string{"tenants", "users", "tokens", "services", "requests", "audit_logs",
		"audit_records", "outbox", "webhooks", "request_reminders", "web_sessions", "signing_keys"} {
		var n int
		err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM information_schema.tables
			WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
		if err != nil || n != 1 {
			t.Errorf("table %s: %d found (%v)", table, n, err)
		}
	}
}

// TestOpenConcurrently: replicas starting together on an empty database
// all open it, and each migration is applied once (goose records a
// version row per applied migration).
func TestOpenConcurrently(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	const replicas = 4
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), dsn)
			if err == nil {
				err = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Open: %v", err)
	}
	db := pgtest.Open(t, dsn)
	defer db.Close()
	var applied, distinct int
	err := db.QueryRowContext(t.Context(), `SELECT count(*), count(DISTINCT version_id)
		FROM goose_db_version WHERE version_id > 0`).Scan(&applied, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	// Numbers are assigned per change and may leave gaps: one row per file.
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	if applied != len(files) || distinct != len(files) {
		t.Errorf("goose_db_version: %d rows for %d versions, want %d of each", applied, distinct, len(files))
	}
}

func TestReopenKeepsData(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	s, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	storetest.MustInsertTenant(t, s, "contoso")
	storetest.MustInsertRequest(t, s, storetest.NewRequest(1))
	storetest.MustAppendAudit(t, s, storetest.NewAuditRecord("contoso", "rec-0"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := mustOpen(t, dsn)
	if got := storetest.MustGetRequest(t, s2, "req-000001"); got.Reference != "LB-00000001" {
		t.Errorf("reopened request reference = %q", got.Reference)
	}
	if got := storetest.MustAppendAudit(t, s2, storetest.NewAuditRecord("contoso", "rec-1")); got != 1 {
		t.Errorf("first append after reopen: index %d, want 1", got)
	}
}

// TestOpenRefusesNewerSchema: a database migrated by a newer binary is left
// alone, with the same error as sqlite's.
func TestOpenRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	mustOpen(t, dsn)
	pgtest.Exec(t, dsn, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`)
	_, err := postgres.Open(t.Context(), dsn)
	want := fmt.Sprintf("database schema version 99 is newer than this lockbox binary supports (%d); upgrade lockbox", newestVersion)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Open = %v, want an error containing %q", err, want)
	}
	if v := schemaVersion(t, dsn); v != 99 {
		t.Errorf("schema version = %d after a refused open, want 99 untouched", v)
	}
}

// TestOpenBadDSN: a malformed URL is refused without echoing it (it may
// hold a password), and an unreachable server is EUNAVAILABLE.
func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	_, err := postgres.Open(t.Context(), "postgres://user:s3cret@[::1")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(bad URL) = %v, want an error without the password", err)
	}
	p, dsn := pgtest.NewProxy(t, pgtest.DSN(t))
	p.Cut()
	_, err = postgres.Open(t.Context(), dsn)
	if code := lockbox.ErrorCode(err); code != lockbox.EUNAVAILABLE {
		t.Errorf("Open(unreachable) = %v (code %q), want %q", err, code, lockbox.EUNAVAILABLE)
	}
}

// TestOpenRefusesLossyCommits: a server that acknowledges Lockbox's
// commits before they are on disk (here synchronous_commit off in the
// database URL, as a role's or database's setting would be) is refused
// before anything is written, with what to change; local, which waits for
// the local flush, is accepted.
func TestOpenRefusesLossyCommits(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	_, err := postgres.Open(t.Context(), dsn+sep+"synchronous_commit=off")
	if !errors.Is(err, postgres.ErrNotDurable) || !strings.Contains(err.Error(), "synchronous_commit is off") ||
		!strings.Contains(err.Error(), "synchronous_commit=on") {
		t.Fatalf("Open(synchronous_commit=off) = %v, want ErrNotDurable naming the setting and its fix", err)
	}
	db := pgtest.Open(t, dsn)
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema()`).Scan(&tables); err != nil || tables != 0 {
		t.Errorf("%d tables (%v) after a refused open, want none", tables, err)
	}
	s, err := postgres.Open(t.Context(), dsn+sep+"synchronous_commit=local")
	if err != nil {
		t.Fatalf("Open(synchronous_commit=local) = %v, want it opened", err)
	}
	s.Close()
}

// TestPingComparesClocks: a replica whose clock is off from its database
// server's by more than a second is not ready (EUNAVAILABLE, saying which
// way), and from then on refuses every transaction with that error, reads
// and writes alike, until a Ping finds the clocks in step again. Each Ping
// records the difference (ClockOffset), within the bound too.
func TestPingComparesClocks(t *testing.T) {
	t.Parallel()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	var off atomic.Int64 // nanoseconds this store's clock is ahead
	s, err := postgres.OpenWith(t.Context(), dsn, postgres.Options{Now: func() time.Time {
		return time.Now().Add(time.Duration(off.Load()))
	}})
	if err != nil {
		t.Fatalf("OpenWith: %v", err)
	}
	defer s.Close()
	entries := map[string]func() error{
		"View":    func() error { return s.View(t.Context(), func(lockbox.Tx) error { return nil }) },
		"ViewOne": func() error { return s.ViewOne(t.Context(), func(lockbox.Tx) error { return nil }) },
		"Update":  func() error { return s.Update(t.Context(), func(lockbox.Tx) error { return nil }) },
	}
	for _, tc := range []struct {
		off  time.Duration
		want string // "" in step
	}{{0, ""}, {-5 * time.Second, "behind"}, {0, ""}, {5 * time.Second, "ahead of"}, {300 * time.Millisecond, ""}, {0, ""}} {
		off.Store(int64(tc.off))
		start := time.Now()
		err := s.Ping(t.Context())
		// The offset served as a metric: what the clock was set off by, to
		// within the round trip (this machine's clocks agree).
		if got, rtt := s.ClockOffset(), time.Since(start); (got - tc.off).Abs() > rtt {
			t.Errorf("ClockOffset after a Ping with the clock off by %s = %s (round trip %s)", tc.off, got, rtt)
		}
		if tc.want == "" {
			if err != nil {
				t.Errorf("Ping with the clock in step = %v, want nil", err)
			}
		} else if lockbox.ErrorCode(err) != lockbox.EUNAVAILABLE || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Ping with the clock off by %s = %v, want EUNAVAILABLE saying %q", tc.off, err, tc.want)
		}
		for name, run := range entries {
			got := run()
			if tc.want == "" && got != nil {
				t.Errorf("%s with the clock in step = %v, want nil", name, got)
			}
			if tc.want != "" && (lockbox.ErrorCode(got) != lockbox.EUNAVAILABLE || !strings.Contains(got.Error(), tc.want)) {
				t.Errorf("%s with the clock off by %s = %v, want Ping's error", name, tc.off, got)
			}
		}
	}
}
