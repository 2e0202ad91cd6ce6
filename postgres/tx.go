package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// tx implements lockbox.Tx on one database/sql transaction. Its methods are
// spread over the files named for what they store.
type tx struct {
	// tx is an Update's statements in its write group's transaction
	// (memberQuerier, groupcommit.go), a View's *sql.Tx, or ViewOne's
	// single statement.
	tx querier
	// update is true inside Store.Update: reads that the contract says lock
	// (GetRequest) take row locks only there, since a read-only transaction
	// may not.
	update bool
	// pending holds this Update's audit appends, sent with its group's
	// COMMIT (audit.go), so a log's head row is locked only for the end of
	// the transaction rather than from its first append.
	pending []*lockbox.AuditRecord
	// outbox holds this Update's notifications, inserted with its group's
	// COMMIT too (outbox.go).
	outbox []*lockbox.OutboxMessage
	// memo holds what this transaction read of tenants, webhooks and
	// accounts (memo.go), so one workflow step reads each once.
	memo memo
	// ahead holds what LockUser read ahead for the reads after it
	// (readahead.go); nil: nothing.
	ahead *ahead
	// locked is the version of each request row this Update holds locked
	// as it last read or wrote it: an update from that version changes the
	// row for certain, so it need not be waited for (later.go).
	locked map[string]int
	// hooks and users are the Store's webhook and account lists, shared by
	// its transactions (listcache.go); nil: not to be used.
	hooks *listCache[lockbox.Webhook]
	users *listCache[lockbox.User]
}

var _ lockbox.Tx = (*tx)(nil)

// querier is what *sql.Tx and *sql.Conn have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// expectRow is sqlrows.ExpectRow with this store's wrap: ENOTFOUND when a
// write by key changed no row.
func expectRow(res sql.Result, err error, op, format string, args ...any) error {
	return sqlrows.ExpectRow(res, err, func(err error) error { return wrap(op, err) }, format, args...)
}

// insert runs an INSERT … ON CONFLICT DO NOTHING and reports whether it
// stored its row: false means a unique key was taken. Unlike a failed
// INSERT, a skipped one leaves the transaction usable, as in SQLite.
func (t *tx) insert(ctx context.Context, op, query string, args ...any) (bool, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, query, args...))
	if err != nil {
		return false, wrap(op, err)
	}
	return n == 1, nil
}

// Times are timestamptz, which keeps microseconds: the caller's clock is
// truncated to them here, as the sqlite store does, so both stores read
// back the same instant.

func ts(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// perCall, given as a query's first argument, has pgx send it as an
// unnamed statement, which PostgreSQL plans for the values of that call
// instead of preparing it once and reusing a generic plan. For a query
// whose best plan depends on its values (the due queries, request.go).
const perCall = pgx.QueryExecModeExec

// nullTime maps a missing time to NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return ts(*t)
}

// zeroAsNull stores the zero time (meaning "never") as NULL.
func zeroAsNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// timePtr maps NULL back to a missing time, in UTC.
func timePtr(v sql.Null[time.Time]) *time.Time {
	if !v.Valid {
		return nil
	}
	t := v.V.UTC()
	return &t
}

// nullString maps a missing string to NULL.
func nullString(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// scanner is what a *sql.Row and *sql.Rows have in common.
type scanner = sqlrows.Scanner
