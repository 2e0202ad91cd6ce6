package sqlite

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lockboxhq/lockbox"
)

// TestQueryPlans pins the indexes the hot queries rely on, so a schema or
// query change that silently turns one into a table scan fails here.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "lockbox.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := time.Unix(0, 0)
	cursor := lockbox.RequestQuery{Tenant: "contoso", BeforeCreatedAt: &before, BeforeID: "x", Limit: 10}
	statusOrDue := lockbox.RequestQuery{Statuses: []lockbox.Status{lockbox.StatusPending}, OrDueBy: &before, Limit: 10}
	byRequester := lockbox.RequestQuery{RequesterID: "u", Limit: 10}
	query := func(q lockbox.RequestQuery) string { s, _ := listQuery(q); return s }
	args := func(q lockbox.RequestQuery) []any { _, a := listQuery(q); return a }
	tests := []struct {
		name  string
		query string
		args  []any
		want  []string
	}{
		{"DueRequests", dueQuery, []any{1, "", 10}, []string{"requests_next_deadline (next_deadline<?)"}},
		{"NextDue", nextDueQuery, []any{1}, []string{"requests_next_deadline (next_deadline>?)"}},
		{"DueReminders", dueRemindersQuery, []any{1, 10}, []string{"requests_remind_at (remind_at<?)"}},
		{"NextReminder", nextReminderQuery, []any{1}, []string{"requests_remind_at (remind_at>?)"}},
		{"ListByStatusOrDue", query(statusOrDue), args(statusOrDue),
			[]string{"MERGE (UNION)", "requests_status_created (status=?)", "requests_next_deadline (next_deadline<?)"}},
		{"ListByTenantAfterCursor", query(cursor), args(cursor),
			[]string{"requests_tenant_created (tenant=? AND (created_at,id)<(?,?))"}},
		{"ListByRequester", query(byRequester), args(byRequester), []string{"requests_requester_created (requester_id=?)"}},
		{"AuditRange", `SELECT canonical FROM audit_records WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, []any{"c", 0, 10},
			[]string{"(log=? AND idx>? AND idx<?)"}},
		{"AuditBundle", bundleQuery, []any{"c", 0}, []string{"SEARCH b USING INDEX sqlite_autoindex_audit_bundles_1 (log=? AND n=?)",
			"SEARCH l USING INDEX sqlite_autoindex_audit_logs_1 (log=?)"}},
		{"AuditBundles", bundlesQuery, []any{"c", 0, 10}, []string{"SEARCH b USING INDEX sqlite_autoindex_audit_bundles_1 (log=? AND n>? AND n<?)",
			"SEARCH l USING INDEX sqlite_autoindex_audit_logs_1 (log=?)"}},
		{"MissingHashesAtStart", missingHashesQuery, nil, []string{"SCAN l", "SEARCH r USING INDEX", "(log=? AND idx=?)"}},
		{"ClaimOutbox", claimOutboxQuery, []any{1, "email", 1, 8}, []string{"SEARCH outbox USING INDEX outbox_claim (channel=? AND <expr><?)"}},
		{"ClaimPerEndpoint", claimPerEndpointQuery(1), []any{1, 1, 8, "wh-busy", 64}, []string{"outbox_endpoint_due (webhook_id>?)", "outbox_endpoint_due (webhook_id=? AND <expr><?)"}},
		{"NextOutboxWake", nextOutboxWakeQuery, []any{"email"}, []string{"SEARCH outbox USING INDEX outbox_claim (channel=?)"}},
		{"WaitingDeliveries", waitingDeliveriesQuery(2), []any{"contoso", "wh-1", "wh-2"}, []string{"outbox_endpoint_due (webhook_id=?)"}},
		{"DeleteWebhookMessages", deleteWebhookMessagesQuery, []any{"wh"}, []string{"outbox_endpoint_due (webhook_id=?)"}},
		{"WebhookDeliveries", webhookDeliveriesQuery, []any{"wh", "contoso", 50}, []string{"SEARCH outbox USING INDEX outbox_webhook (webhook_id=?)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plan := queryPlan(t, s, tt.query, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(plan, w) {
					t.Errorf("plan does not use %s:\n%s", w, plan)
				}
			}
		})
	}
}

func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.reader.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}
