package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestMigrationBackfill writes live requests at schema version 5, as a
// store of that version did, then opens the store (which migrates): every
// request carries the deadline and reminder time the workflow's Go rules
// give (migration 00007's backfill).
func TestMigrationBackfill(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lockbox.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 5); err != nil {
		t.Fatalf("migrate to 5: %v", err)
	}
	tenants, requests := storetest.BackfillFixture()
	for _, tn := range tenants {
		insertV5(t, db, `INSERT INTO tenants (name, display_name, created_at, require_approval,
			request_ttl_minutes, max_access_minutes, notify_emails, reminder_minutes_before_expiry)
			VALUES (?, ?, 0, ?, ?, ?, '[]', ?)`, tn.Name, tn.Name, tn.Settings.RequireApproval,
			tn.Settings.RequestTTLMinutes, tn.Settings.MaxAccessMinutes, tn.Settings.ReminderMinutesBeforeExpiry)
	}
	for _, r := range requests {
		insertV5(t, db, `INSERT INTO requests (id, reference, tenant, service, service_request, reason,
			operations, duration_minutes, start_time, status, requested_by, requester_id, created_at,
			expires_at, reviewed_by, reviewed_at, review_comment, decided_by, decided_at, decision_comment,
			access_starts_at, access_ends_at, ended_at, ended_by, end_comment, tenant_visible, version)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			v5Request(t, r)...)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckBackfill(t, s, tenants, requests)
}

func insertV5(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// v5Request is r's row at schema version 5.
func v5Request(t *testing.T, r *lockbox.AccessRequest) []any {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		t.Fatal(err)
	}
	return []any{r.ID, r.Reference, r.Tenant, r.Service, r.ServiceRequest, r.Reason, ops,
		r.DurationMinutes, nullMicros(r.StartTime), r.Status, r.RequestedBy, r.RequesterID,
		micros(r.CreatedAt), micros(r.ExpiresAt), r.ReviewedBy, nullMicros(r.ReviewedAt),
		r.ReviewComment, r.DecidedBy, nullMicros(r.DecidedAt), r.DecisionComment,
		nullMicros(r.AccessStartsAt), nullMicros(r.AccessEndsAt), nullMicros(r.EndedAt),
		r.EndedBy, r.EndComment, r.TenantVisible, r.Version}
}

// TestMigrationPerPopulationKeepsSessions: migration 00009 rebuilds the
// users table (to make an address unique per population instead of
// overall). With foreign keys on, as the store runs, dropping the old table
// cascades to tokens and web sessions; the migration puts them back, so
// nobody is signed out by an upgrade, and afterwards one address may be an
// account of two tenants.
func TestMigrationPerPopulationKeepsSessions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lockbox.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), 8); err != nil {
		t.Fatalf("migrate to 8: %v", err)
	}
	insertV5(t, db, `INSERT INTO users (id, email, name, tenant, roles, service_account, password_hash, created_at,
		disabled, password_change_required) VALUES ('u1', 'a@contoso.test', '', 'contoso', '["audit_reader"]', 0, 'h', 0, 0, 1)`)
	insertV5(t, db, `INSERT INTO tokens (hash, user_id, created_at, expires_at) VALUES (X'0102', 'u1', 0, NULL)`)
	insertV5(t, db, `INSERT INTO web_sessions (hash, user_id, created_at, idle_expires_at, expires_at)
		VALUES (X'0304', 'u1', 0, 9000000000000000, 9000000000000000)`)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.MustView(t, s, func(tx lockbox.Tx) error {
		u, err := tx.UserByToken(t.Context(), []byte{1, 2}, storetest.T0)
		if err != nil || u.ID != "u1" || !u.PasswordChangeRequired {
			t.Errorf("token after the migration: %+v, %v", u, err)
		}
		if _, _, err := tx.WebSessionByHash(t.Context(), []byte{3, 4}, storetest.T0); err != nil {
			t.Errorf("web session after the migration: %v", err)
		}
		return nil
	})
	storetest.MustInsertUser(t, s, storetest.NewUser("u2", "A@contoso.test", "fabrikam", lockbox.RoleGlobalAdmin), "h")
}

// TestMigrationsReversible: every migration's Down undoes its Up
// (storetest.CheckMigrationsReversible), the schema compared as SQLite
// keeps it (sqlite_schema).
func TestMigrationsReversible(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := newProvider(db)
	if err != nil {
		t.Fatal(err)
	}
	storetest.CheckMigrationsReversible(t, p, func(t *testing.T) string {
		var out string
		err := db.QueryRowContext(t.Context(), `SELECT group_concat(line, char(10)) FROM (
			SELECT type || ' ' || name || ' ' || coalesce(sql, '') AS line FROM sqlite_schema
			WHERE name NOT LIKE 'sqlite_%' ORDER BY line)`).Scan(&out)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
}
