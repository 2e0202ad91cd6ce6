package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockboxhq/lockbox"
)

// errUnavailable is what a person sees when the database cannot serve.
// Nothing was changed: the transaction did not commit (or, for a failure
// during COMMIT itself, PostgreSQL decides, and a retry of a decision meets
// the request's version check).
var errUnavailable = lockbox.Errorf(lockbox.EUNAVAILABLE, "The database is unavailable; try again.")

// wrap names the operation that failed on an infrastructure error, keeping
// the cause for errors.Is/As, and marks it EUNAVAILABLE when the database
// could not be reached or refused to serve. It passes nil through.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, badText(unavailable(err)))
}

// errBadText is PostgreSQL refusing a string it cannot store (a NUL byte:
// SQLSTATE 22021, or 22P05). The workflow refuses control characters before
// they reach a store; this keeps any path it missed a 400, not a 500.
var errBadText = lockbox.Errorf(lockbox.EINVALID, "Text must not contain NUL or other control characters.")

// badText adds EINVALID to err's chain when PostgreSQL refused a string.
func badText(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05") {
		return fmt.Errorf("%w: %w", errBadText, err)
	}
	return err
}

// unavailable adds EUNAVAILABLE to err's chain when err means the database
// is out of reach, restarting, overloaded or too slow; other errors are
// returned unchanged.
func unavailable(err error) error {
	if !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errUnavailable, err)
}

// isUnavailable reports whether err is about the database's availability
// rather than about the statement: a retry later may succeed.
func isUnavailable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableState(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		pgconn.Timeout(err) && !errors.Is(err, context.Canceled):
		return true
	}
	return false
}

// unavailableState reports whether a SQLSTATE means "not now" rather than
// "not this": connection exceptions (08), insufficient resources (53, e.g.
// too many connections), operator intervention (57: shutdown, restart,
// pg_terminate_backend, statement_timeout), system errors (58), and the
// transient failures of concurrency control (40001 serialization, 40P01
// deadlock), which a retry of the whole action resolves.
func unavailableState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"),
		strings.HasPrefix(code, "57"), strings.HasPrefix(code, "58"):
		return true
	case code == "40001", code == "40P01",
		code == "25P03", // idle_in_transaction_session_timeout
		code == lockNotAvailable:
		return true
	}
	return false
}

// lockNotAvailable is lock_timeout's SQLSTATE: a write group's member
// waited for a row lock as long as it may (groupcommit.go).
const lockNotAvailable = "55P03"

// lockTimedOut reports whether err is lock_timeout's.
func lockTimedOut(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == lockNotAvailable
}

// Constraint violations (SQLSTATE class 23) that reach here are bugs or a
// concurrent delete; unique ones never do, because inserts use ON CONFLICT.
const foreignKeyViolation = "23503"

// isForeignKey reports whether err is a reference to a missing row.
func isForeignKey(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation
}
