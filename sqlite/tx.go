package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"

	sqlitedriver "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// tx implements lockbox.Tx on one database/sql transaction. Its methods are
// spread over the files named for what they store.
type tx struct {
	tx querier
	// logs is the commit group's log heads (loghead.go); nil in a View.
	logs *groupLogs
}

// querier is what a tx needs of a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

var _ lockbox.Tx = (*tx)(nil)

// isConstraint reports whether err is SQLite refusing a row because it
// breaks one of the given extended constraint codes.
func isConstraint(err error, codes ...int) bool {
	var e *sqlitedriver.Error
	if !errors.As(err, &e) {
		return false
	}
	for _, c := range codes {
		if e.Code() == c {
			return true
		}
	}
	return false
}

// isUnique reports whether err is a duplicate primary key or unique value.
func isUnique(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// isForeignKey reports whether err is a reference to a missing row.
func isForeignKey(err error) bool {
	return isConstraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY)
}

// wrap names the operation that failed on an infrastructure error, keeping
// the cause for errors.Is/As. It passes nil through.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// expectRow is sqlrows.ExpectRow with this store's wrap: ENOTFOUND when a
// write by key changed no row.
func expectRow(res sql.Result, err error, op, format string, args ...any) error {
	return sqlrows.ExpectRow(res, err, func(err error) error { return wrap(op, err) }, format, args...)
}

// Times are unix microseconds: the caller's clock truncated to what every
// backend can store exactly (PostgreSQL timestamps are microseconds too).

func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// nullMicros maps a missing time to NULL.
func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// timePtr maps NULL back to a missing time.
func timePtr(v sql.Null[int64]) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicros(v.V)
	return &t
}

// zeroAsNull stores the zero time (meaning "never") as NULL.
func zeroAsNull(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// scanner is what a *sql.Row and *sql.Rows have in common.
type scanner = sqlrows.Scanner
