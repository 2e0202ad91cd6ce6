package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// Prepared statements for the writer. Parsing SQL is about a third of the
// CPU of a small write in this pure-Go SQLite, and every statement would be
// parsed again on every call. The writer's single connection is busy inside
// a transaction, so statements cannot be prepared there and then: instead
// the writer notes the texts it ran unprepared during a group and prepares
// them after the group's commit, when the connection is free. Only the
// writer goroutine touches the cache, so it needs no lock.

// maxStmts bounds the cache: statement texts built from filters (lists,
// searches) vary, and a text beyond the bound simply stays unprepared.
const maxStmts = 256

type stmtCache struct {
	db     *sql.DB
	stmts  map[string]*sql.Stmt
	missed map[string]bool
	// bound holds the statements already bound to tx, the current group's
	// transaction: binding one (Tx.StmtContext) costs locks and
	// allocations, and a group runs the same few statements many times.
	// The transaction closes them when it ends; holding tx also keeps its
	// address from being reused by the next group's.
	tx    *sql.Tx
	bound map[string]*sql.Stmt
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, missed: map[string]bool{}, bound: map[string]*sql.Stmt{}}
}

// stmt returns the statement for q bound to sqlTx, or nil (and notes q) if
// q is not prepared yet.
func (c *stmtCache) stmt(ctx context.Context, sqlTx *sql.Tx, q string) *sql.Stmt {
	if c.tx != sqlTx {
		c.tx = sqlTx
		clear(c.bound)
	}
	if st, ok := c.bound[q]; ok {
		return st
	}
	if st, ok := c.stmts[q]; ok {
		b := sqlTx.StmtContext(ctx, st)
		c.bound[q] = b
		return b
	}
	if len(c.stmts)+len(c.missed) < maxStmts {
		c.missed[q] = true
	}
	return nil
}

// prepareMissed prepares what the last group ran unprepared. It runs
// between groups, when the writer connection is idle; a statement that
// fails to prepare is just left out.
func (c *stmtCache) prepareMissed(ctx context.Context) {
	for q := range c.missed {
		if st, err := c.db.PrepareContext(ctx, q); err == nil {
			c.stmts[q] = st
		}
		delete(c.missed, q)
	}
}

func (c *stmtCache) close() {
	for _, st := range c.stmts {
		st.Close()
	}
}

// writerTx is the writer's querier. Its statements run detached from the
// caller's cancellation: inside a commit group a cancelled statement would
// interrupt SQLite, and an interrupted write rolls back the whole
// transaction — every other caller's work in the group with it. A write's
// statements are short, so finishing them costs little; the caller's fn
// still sees ctx and can stop. They run prepared when the cache has them.
//
// Inside an Update, sp is the Update's savepoint, opened just before the
// first statement that may write (see savepoint).
type writerTx struct {
	tx    *sql.Tx
	cache *stmtCache
	sp    *savepoint
}

func (w writerTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if err := w.sp.ensure(); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if st := w.cache.stmt(ctx, w.tx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return w.tx.ExecContext(ctx, q, args...)
}

// QueryContext may write (UPDATE … RETURNING), so it opens the savepoint.
func (w writerTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if err := w.sp.ensure(); err != nil {
		return nil, err
	}
	ctx = context.WithoutCancel(ctx)
	if st := w.cache.stmt(ctx, w.tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return w.tx.QueryContext(ctx, q, args...)
}

// QueryRowContext is for reads only (every use in this package is a SELECT
// or a PRAGMA), which need no savepoint: an Update that only reads and
// appends audit records, whose rows wait in memory for the group's flush,
// then runs no savepoint statements at all.
func (w writerTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st := w.cache.stmt(ctx, w.tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return w.tx.QueryRowContext(ctx, q, args...)
}

// readStmts holds prepared statements for the reader pool, shared by every
// View. A View's connection is busy inside its transaction and the pool
// may have no other free, so a statement is never prepared on the View's
// path: the first View to run a text notes it and a goroutine prepares it
// on the pool when a connection is free; later Views bind it to their
// connection (database/sql prepares it there once and keeps it). Parsing
// was a tenth of the server's CPU when serving entry bundles (a statement
// for the token, one for the bundle, each parsed on every request).
type readStmts struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt // nil value: the text did not prepare; run it unprepared
	closed bool
	// preparing is the goroutines under way: close waits for them, so that
	// none holds a connection (and the file) once the Store is closed.
	preparing sync.WaitGroup
}

func newReadStmts(db *sql.DB) *readStmts {
	return &readStmts{db: db, stmts: map[string]*sql.Stmt{}}
}

// stmt returns q prepared and bound to sqlTx, or nil when it is not
// prepared (yet).
func (c *readStmts) stmt(ctx context.Context, sqlTx *sql.Tx, q string) *sql.Stmt {
	c.mu.Lock()
	st, seen := c.stmts[q]
	if !seen && !c.closed && len(c.stmts) < maxStmts {
		c.stmts[q] = nil // noted: prepared once, by one goroutine
		c.preparing.Add(1)
		go c.prepare(q)
	}
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	return sqlTx.StmtContext(ctx, st)
}

func (c *readStmts) prepare(q string) {
	defer c.preparing.Done()
	st, err := c.db.PrepareContext(context.Background(), q)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err != nil: // stays nil: run unprepared
	case c.closed:
		st.Close()
	default:
		c.stmts[q] = st
	}
}

// close waits for the statements being prepared and closes them all. No
// prepare starts after it: stmt checks closed under the same lock.
func (c *readStmts) close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.preparing.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		if st != nil {
			st.Close()
		}
	}
}

// readerTx is a View's querier: prepared statements where it has them.
type readerTx struct {
	tx    *sql.Tx
	cache *readStmts
}

func (r readerTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return r.tx.ExecContext(ctx, q, args...) // a View writes nothing (query_only)
}

func (r readerTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := r.cache.stmt(ctx, r.tx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return r.tx.QueryContext(ctx, q, args...)
}

func (r readerTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := r.cache.stmt(ctx, r.tx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return r.tx.QueryRowContext(ctx, q, args...)
}

// prepared reports whether q is prepared (tests).
func (c *readStmts) prepared(q string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[q] != nil
}
