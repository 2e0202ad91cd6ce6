// Package groupcommit is the queue behind both stores' group commit. A
// durable commit costs one flush whatever it holds, so committing every
// Update on its own caps writes at the disk's flush rate. Instead callers
// Submit their Update and wait; a writer takes the Updates queued while it
// works (Next, then Gather), runs each in a savepoint of one transaction
// (each store its own way: sqlite/groupcommit.go, postgres/groupcommit.go),
// commits once, and Replies to each. A caller still returns only after that
// commit, so a nil error still means durable.
package groupcommit

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
)

// Request is one Update waiting for a writer.
type Request struct {
	Ctx  context.Context
	Fn   func(lockbox.Tx) error
	done chan Result
}

// Result is what an Update's caller is told.
type Result struct {
	Err   error
	Panic any // a panic of Fn, re-raised in the caller's goroutine
}

// OK reports whether the Update succeeded.
func (r Result) OK() bool { return r.Err == nil && r.Panic == nil }

// NewRequest is an Update of fn for ctx, to be queued.
func NewRequest(ctx context.Context, fn func(lockbox.Tx) error) *Request {
	return &Request{Ctx: ctx, Fn: fn, done: make(chan Result, 1)}
}

// Reply tells the caller res. Each Request is replied to once.
func (r *Request) Reply(res Result) { r.done <- res }

// Wait waits for the Reply.
func (r *Request) Wait() Result { return <-r.done }

// Call runs r.Fn on t, turning a panic into Result.Panic, so the writer can
// roll back its writes and go on with the group.
func (r *Request) Call(t lockbox.Tx) (res Result) {
	defer func() {
		if v := recover(); v != nil {
			res = Result{Panic: v}
		}
	}()
	return Result{Err: r.Fn(t)}
}

// Queue hands Updates from their callers to the writers.
type Queue struct {
	reqs      chan *Request
	closing   chan struct{}
	closeOnce sync.Once
	errClosed error
	waiting   atomic.Int64 // callers in Submit not yet taken by a writer
}

// NewQueue returns a queue whose Updates fail with errClosed once it is
// closed.
func NewQueue(errClosed error) *Queue {
	return &Queue{reqs: make(chan *Request), closing: make(chan struct{}), errClosed: errClosed}
}

// Submit queues fn and waits for its outcome, re-raising its panic. Once
// queued it waits even if ctx ends: fn may already have run and committed,
// and the caller must not be told otherwise (the writer checks ctx before
// running fn).
func (q *Queue) Submit(ctx context.Context, fn func(lockbox.Tx) error) error {
	req := NewRequest(ctx, fn)
	q.waiting.Add(1)
	select {
	case q.reqs <- req:
		q.waiting.Add(-1)
	case <-ctx.Done():
		q.waiting.Add(-1)
		return ctx.Err()
	case <-q.closing:
		q.waiting.Add(-1)
		return q.errClosed
	}
	res := req.Wait()
	if res.Panic != nil {
		panic(res.Panic)
	}
	return res.Err
}

// Next waits for the next Update, or returns nil once the queue is closed,
// failing every Update still queued.
func (q *Queue) Next() *Request {
	select {
	case req := <-q.reqs:
		return req
	case <-q.closing:
		for {
			select {
			case req := <-q.reqs:
				req.Reply(Result{Err: q.errClosed})
			default:
				return nil
			}
		}
	}
}

// Waiting is how many callers have submitted an Update that no writer has
// taken yet (tests that need Updates queued behind one that runs).
func (q *Queue) Waiting() int { return int(q.waiting.Load()) }

// Enqueue queues req for a writer, waiting until one takes it (tests that
// run a writer's groups themselves).
func (q *Queue) Enqueue(req *Request) { q.reqs <- req }

// Close makes Submit and Next fail from now on. It may be called more than
// once.
func (q *Queue) Close() { q.closeOnce.Do(func() { close(q.closing) }) }

// gatherWait and maxYields bound how long a group waits for the next
// caller (Gather).
const (
	gatherWait = 100 * time.Microsecond
	maxYields  = 1000
)

// Gather adds to group, up to max, the Updates queued now; ran of them have
// run. Once all of group has run and none is queued, it waits for more,
// never sleeping: it yields the processor, since the callers the last
// commit released are usually runnable but not yet scheduled, until the
// group is as large as the last one was (lastGroup) or gatherWait has
// passed since the latest arrival (*last, which it updates). Under load
// that fills groups; a lone caller, after a busy spell, waits gatherWait
// once. Taking callers in while the group runs, rather than gathering a
// group and then running it, overlaps their making of the next request
// with the writer's running of this one.
func (q *Queue) Gather(group []*Request, ran, lastGroup, max int, last *time.Time) []*Request {
	for yields := 0; len(group) < max; yields++ {
		select {
		case req := <-q.reqs:
			group = append(group, req)
			*last = time.Now()
			continue
		default:
		}
		// The count bounds the wait where the clock does not move while
		// goroutines run (testing/synctest).
		if ran < len(group) || len(group) >= lastGroup || yields >= maxYields || time.Since(*last) > gatherWait {
			return group
		}
		runtime.Gosched()
	}
	return group
}
