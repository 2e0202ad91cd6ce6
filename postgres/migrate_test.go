package postgres

import (
	"database/sql"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestMigrationBackfill writes live requests at schema version 6, as a
// store of that version did, then opens the store (which migrates): every
// request carries the deadline and reminder time the workflow's Go rules
// give (migration 00007's backfill).
func TestMigrationBackfill(t *testing.T) {
	dsn, db, p := emptySchema(t)
	if _, err := p.UpTo(t.Context(), 6); err != nil {
		t.Fatalf("migrate to 6: %v", err)
	}
	tenants, requests := storetest.BackfillFixture()
	for _, tn := range tenants {
		insertV6(t, db, `INSERT INTO tenants (name, display_name, created_at, require_approval,
			request_ttl_minutes, max_access_minutes, notify_emails, reminder_minutes_before_expiry)
			VALUES ($1, $1, now(), $2, $3, $4, '[]', $5)`, tn.Name, tn.Settings.RequireApproval,
			tn.Settings.RequestTTLMinutes, tn.Settings.MaxAccessMinutes, tn.Settings.ReminderMinutesBeforeExpiry)
	}
	for _, r := range requests {
		insertV6(t, db, `INSERT INTO requests (id, reference, tenant, service, service_request, reason,
			operations, duration_minutes, start_time, status, requested_by, requester_id, created_at,
			expires_at, reviewed_by, reviewed_at, review_comment, decided_by, decided_at, decision_comment,
			access_starts_at, access_ends_at, ended_at, ended_by, end_comment, tenant_visible, version)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
			$19, $20, $21, $22, $23, $24, $25, $26, $27)`, v6Request(t, r)...)
	}
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.CheckBackfill(t, s, tenants, requests)
}

func insertV6(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(t.Context(), query, args...); err != nil {
		t.Fatal(err)
	}
}

// v6Request is r's row at schema version 6.
func v6Request(t *testing.T, r *lockbox.AccessRequest) []any {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		t.Fatal(err)
	}
	return []any{r.ID, r.Reference, r.Tenant, r.Service, r.ServiceRequest, r.Reason, ops,
		r.DurationMinutes, nullTime(r.StartTime), r.Status, r.RequestedBy, r.RequesterID,
		ts(r.CreatedAt), ts(r.ExpiresAt), nullString(r.ReviewedBy), nullTime(r.ReviewedAt),
		nullString(r.ReviewComment), nullString(r.DecidedBy), nullTime(r.DecidedAt),
		nullString(r.DecisionComment), nullTime(r.AccessStartsAt), nullTime(r.AccessEndsAt),
		nullTime(r.EndedAt), nullString(r.EndedBy), nullString(r.EndComment), r.TenantVisible, r.Version}
}

// TestMigrationsReversible: every migration's Down undoes its Up
// (storetest.CheckMigrationsReversible), the schema compared by its
// columns, indexes, constraints, functions and triggers.
func TestMigrationsReversible(t *testing.T) {
	t.Parallel()
	_, db, p := emptySchema(t)
	storetest.CheckMigrationsReversible(t, p, func(t *testing.T) string {
		var out string
		err := db.QueryRowContext(t.Context(), `SELECT string_agg(line, E'\n' ORDER BY line) FROM (
			SELECT format('column %s.%s %s null=%s default=%s', table_name, column_name, data_type, is_nullable,
				coalesce(column_default, '')) AS line
			FROM information_schema.columns WHERE table_schema = current_schema()
			UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid)) FROM pg_constraint
				WHERE connamespace = current_schema()::regnamespace
			UNION ALL SELECT format('function %s %s', p.oid::regprocedure, md5(prosrc)) FROM pg_proc p
				WHERE pronamespace = current_schema()::regnamespace
			UNION ALL SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
				WHERE c.relnamespace = current_schema()::regnamespace AND NOT t.tgisinternal) catalog`).Scan(&out)
		if err != nil {
			t.Fatal(err)
		}
		return out
	})
}

// emptySchema is a new empty schema on the test server: its DSN, a
// connection to it (closed when the test ends) and its migrations'
// provider.
func emptySchema(t *testing.T) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	dsn := pgtest.Schema(t, pgtest.DSN(t))
	db := pgtest.Open(t, dsn)
	t.Cleanup(func() { db.Close() })
	p, err := newProvider(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return dsn, db, p
}
