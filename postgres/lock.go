package postgres

import (
	"context"
	"database/sql/driver"

	"github.com/lockboxhq/lockbox"
)

var _ lockbox.StoreLocker = (*Store)(nil)

// WithLock runs fn holding a session-level advisory lock keyed by name and
// the current schema (so test schemas and other applications on the same
// server do not collide), on a connection set aside for it. If that
// connection is lost while fn runs, the server releases the lock: the lock
// only saves duplicate work, it never guards correctness.
func (s *Store) WithLock(ctx context.Context, name string, fn func(ctx context.Context) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return wrap("lock "+name, err)
	}
	defer conn.Close()
	var key int64
	err = conn.QueryRowContext(ctx, `SELECT hashtextextended('lockbox lock ' || $1 || ' in ' || current_schema(), 0)`, name).Scan(&key)
	if err != nil {
		return wrap("lock "+name, err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return wrap("lock "+name, err)
	}
	fnErr := fn(ctx)
	// Unlock even when ctx has ended. Should that fail, the connection is
	// discarded rather than pooled, and closing it releases the lock.
	if _, err := conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key); err != nil {
		_ = conn.Raw(func(any) error { return driver.ErrBadConn })
	}
	return fnErr
}
