package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/groupcommit"
)

// Group commit (internal/groupcommit): one writer goroutine takes every
// Update queued at the moment it is free, runs each in its own SAVEPOINT
// inside one transaction, and commits them together; a failing (or
// panicking) fn rolls back to its savepoint and leaves the others
// untouched. Updates still run one at a time in arrival order, so they see
// each other exactly as if serial.

// maxGroup bounds one group, so a flood of writers cannot delay the first
// of them without limit.
const maxGroup = 128

// errClosed answers an Update on a closed store.
var errClosed = errors.New("sqlite: store is closed")

// Update runs fn in one read-write transaction and commits when fn returns
// nil; fn's error is returned unchanged. Updates run one at a time, so fn
// must not call Update or View on the same Store (it would wait for itself).
func (s *Store) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	return s.queue.Submit(ctx, fn)
}

// writeLoop is the single writer. It ends when the store closes, failing
// whatever is still queued.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	defer s.stmts.close()
	for req := s.queue.Next(); req != nil; req = s.queue.Next() {
		s.runGroup(req)
		s.stmts.prepareMissed(context.Background())
	}
}

// runGroup runs first, and every Update that arrives while the group runs,
// in one transaction, commits once, and tells each caller.
func (s *Store) runGroup(first *groupcommit.Request) {
	group := []*groupcommit.Request{first}
	var results []groupcommit.Result
	defer func() {
		for i, req := range group {
			if i >= len(results) { // not run: the group ended early
				results = append(results, groupcommit.Result{Err: errors.New("sqlite: write group aborted")})
			}
			req.Reply(results[i])
		}
	}()
	bg := context.Background()
	conn, sqlTx, logs, err := s.beginGroup(bg)
	if err != nil {
		results = append(results, groupcommit.Result{Err: fmt.Errorf("sqlite: begin: %w", err)})
		return
	}
	defer conn.Close()     // after the transaction has ended
	defer sqlTx.Rollback() // no-op after Commit
	last := time.Now()     // of the latest arrival
	for i := 0; i < len(group); i++ {
		results = append(results, runSavepoint(sqlTx, s.stmts, logs, group[i]))
		group = s.queue.Gather(group, i+1, s.lastGroup, maxGroup, &last)
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
			if results[i].OK() {
				results[i].Err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
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
// transaction, undoing just its writes when it fails or panics. An Update
// whose audit read could return a record an earlier Update of the group
// staged (seeEarlier, auditlog.go) is undone, the staged records are
// written (flush), and it runs once more, now seeing them as rows.
func runSavepoint(sqlTx *sql.Tx, cache *stmtCache, logs *groupLogs, req *groupcommit.Request) groupcommit.Result {
	if err := req.Ctx.Err(); err != nil {
		return groupcommit.Result{Err: err}
	}
	res := callSavepoint(sqlTx, cache, logs, req)
	again := logs.again && res.Panic == nil
	logs.again = false
	if !again {
		return res
	}
	if err := logs.flush(context.Background(), &tx{tx: writerTx{tx: sqlTx, cache: cache}}); err != nil {
		logs.failed = err // the group must not commit what this flush half wrote
		return groupcommit.Result{Err: err}
	}
	return callSavepoint(sqlTx, cache, logs, req)
}

// callSavepoint runs fn once in a savepoint. An Update that read the log
// where an earlier Update's records are still staged fails, whatever fn
// made of the read's error (runSavepoint runs it again).
func callSavepoint(sqlTx *sql.Tx, cache *stmtCache, logs *groupLogs, req *groupcommit.Request) groupcommit.Result {
	sp := &savepoint{w: writerTx{tx: sqlTx, cache: cache}}
	logs.begin()
	res := req.Call(&tx{tx: writerTx{tx: sqlTx, cache: cache, sp: sp}, logs: logs})
	if logs.again && res.Panic == nil {
		res.Err = errAfterEarlier
	}
	if res.OK() {
		if res.Err = sp.release(); res.Err == nil {
			logs.release()
			return res
		}
	}
	logs.rollback()
	if rbErr := sp.rollback(); rbErr != nil {
		res.Err = errors.Join(res.Err, rbErr)
	}
	return res
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
