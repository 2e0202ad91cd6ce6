package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A write whose outcome is known before it is sent need not be waited for:
// an UPDATE of a request row this transaction has locked, at the version
// it read, changes exactly that row. Such writes wait in the member that
// made them (memberQuerier.later) and go, in order, at the front of the
// next round trip on the group's connection: the member's own next
// statement, the next member's savepoint and first reads, or the group's
// COMMIT. A step that reads ahead (readahead.go) and then only writes such
// rows (an approval's two transitions, a review, a completion) waits for
// the database once instead of once per write (docs/benchmarks.md, issue
// 16). Everything it would have read after them it still reads after
// them: nothing goes out of order on the connection.
//
// Each is sent guarded (laterSQL): should it, against all the above, find
// no row, it fails, PostgreSQL aborts the transaction, and the group
// fails as a whole rather than commit a step without its change.

// laterWrite is one write waiting to be sent.
type laterWrite struct {
	op   string // for errors: "update request"
	sql  string // laterSQL of the statement
	args []any
	// row names the row a whole-row write sets (every column, guarded by
	// the version it expects in args[guard]); "" for any other write.
	row   string
	guard int
}

// laterSQL guards an UPDATE … RETURNING-less statement that must change
// exactly one row: it returns 1 when it did, and fails (division by zero)
// when it changed none.
func laterSQL(update string) string {
	return `WITH changed AS (` + update + ` RETURNING 1) SELECT 1 / count(*) FROM changed`
}

// laterUpdateRequest is the statement of every waiting write (request.go).
var laterUpdateRequest = laterSQL(updateRequestSQL)

// prepareGroup prepares the statements a group sends after its
// transaction's lock waits are cut short — laterUpdateRequest and
// outboxInsertSQL — on conn, outside any transaction; pgx keeps each by
// its text, which the batches then use, so this costs a round trip once
// per connection. Prepared the first time a batch sent it, inside a
// group, a statement would be parsed — which locks its table — in a round
// trip of pgx's own before the batch runs, so before the batch lifts the
// group's short lock wait (queueLater; commit in postgres.go).
func prepareGroup(conn *sql.Conn) error {
	return conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		for _, q := range []string{laterUpdateRequest, outboxInsertSQL} {
			if _, err := pc.Prepare(context.Background(), q, q); err != nil {
				return err
			}
		}
		return nil
	})
}

// queueLater adds ws to b, for readLater to read the answers of.
//
// bounded says the transaction's lock waits are cut short (lockWait,
// groupcommit.go): that bound breaks row-lock cycles between groups, and a
// waiting write can be in none, since its member holds the row. What it
// may still wait for is incidental — another backend extending the table,
// say (in PostgreSQL 15 a heavyweight lock, which lock_timeout bounds) —
// and under load that can take longer than lockWait; the write then
// failed, and with it the whole group, its members answered 500 or 503
// (found by internal/replicabench, three replicas, sixteen tenants). So
// waiting writes go with the bound lifted, and it is put back after them.
func queueLater(b *pgx.Batch, ws []laterWrite, bounded bool) {
	if len(ws) == 0 {
		return
	}
	if bounded {
		b.Queue(`SET LOCAL lock_timeout = 0`)
	}
	for _, w := range ws {
		b.Queue(w.sql, w.args...)
	}
	if bounded {
		b.Queue(`SET LOCAL lock_timeout = '` + lockWait + `'`)
	}
}

// readLater reads the answers of ws, queued in br's batch by queueLater
// with the same bounded.
func readLater(br pgx.BatchResults, ws []laterWrite, bounded bool) error {
	if len(ws) == 0 {
		return nil
	}
	if bounded {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("lift the lock wait: %w", err)
		}
	}
	for _, w := range ws {
		var one int
		if err := br.QueryRow().Scan(&one); err != nil {
			return fmt.Errorf("%s, sent with the next statement: %w", w.op, err)
		}
	}
	if bounded {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("restore the lock wait: %w", err)
		}
	}
	return nil
}

// later keeps w for the next round trip (see the top of this file).
//
// A whole-row write of the row this member's last waiting write sets
// replaces that write, guarded by the version the replaced one expected:
// nothing read the row between the two (a read would have sent the first),
// so only the second state can ever be seen, and one UPDATE — one new row
// version and its index entries — does the work of two. An approval that
// starts access at once (approved, then active) is such a pair.
func (q *memberQuerier) later(w laterWrite) {
	if n := len(q.writes); n > 0 && w.row != "" && q.writes[n-1].row == w.row {
		w.args[w.guard] = q.writes[n-1].args[w.guard]
		q.writes[n-1] = w
		return
	}
	q.writes = append(q.writes, w)
}

// sendFirst sends, in one round trip, what must precede this member's
// next statement: the writes of earlier members still waiting
// (g.writes), the member's savepoint if not taken yet, and its own
// waiting writes. It does nothing when there is nothing to send, and
// sends the savepoint alone the way begin always did when no write waits.
func (q *memberQuerier) sendFirst(ctx context.Context) error {
	g := q.g
	if len(g.writes) == 0 && len(q.writes) == 0 {
		return q.begin(ctx)
	}
	b := &pgx.Batch{}
	boundedBefore := g.bounded // take may bound the waits after earlier's
	earlier, savepoint, mine := g.writes, q.take(), q.writes
	g.writes, q.writes = nil, nil
	queueLater(b, earlier, boundedBefore)
	for _, stmt := range savepoint {
		b.Queue(stmt)
	}
	queueLater(b, mine, g.bounded)
	err := g.conn.Raw(func(dc any) error {
		br := dc.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		defer br.Close()
		if err := readLater(br, earlier, boundedBefore); err != nil {
			return err
		}
		for range savepoint {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		if err := readLater(br, mine, g.bounded); err != nil {
			return err
		}
		return br.Close()
	})
	if err != nil {
		// The transaction is aborted or the connection lost: no member of
		// the group can be kept (as a failed savepoint).
		g.broken = wrap("write", err)
		return g.broken
	}
	return nil
}

// queryAudit runs a query of audit_records only. No waiting write changes
// that table (they are updates of requests; audit records go with the
// COMMIT), so on a write group's connection the member's own waiting
// writes need not go first: they wait on for the next round trip (an
// access report's search at a completion, after the request's update).
// Earlier members' writes still go first, before the member's savepoint.
func (t *tx) queryAudit(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, ok := t.tx.(*memberQuerier)
	if !ok || !q.started {
		return t.tx.QueryContext(ctx, query, args...)
	}
	q.n++
	return q.g.conn.QueryContext(context.WithoutCancel(ctx), query, args...)
}
