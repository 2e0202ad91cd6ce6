package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
			s.commitGroup(s.gather(req))
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

// gather takes first and whatever else is queued right now, without waiting.
func (s *Store) gather(first *writeReq) []*writeReq {
	group := []*writeReq{first}
	for len(group) < maxGroup {
		select {
		case req := <-s.writes:
			group = append(group, req)
		default:
			return group
		}
	}
	return group
}

// commitGroup runs the group in one transaction and tells each caller.
func (s *Store) commitGroup(group []*writeReq) {
	results := make([]writeResult, len(group))
	defer func() {
		for i, req := range group {
			req.done <- results[i]
		}
	}()
	sqlTx, err := s.writer.BeginTx(context.Background(), nil)
	if err != nil {
		for i := range results {
			results[i].err = fmt.Errorf("sqlite: begin: %w", err)
		}
		return
	}
	defer sqlTx.Rollback() // no-op after Commit
	for i, req := range group {
		results[i] = runSavepoint(sqlTx, s.stmts, req)
	}
	if err := sqlTx.Commit(); err != nil {
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = fmt.Errorf("sqlite: commit: %w", err)
			}
		}
	}
}

// runSavepoint runs one caller's fn inside a savepoint of the group's
// transaction, undoing just its writes when it fails or panics.
func runSavepoint(sqlTx *sql.Tx, cache *stmtCache, req *writeReq) (res writeResult) {
	if err := req.ctx.Err(); err != nil {
		return writeResult{err: err}
	}
	w := writerTx{tx: sqlTx, cache: cache}
	bg := context.Background()
	if _, err := w.ExecContext(bg, "SAVEPOINT upd"); err != nil {
		return writeResult{err: fmt.Errorf("sqlite: savepoint: %w", err)}
	}
	err := callFn(req, sqlTx, cache)
	if err == nil {
		if _, err := w.ExecContext(bg, "RELEASE upd"); err != nil {
			return writeResult{err: fmt.Errorf("sqlite: release savepoint: %w", err)}
		}
		return writeResult{}
	}
	if _, rbErr := w.ExecContext(bg, "ROLLBACK TO upd"); rbErr != nil {
		err = errors.Join(err, fmt.Errorf("sqlite: rollback to savepoint: %w", rbErr))
	}
	w.ExecContext(bg, "RELEASE upd")
	var p panicked
	if errors.As(err, &p) {
		return writeResult{panic: p.v}
	}
	return writeResult{err: err}
}

// callFn runs fn, turning a panic into an error so its writes roll back.
func callFn(req *writeReq, sqlTx *sql.Tx, cache *stmtCache) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = panicked{v}
		}
	}()
	return req.fn(&tx{tx: writerTx{tx: sqlTx, cache: cache}})
}
