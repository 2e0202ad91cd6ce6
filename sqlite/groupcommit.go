package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Group commit. A durable commit costs one fsync whatever it holds, so
// committing every Update on its own caps writes at the disk's fsync rate.
// Instead one writer goroutine takes every Update queued at the moment it is
// free, runs each in its own SAVEPOINT inside one transaction, and commits
// them together. Each caller still returns only after that commit, so a nil
// error still means durable; a failing (or panicking) fn rolls back to its
// savepoint and leaves the others untouched. Updates still run one at a time
// in arrival order, so they see each other exactly as if serial.

// maxGroup bounds one group, so a flood of writers cannot delay the first
// of them without limit.
const maxGroup = 128

// gatherWait and maxYields bound how long a group waits for the next
// caller (arrivals).
const (
	gatherWait = 100 * time.Microsecond
	maxYields  = 1000
)

// errClosed answers an Update on a closed store.
var errClosed = errors.New("sqlite: store is closed")

type writeReq struct {
	ctx  context.Context
	fn   func(lockbox.Tx) error
	done chan writeResult
}

type writeResult struct {
	err   error
	panic any // a panic of fn, re-raised in the caller's goroutine
}

// panicked wraps a recovered panic so it rolls back like an error.
type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// Update runs fn in one read-write transaction and commits when fn returns
// nil; fn's error is returned unchanged. Updates run one at a time, so fn
// must not call Update or View on the same Store (it would wait for itself).
func (s *Store) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closing:
		return errClosed
	}
	// Once queued, wait for the outcome even if ctx ends: fn may already
	// have run and committed, and the caller must not be told otherwise.
	res := <-req.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// writeLoop is the single writer. It ends when the store closes, failing
// whatever is still queued.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	defer s.stmts.close()
	for {
		select {
		case req := <-s.writes:
			s.runGroup(req)
			s.stmts.prepareMissed(context.Background())
		case <-s.closing:
			for {
				select {
				case req := <-s.writes:
					req.done <- writeResult{err: errClosed}
				default:
					return
				}
			}
		}
	}
}

