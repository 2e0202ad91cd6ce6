package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/postgres/pgtest"
)

// BenchmarkWorkflowStatements counts what PostgreSQL executes for each step
// of the workflow, from the server's own pg_stat_statements: b.N requests
// are created at 32 clients, then reviewed, approved and completed, with
// the statistics reset before each step. It reports, per step:
//
//	stmts/step     statements executed (BEGIN and COMMIT included: each is
//	               a round trip, except a COMMIT pipelined with the audit
//	               append, which pg_stat_statements does not list)
//	commits/step   COMMITs that pg_stat_statements lists
//	xacts/step     write transactions: transaction ids assigned, from the
//	               server's snapshot (every COMMIT of a writer, pipelined
//	               or not; a writer that rolls back counts too)
//	roundtrips/step  requests the server's store sent, each a wait for an
//	               answer (postgres.Store.RoundTrips: the writes on its
//	               connections), whatever they carried
//
// and logs the statements that ran most often. It needs a server started
// with shared_preload_libraries=pg_stat_statements (it skips otherwise); a
// private one is easy to start next to the usual server, see
// docs/benchmarks.md. The server's background workers run too: their
// statements (a few per second) are counted in whichever step they fall.
//
// Run: go test ./cmd/lockbox -run '^$' -bench WorkflowStatements -benchtime 600x
func BenchmarkWorkflowStatements(b *testing.B) {
	ctx := context.Background()
	dsn := pgtest.DSN(b)
	admin := pgtest.Open(b, dsn)
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err != nil {
		b.Skipf("no pg_stat_statements on this server: %v", err)
	}
	if _, err := admin.ExecContext(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
		b.Skipf("pg_stat_statements is not loaded (shared_preload_libraries): %v", err)
	}
	srv := startBenchServer(b, pgtest.Schema(b, dsn), filepath.Join(b.TempDir(), "keys"))
	const clients = 32
	ids := make([]string, b.N)
	steps := []struct {
		name string
		run  func(i int) error
	}{
		{"create", func(i int) error {
			r, err := srv.as["operator@provider.test"].CreateRequest(ctx, lockbox.NewRequest{Tenant: "contoso",
				Service: "exchange", ServiceRequest: fmt.Sprintf("SR-%d", i), Reason: "Benchmark.",
				Operations: []string{"Get-Mailbox"}, DurationMinutes: 60})
			if err == nil {
				ids[i] = r.ID
			}
			return err
		}},
		{"review", srv.act("manager@provider.test", lockbox.EventReviewApprove, ids)},
		{"approve", srv.act("approver@contoso.test", lockbox.EventApprove, ids)},
		{"complete", srv.act("operator@provider.test", lockbox.EventComplete, ids)},
	}
	b.ResetTimer()
	for _, step := range steps {
		if _, err := admin.ExecContext(ctx, `SELECT pg_stat_statements_reset()`); err != nil {
			b.Fatal(err)
		}
		xid0, trips0 := nextXid(b, admin), srv.roundTrips()
		var next atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, clients)
		for range clients {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
					if err := step.run(int(i)); err != nil {
						errs <- fmt.Errorf("%s: %w", step.name, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		reportStatements(b, admin, step.name)
		b.ReportMetric(float64(srv.roundTrips()-trips0)/float64(b.N), step.name+"-roundtrips/step")
		b.ReportMetric(float64(nextXid(b, admin)-xid0)/float64(b.N), step.name+"-xacts/step")
	}
}

// nextXid is the next transaction id the server will assign.
func nextXid(b *testing.B, admin *sql.DB) int64 {
	b.Helper()
	var x int64
	if err := admin.QueryRow(`SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&x); err != nil {
		b.Fatal(err)
	}
	return x
}

// act returns a step that takes the i-th request through ev as who.
func (s *benchServer) act(who string, ev lockbox.Event, ids []string) func(int) error {
	return func(i int) error {
		_, err := s.as[who].Act(context.Background(), ids[i], ev, lockbox.Decision{})
		return err
	}
}

// reportStatements reports the statements of the current database since
// the last reset, per request of the step, and logs the most frequent.
func reportStatements(b *testing.B, admin *sql.DB, step string) {
	b.Helper()
	rows, err := admin.Query(`SELECT calls, total_exec_time, query FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND query NOT LIKE '%pg_stat_statements%' ORDER BY calls DESC`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var total, commits int64
	var lines []string
	for rows.Next() {
		var calls int64
		var ms float64
		var query string
		if err := rows.Scan(&calls, &ms, &query); err != nil {
			b.Fatal(err)
		}
		total += calls
		if strings.EqualFold(strings.TrimSpace(query), "commit") {
			commits += calls
		}
		lines = append(lines, fmt.Sprintf("%8.2f/step %8.3f ms/call  %s", float64(calls)/float64(b.N),
			ms/float64(max(calls, 1)), strings.Join(strings.Fields(query), " ")))
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(total)/float64(b.N), step+"-stmts/step")
	b.ReportMetric(float64(commits)/float64(b.N), step+"-commits/step")
	b.Logf("%s: %.1f statements, %.2f commits per step\n%s", step, float64(total)/float64(b.N),
		float64(commits)/float64(b.N), strings.Join(lines, "\n"))
}
