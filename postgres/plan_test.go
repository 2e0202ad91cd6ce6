package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
	"github.com/lockboxhq/lockbox/storetest"
)

// TestQueryPlans pins the indexes the hot queries can use, so a schema or
// query change that silently leaves one only a table scan fails here.
// Sequential scans are disabled in the session: on the empty tables of a
// test the planner would otherwise rightly prefer them.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), pgtest.Migrated(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// A log of 2,000 records over 100 requests, analysed: on an empty table
	// every index costs the same and the planner's pick says nothing.
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO audit_records (log, idx, id, time, record_type,
		operation, user_id, actor_type, request_id, canonical, hashes)
		SELECT 'contoso', g, 'id-' || g, now() - g * interval '1 second', 't', 'o', 'u', 'a', 'req-' || g % 100, '\x00', '\x00'
		FROM generate_series(0, 1999) g`); err != nil {
		t.Fatal(err)
	}
	// An outbox as a busy one looks: 2,000 delivered messages and 20
	// pending, so the partial index outbox_claim is far smaller than the
	// primary key and tempts the planner for a lookup by id.
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO outbox (id, channel, tenant, type, recipient,
		webhook_id, payload, status, attempts, created_at, next_attempt_at, lease_until, last_error, finished_at)
		SELECT 'msg-' || g, 'email', 'contoso', 't', 'a@b.test', '', '\x00',
			CASE WHEN g < 20 THEN 'pending' ELSE 'delivered' END, 1, now(), now(), now(), '',
			CASE WHEN g < 20 THEN NULL ELSE now() END
		FROM generate_series(0, 1999) g`); err != nil {
		t.Fatal(err)
	}
	// And 1,000 webhook deliveries to ten endpoints, 10 of them pending:
	// outbox_webhook holds them all (the endpoints' history).
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO outbox (id, channel, tenant, type, recipient,
		webhook_id, payload, status, attempts, created_at, next_attempt_at, lease_until, last_error, finished_at)
		SELECT 'hook-' || g, 'webhook', 'contoso', 't', '', 'wh-' || g % 10, '\x00',
			CASE WHEN g < 10 THEN 'pending' ELSE 'delivered' END, 1, now(), now(), now(), '',
			CASE WHEN g < 10 THEN NULL ELSE now() END
		FROM generate_series(0, 999) g`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.db.ExecContext(t.Context(), `ANALYZE audit_records, outbox`); err != nil {
		t.Fatal(err)
	}
	held := []string{"msg-1", "msg-2", "msg-3"}
	now := time.Unix(0, 0)
	cursor := lockbox.RequestQuery{Tenant: "contoso", BeforeCreatedAt: &now, BeforeID: "x", Limit: 10}
	byRequest := auditWhere(lockbox.AuditQuery{Log: "contoso", RequestID: "req-7", Operations: []string{"a", "b"}})
	avoid := map[string][]string{"SearchAuditByRequest": {"audit_records_time"},
		"FinishOutbox": {"outbox_claim"}, "ReleaseOutbox": {"outbox_claim"}, "ClaimPerEndpoint": {"outbox_claim", "outbox_webhook", "Sort Key: outbox"}}
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"DueRequests", dueQuery, []any{now, "", 10}, []string{"requests_next_deadline"}},
		{"NextDue", nextDueQuery, []any{now}, []string{"requests_next_deadline"}},
		{"DueReminders", dueRemindersQuery, []any{now, 10}, []string{"requests_remind_at"}},
		{"NextReminder", nextReminderQuery, []any{now}, []string{"requests_remind_at"}},
		{"ListByTenantAfterCursor", listQuery(requestFilter(cursor)), append(requestFilter(cursor).args, 10),
			[]string{"requests_tenant_created"}},
		{"ListByRequester", listQuery(requestFilter(lockbox.RequestQuery{RequesterID: "u"})), []any{"u", 10},
			[]string{"requests_requester_created"}},
		{"GetRequestByID", getRequestQuery("0193f4c2-8f1e-7d3a-9b2c-5e6f7a8b9c0d"), []any{"0193f4c2-8f1e-7d3a-9b2c-5e6f7a8b9c0d"},
			[]string{"Index Scan using requests_pkey"}},
		{"GetRequestByReference", getRequestQuery("lb-7k3q9mxa"), []any{"lb-7k3q9mxa"},
			[]string{"Index Scan using requests_reference"}},
		{"GetUserByEmail", `SELECT id FROM users WHERE tenant = $1 AND lower(email) = lower($2::text COLLATE "C")`, []any{"contoso", "a@b.test"},
			[]string{"users_tenant_email"}},
		{"UsersByEmail", `SELECT id FROM users WHERE lower(email) = lower($1::text COLLATE "C")`, []any{"a@b.test"},
			[]string{"users_email"}},
		{"AuditHead", `SELECT size FROM audit_logs WHERE log = $1 FOR UPDATE`, []any{"contoso"},
			[]string{"audit_logs_pkey"}},
		// A request's records, not a walk of the whole log for the order
		// (an access report at every completion).
		{"SearchAuditByRequest", searchAuditSQL("canonical", byRequest), append(byRequest.args, 500),
			[]string{"audit_records_request_time"}},
		{"AuditRange", `SELECT canonical FROM audit_records WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, []any{"c", 0, 10},
			[]string{"audit_records_pkey"}},
		{"ClaimOutbox", claimOutboxQuery, []any{now, now, 8, "email"}, []string{"Limit", "Index Scan using outbox_claim"}},
		// Each endpoint's first due deliveries, not the whole due range;
		// the rows picked are locked by their primary key.
		{"ClaimPerEndpoint", claimPerEndpointQuery, []any{now, now, 64, 8, []string{"wh-busy"}}, []string{"outbox_endpoint_due", "outbox_pkey"}},
		// The first entry of the index, not every pending message.
		{"NextOutboxWake", nextOutboxWakeQuery, []any{"email"}, []string{"Limit", "Index Scan using outbox_claim"}},
		// A batch of held messages, each by its primary key, not a walk of
		// outbox_claim per id (stillHeld).
		{"FinishOutbox", finishOutboxQuery, []any{held, []int32{1, 1, 1}, []string{"delivered", "delivered", "delivered"},
			[]string{"", "", ""}, []*time.Time{&now, &now, &now}, []*time.Time{nil, nil, nil}}, []string{"outbox_pkey"}},
		{"ReleaseOutbox", releaseOutboxQuery, []any{held, []int32{1, 1, 1}}, []string{"outbox_pkey"}},
		// The endpoints' pending deliveries, not their history.
		{"WaitingDeliveries", waitingDeliveriesQuery, []any{[]string{"wh-1", "wh-2"}, "contoso"}, []string{"outbox_endpoint_due"}},
		// An endpoint's undelivered messages, not every pending email.
		{"DeleteWebhookMessages", deleteWebhookMessagesQuery, []any{"wh"}, []string{"outbox_endpoint_due"}},
		// An endpoint's newest messages, in the index's order: no sort.
		{"WebhookDeliveries", webhookDeliveriesQuery, []any{"wh", "contoso", 50}, []string{"Limit", "Index Scan using outbox_webhook"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := queryPlan(t, s, tt.query, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan does not use %s:\n%s", w, plan)
				}
			}
			for _, a := range avoid[tt.name] {
				if strings.Contains(plan, a) {
					t.Errorf("plan has %s:\n%s", a, plan)
				}
			}
		})
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(ctx, `RESET enable_seqscan`)
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// TestDueQueriesPlannedPerCall holds the deadline and reminder sweeps to
// being planned at every call (perCall, request.go): pgx sends them as
// unnamed statements, so PostgreSQL never falls back to a generic plan
// that walks every request. A statement pgx prepared and cached would be
// listed in the session's pg_prepared_statements after the calls.
func TestDueQueriesPlannedPerCall(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), pgtest.Migrated(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var prepared []string
	err = s.View(t.Context(), func(ltx lockbox.Tx) error {
		for range 7 { // past the five custom plans a prepared statement gets
			if _, err := ltx.DueRequests(t.Context(), time.Now(), "", 10); err != nil {
				return err
			}
			if _, err := ltx.DueReminders(t.Context(), time.Now(), 10); err != nil {
				return err
			}
		}
		rows, err := ltx.(*tx).tx.QueryContext(t.Context(), `SELECT statement FROM pg_prepared_statements`)
		if err != nil {
			return err
		}
		prepared, err = sqlrows.Collect(rows, sqlrows.Value[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range prepared {
		if strings.Contains(stmt, "next_deadline <=") || strings.Contains(stmt, "remind_at <=") {
			t.Errorf("a due query was prepared for reuse: %s", stmt)
		}
	}
}

// TestAppendPlans pins the plans of the statements lockbox_audit_append
// runs (migration 00021), read from auto_explain's nested-statement
// output sent to the session as notices: a one-record append inserts its
// row with VALUES, not by unnesting ten arrays, and locks and updates the
// head row through its primary key.
func TestAppendPlans(t *testing.T) {
	t.Parallel()
	cfg, err := pgx.ParseConfig(pgtest.Migrated(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	var plans []string
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { plans = append(plans, n.Message) }
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range []string{`LOAD 'auto_explain'`, `SET auto_explain.log_min_duration = 0`,
		`SET auto_explain.log_nested_statements = on`, `SET auto_explain.log_level = notice`} {
		if _, err := conn.Exec(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Twice: the first append creates the head row, the second is the
	// common case.
	for _, id := range []string{"a", "b"} {
		plans = plans[:0]
		if _, err := conn.Exec(t.Context(), `SELECT lockbox_audit_append('contoso', ARRAY['\x7b'::bytea], ARRAY['\x7d'::bytea],
			ARRAY[$1::text], ARRAY[now()], ARRAY['t'], ARRAY['o'], ARRAY['u'], ARRAY['a'], ARRAY['r'])`, id); err != nil {
			t.Fatal(err)
		}
	}
	insert := nestedPlan(t, plans, "INSERT INTO audit_records")
	if strings.Contains(insert, "Function Scan") || strings.Contains(insert, "ProjectSet") {
		t.Errorf("a one-record append unnests its arguments:\n%s", insert)
	}
	for _, stmt := range []string{"FROM audit_logs WHERE log = p_log FOR UPDATE", "UPDATE audit_logs SET"} {
		if plan := nestedPlan(t, plans, stmt); !strings.Contains(plan, "audit_logs_pkey") {
			t.Errorf("%s does not use audit_logs_pkey:\n%s", stmt, plan)
		}
	}
}

// nestedPlan is the one of auto_explain's plans whose query text contains
// stmt.
func nestedPlan(t *testing.T, plans []string, stmt string) string {
	t.Helper()
	var found []string
	for _, p := range plans {
		if strings.Contains(p, stmt) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d plans of %q among:\n%s", len(found), stmt, strings.Join(plans, "\n\n"))
	}
	return found[0]
}

// TestClaimPerEndpointReadsEachEndpoint holds the webhook lane's claim to
// walking the endpoints and reading each one's first deliveries in
// outbox_endpoint_due, with the outbox's statistics as a burst leaves
// them (none yet), after claims that rolled back, and once analysed, in
// the plan a prepared statement settles on: from outbox_webhook (every
// delivery kept), the walk read a whole history. The plan that read each
// endpoint's first few from outbox_claim, walking the whole backlog once
// an endpoint, showed in BenchmarkClaimWebhooks (57 ms a claim at 1,000
// due over some 500 endpoints) but not here: the index's own expression
// (migration 00031) is what keeps it out.
func TestClaimPerEndpointReadsEachEndpoint(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), pgtest.Migrated(t, pgtest.DSN(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var burst []*lockbox.OutboxMessage
	for n := range 1000 {
		hook := "wh-big"
		if n%2 == 0 {
			hook = fmt.Sprintf("wh-%d", n%500)
		}
		m := storetest.NewWebhookMessage(n, hook)
		m.CreatedAt, m.NextAttemptAt = storetest.T0, storetest.T0.Add(time.Duration(n)*time.Millisecond)
		burst = append(burst, m)
	}
	now := storetest.T0.Add(48 * time.Hour)
	storetest.MustEnqueue(t, s, burst...)
	conn, err := s.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for _, stats := range []string{"none", "after claims", "analysed"} {
		switch stats {
		case "after claims": // rolled back, as a claim that fails
			for range 20 {
				err := s.Update(t.Context(), func(tx lockbox.Tx) error {
					c := lockbox.OutboxClaim{Channel: lockbox.ChannelWebhook, Now: now, LeaseUntil: now, Limit: 64}
					if _, err := tx.ClaimOutbox(t.Context(), c); err != nil {
						return err
					}
					return context.Canceled
				})
				if err != context.Canceled {
					t.Fatal(err)
				}
			}
		case "analysed":
			if _, err := conn.ExecContext(t.Context(), `ANALYZE outbox`); err != nil {
				t.Fatal(err)
			}
		}
		// Prepared afresh in each state: a prepared statement keeps its
		// generic plan until something invalidates it.
		name := "claim_" + strings.ReplaceAll(stats, " ", "_")
		if _, err := conn.ExecContext(t.Context(), `PREPARE `+name+` (timestamptz, timestamptz, int, int, text[]) AS `+claimPerEndpointQuery); err != nil {
			t.Fatal(err)
		}
		at := now.Format(time.RFC3339Nano)
		rows, err := conn.QueryContext(t.Context(), fmt.Sprintf(`EXPLAIN EXECUTE %s ('%s', '%s', 64, 8, '{}')`, name, at, at))
		if err != nil {
			t.Fatal(err)
		}
		lines, err := sqlrows.Collect(rows, sqlrows.Value[string])
		if err != nil {
			t.Fatal(err)
		}
		plan := strings.Join(lines, "\n")
		if strings.Contains(plan, "outbox_claim") || strings.Contains(plan, "outbox_webhook") || !strings.Contains(plan, "outbox_endpoint_due") {
			t.Errorf("statistics %s: the claim reads outbox_claim or outbox_webhook, or not outbox_endpoint_due:\n%s", stats, plan)
		}
	}
}