// runGroup runs first, and every Update that arrives while the group runs,
// in one transaction, commits once, and tells each caller. Taking callers
// in while running the earlier ones, rather than gathering a group and then
// running it, overlaps their work of making the next request with the
// writer's of running this one.
func (s *Store) runGroup(first *writeReq) {
	group := []*writeReq{first}
	var results []writeResult
	defer func() {
		for i, req := range group {
			if i >= len(results) { // not run: the group ended early
				results = append(results, writeResult{err: errors.New("sqlite: write group aborted")})
			}
			req.done <- results[i]
		}
	}()
	bg := context.Background()
	conn, sqlTx, logs, err := s.beginGroup(bg)
	if err != nil {
		results = append(results, writeResult{err: fmt.Errorf("sqlite: begin: %w", err)})
		return
	}
	defer conn.Close()     // after the transaction has ended
	defer sqlTx.Rollback() // no-op after Commit
	last := time.Now()     // of the latest arrival
	for i := 0; i < len(group); i++ {
		results = append(results, runSavepoint(sqlTx, s.stmts, logs, group[i]))
		group = s.arrivals(group, i+1, &last)
	}
	s.lastGroup = len(group)
	err = logs.flush(bg, &tx{tx: writerTx{tx: sqlTx, cache: s.stmts}})
	if err == nil {
		err = sqlTx.Commit()
	}
	if err == nil {
		s.logs.commit(logs)
		if logs.appended {
			s.appended.Fire()
		}
	} else {
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
}

// arrivals adds to group the Updates queued now. Once all of group has run
// (ran == len(group)) and none is queued, it waits for more, never sleeping:
// it yields the processor, since the callers the last commit released are
// usually runnable but not yet scheduled, until the group is as large as
// the last one was or gatherWait has passed since the latest arrival. Under
// load that fills groups (fewer fsyncs); a lone caller, after a busy spell,
// waits gatherWait once.
func (s *Store) arrivals(group []*writeReq, ran int, last *time.Time) []*writeReq {
	for yields := 0; len(group) < maxGroup; yields++ {
		select {
		case req := <-s.writes:
			group = append(group, req)
			*last = time.Now()
			continue
		default:
		}
		// The count bounds the wait where the clock does not move while
		// goroutines run (testing/synctest).
		if ran < len(group) || len(group) >= s.lastGroup || yields >= maxYields || time.Since(*last) > gatherWait {
			return group
		}
		runtime.Gosched()
	}
	return group
}

// beginGroup starts the group's transaction on the writer pool's one
// connection, and the group's audit state from the log cache, which it
// first checks is still good for that connection (loghead.go). The caller
// closes conn, handing it back to the pool, once the transaction has ended.
func (s *Store) beginGroup(ctx context.Context) (*sql.Conn, *sql.Tx, *groupLogs, error) {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var driverConn any
	err = conn.Raw(func(dc any) error { driverConn = dc; return nil })
	var sqlTx *sql.Tx
	if err == nil {
		sqlTx, err = conn.BeginTx(ctx, nil)
	}
	if err == nil {
		if err = s.logs.validate(ctx, writerTx{tx: sqlTx, cache: s.stmts}, driverConn); err != nil {
			sqlTx.Rollback()
		}
	}
	if err != nil {
		conn.Close()
		return nil, nil, nil, err
	}
	return conn, sqlTx, newGroupLogs(s.logs), nil
}

// runSavepoint runs one caller's fn inside a savepoint of the group's
// transaction, undoing just its writes when it fails or panics.
func runSavepoint(sqlTx *sql.Tx, cache *stmtCache, logs *groupLogs, req *writeReq) (res writeResult) {
	if err := req.ctx.Err(); err != nil {
		return writeResult{err: err}
	}
	sp := &savepoint{w: writerTx{tx: sqlTx, cache: cache}}
	logs.begin()
	err := callFn(req, &tx{tx: writerTx{tx: sqlTx, cache: cache, sp: sp}, logs: logs})
	if err == nil {
		if err = sp.release(); err == nil {
			logs.release()
			return writeResult{}
		}
	}
	logs.rollback()
	if rbErr := sp.rollback(); rbErr != nil {
		err = errors.Join(err, rbErr)
	}
	var p panicked
	if errors.As(err, &p) {
		return writeResult{panic: p.v}
	}
	return writeResult{err: err}
}

// savepoint is one Update's SQLite savepoint, opened lazily: SAVEPOINT runs
// just before the Update's first statement that may write, so an Update
// that writes nothing to SQLite (reads, and audit appends, which are staged
// in memory and undone there) costs no savepoint statements. Before it is
// open nothing has been written, so there is nothing to undo.
type savepoint struct {
	w    writerTx // without sp: its statements must not reopen it
	open bool
}

func (sp *savepoint) ensure() error {
	if sp == nil || sp.open {
		return nil
	}
	if _, err := sp.w.ExecContext(context.Background(), "SAVEPOINT upd"); err != nil {
		return fmt.Errorf("sqlite: savepoint: %w", err)
	}
	sp.open = true
	return nil
}

func (sp *savepoint) release() error {
	if !sp.open {
		return nil
	}
	if _, err := sp.w.ExecContext(context.Background(), "RELEASE upd"); err != nil {
		return fmt.Errorf("sqlite: release savepoint: %w", err)
	}
	return nil
}

func (sp *savepoint) rollback() error {
	if !sp.open {
		return nil
	}
	bg := context.Background()
	var err error
	if _, rbErr := sp.w.ExecContext(bg, "ROLLBACK TO upd"); rbErr != nil {
		err = fmt.Errorf("sqlite: rollback to savepoint: %w", rbErr)
	}
	sp.w.ExecContext(bg, "RELEASE upd")
	return err
}

// callFn runs fn, turning a panic into an error so its writes roll back.
func callFn(req *writeReq, t *tx) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return req.fn(t)
}
