package postgres

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/groupcommit"
)

// Group commit (internal/groupcommit), as the sqlite store does it. A
// transaction that appends to a tenant's log holds the log's head row from
// its append until its commit is flushed, so one tenant's steps, each its
// own transaction, queued for each other's WAL flush; and each transaction
// cost PostgreSQL and the kernel a BEGIN, a COMMIT and their wake-ups
// (docs/benchmarks.md, issue 16). Instead a writer takes the Updates queued
// at the moment it is free, runs each in a savepoint of one transaction,
// appends all their audit records with one statement per log, and commits
// once. Each caller still returns only after that commit, so a nil error
// still means durable, and a failing (or panicking) fn rolls back to its
// savepoint and leaves the others untouched. A group's Updates run one at a
// time in arrival order, so they see each other exactly as if serial.
//
// Writers (Options.Writers) run groups side by side, so one group's commit
// overlaps the next group's statements; groups of different writers and of
// other replicas serialize where they lock the same rows, as transactions
// always did.

// maxGroup bounds one group. PostgreSQL keeps up to 64 subtransaction ids
// of a transaction in shared memory; past that every other session's
// snapshots must look them up on disk, so a group stays under it.
const maxGroup = 48

// maxTalking bounds the members of one group that wait for the database
// (a statement of their own, not only audit records and notifications for
// the COMMIT). Every member waits for the commit, so for all the members
// after it: a group that took in each Update arriving while it ran held
// its first members for dozens of round trips, while the other writers
// sat idle between their own groups. Closing a group after this many
// such members, with one writer more (Options.Writers), took the workflow
// from 1,340–1,560 to 1,400–1,930 steps/s (median 1,780) at 32 clients on
// 2 cores (docs/benchmarks.md, "Fifth pass"); members that only append cost no
// wait and still join by the dozen, so concurrent appends keep their
// large groups.
const maxTalking = 8

// errClosed answers an Update on a closed store.
var errClosed = errors.New("postgres: store is closed")

// Update runs fn in one read-write transaction (READ COMMITTED) and commits
// when fn returns nil; fn's error is returned unchanged. fn shares its
// transaction with other Updates of this Store, each in a savepoint of its
// own (see the top of this file): it must not call Update on the same Store
// (it would wait for itself), and it should not wait for anything but the
// database.
func (s *Store) Update(ctx context.Context, fn func(lockbox.Tx) error) error {
	if err := s.inStep(); err != nil {
		return err
	}
	return s.queue.Submit(ctx, fn)
}

// writeLoop is one writer. It runs a group only while the gate has room
// for it, and ends when the store closes.
func (s *Store) writeLoop() {
	defer s.writers.Done()
	lastGroup := 1
	for s.gate.enter() {
		req := s.queue.Next()
		if req == nil {
			s.gate.leave()
			return
		}
		lastGroup = s.runGroup(req, lastGroup)
		s.gate.leave()
		s.recountReplicas()
	}
}

// runGroup runs first, and every Update that arrives while the group runs,
// in one transaction (or, when a member meets a lock held elsewhere, a few
// in turn: writeGroup.split), commits, tells each caller, and returns the
// group's size.
func (s *Store) runGroup(first *groupcommit.Request, lastGroup int) int {
	g := &writeGroup{s: s, reqs: []*groupcommit.Request{first}, ids: map[string]int{}}
	defer g.settle()
	s.groups.Add(1)
	bg := context.Background()
	conn, err := s.db.Conn(bg)
	if err != nil {
		g.results = append(g.results, groupcommit.Result{Err: wrap("begin", err)})
		return 1
	}
	defer conn.Close()
	g.conn = conn
	if err := g.begin(); err != nil {
		g.results = append(g.results, groupcommit.Result{Err: err})
		return 1
	}
	last := time.Now() // of the latest arrival
	for i := 0; i < len(g.reqs) && g.broken == nil; i++ {
		g.results = append(g.results, g.run(i, g.reqs[i]))
		if g.talking < maxTalking {
			// Room for maxTalking more that may talk, besides those that
			// ran quiet: appenders still gather by the dozen.
			quiet := len(g.results) - g.talking
			g.reqs = s.queue.Gather(g.reqs, i+1, lastGroup, min(maxGroup, quiet+maxTalking), &last)
		}
	}
	g.commit(len(g.results))
	return len(g.reqs)
}

// writeGroup is one group's transaction.
type writeGroup struct {
	s    *Store
	conn *sql.Conn
	reqs []*groupcommit.Request
	// results holds the outcome of each member run so far; members before
	// from have been told theirs (sent), being in a transaction that has
	// ended (split).
	results    []groupcommit.Result
	from, sent int
	// savepoint says where the savepoint named m stands: none open;
	// open with nothing after it (a member rolled back to it, so the next
	// member may use it as it is); or kept, holding a member's writes,
	// to be released by the next member that writes.
	savepoint savepointState
	// waitLess is set once the transaction holds a member's writes or
	// locks: from then on a statement waits for a lock only briefly
	// (lockWait), then the group splits.
	waitLess bool
	// bounded is set once take has cut the transaction's lock waits short
	// (lockWait); it lasts to the end of the transaction.
	bounded bool
	// broken is set when the transaction can no longer be used (the
	// connection failed, or a rollback to a savepoint did): the members
	// not yet run are not run, and the group does not commit.
	broken error
	// pending is the audit records of the members that succeeded, in
	// their order; ids says which member queued each record id.
	pending []*lockbox.AuditRecord
	ids     map[string]int
	// outbox and outboxIDs are the same for the members' notifications.
	outbox    []*lockbox.OutboxMessage
	outboxIDs map[string]int
	// writes are the waiting writes of the members that succeeded
	// (later.go), for the next round trip.
	writes []laterWrite
	// talking counts the members that made statements (maxTalking).
	talking int
	// begun is set once BEGIN is sent (begin).
	begun bool
	// hooksOff and usersOff are set once a member changed a webhook or an
	// account: the members after it see that change before it is
	// committed, so they must neither use nor fill the Store's cache of
	// such lists (listcache.go).
	hooksOff, usersOff bool
}

// lockWait is how long a member's statement waits for a row lock held by
// another transaction while the group holds other members' locks. Waiting
// longer could close a cycle: this group waits for a row another group (a
// second writer, another replica) holds, which waits for one this group's
// earlier member holds. PostgreSQL would break it only after
// deadlock_timeout (1 s) by failing one of them. Instead the member gives
// up its place and the group splits (split).
const lockWait = "10ms"

type savepointState int

const (
	noSavepoint savepointState = iota
	emptySavepoint
	keptSavepoint
)

// run runs member i, req, in a savepoint, which is taken only when its fn
// makes its first statement: an Update that only appends audit records
// costs the group no round trip at all.
//
// A member that found a row locked by another transaction while this one
// held earlier members' locks (lockWait), or whose statement must see a
// record or message an earlier member queued (seeEarlier, auditlog.go), is
// run again, once, as the first member of a new transaction (split): there
// it may wait as long as any lone transaction would, and the earlier
// members' records and messages are committed. Its first run changed nothing: it was rolled back
// to its savepoint (lockbox.Store.Update says fn must allow this).
func (g *writeGroup) run(i int, req *groupcommit.Request) groupcommit.Result {
	if err := req.Ctx.Err(); err != nil {
		return groupcommit.Result{Err: err}
	}
	res, again := g.attempt(i, req)
	if again && i > g.from && g.broken == nil && g.split(i) == nil {
		res, _ = g.attempt(i, req)
	}
	return res
}

// attempt runs member i's fn once, and says whether it failed in a way a
// run at the front of a new transaction would not (run).
func (g *writeGroup) attempt(i int, req *groupcommit.Request) (groupcommit.Result, bool) {
	res, again := g.call(i, req)
	return res, again || res.Err != nil && lockTimedOut(res.Err)
}

// call runs member i's fn once. A member whose statement must see what an
// earlier member queued (seeEarlier) fails, whatever fn made of the
// statement's error, and is to run again (true).
func (g *writeGroup) call(i int, req *groupcommit.Request) (groupcommit.Result, bool) {
	q := &memberQuerier{g: g}
	t := &tx{tx: q, update: true}
	if !g.hooksOff {
		t.hooks = &g.s.hooks
	}
	if !g.usersOff {
		t.users = &g.s.users
	}
	res := req.Call(t)
	if q.started {
		g.talking++
	}
	g.hooksOff = g.hooksOff || t.memo.hooks.wrote
	g.usersOff = g.usersOff || t.memo.users.wrote
	again := q.again && res.Panic == nil
	if again {
		res.Err = errAfterEarlier
	}
	if res.OK() {
		res.Err = g.checkMember(q, t)
	}
	if !res.OK() {
		if q.started {
			g.rollbackMember()
		}
		return res, again
	}
	for _, rec := range t.pending {
		g.ids[rec.ID] = i
	}
	g.pending = append(g.pending, t.pending...)
	for _, m := range t.outbox {
		g.outboxIDs[m.ID] = i
	}
	g.outbox = append(g.outbox, t.outbox...)
	g.writes = append(g.writes, q.writes...)
	if q.started {
		g.savepoint, g.waitLess = keptSavepoint, true
	}
	return res, false
}

// checkMember refuses a member that returned nil from a failed
// transaction (it ignored a statement's error: PostgreSQL would refuse
// the commit of the whole group), or that queued an audit record id or an
// outbox message id another member of the group queued.
func (g *writeGroup) checkMember(q *memberQuerier, t *tx) error {
	if q.started && g.txStatus() == 'E' {
		return wrap("update", errors.New("a statement failed and the transaction was carried on regardless"))
	}
	for _, rec := range t.pending {
		if _, ok := g.ids[rec.ID]; ok {
			return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
		}
	}
	for _, m := range t.outbox {
		if _, ok := g.outboxIDs[m.ID]; ok {
			return lockbox.Errorf(lockbox.ECONFLICT, "Outbox message %q already exists.", m.ID)
		}
	}
	return nil
}

// txStatus is the connection's transaction status as the server last
// reported it: 'T' in a transaction, 'E' in a failed one.
func (g *writeGroup) txStatus() byte {
	var status byte = 'E'
	_ = g.conn.Raw(func(dc any) error {
		status = dc.(*stdlib.Conn).Conn().PgConn().TxStatus()
		return nil
	})
	return status
}

// rollbackMember undoes the writes of the member that just ran.
func (g *writeGroup) rollbackMember() {
	if _, err := g.conn.ExecContext(context.Background(), `ROLLBACK TO SAVEPOINT m`); err != nil {
		g.broken = wrap("rollback to savepoint", err)
		return
	}
	g.savepoint = emptySavepoint
}

// beginSQL starts a group's transaction.
const beginSQL = `BEGIN ISOLATION LEVEL READ COMMITTED`

// begin starts a transaction on the group's connection. BEGIN itself goes
// with the transaction's first statements (take, or commit when no member
// made any): sent alone, it cost every group a round trip of its own,
// and three replicas of one busy tenant run small groups (issue 16).
func (g *writeGroup) begin() error {
	if err := prepareGroup(g.conn); err != nil {
		return wrap("prepare", err)
	}
	g.begun = false
	g.savepoint, g.waitLess, g.bounded, g.hooksOff, g.usersOff = noSavepoint, false, false, false, false
	g.pending, g.ids = nil, map[string]int{}
	g.outbox, g.outboxIDs = nil, map[string]int{}
	g.writes = nil
	return nil
}

// split ends the transaction before member k, which was rolled back to
// its savepoint (run): it commits the members before k, tells them, and
// begins a new transaction for k and those after it.
func (g *writeGroup) split(k int) error {
	g.commit(k)
	g.from = k
	g.send(k)
	if err := g.begin(); err != nil {
		g.broken = err
		return err
	}
	return nil
}

// commit sends the outbox messages and audit appends of the members from
// g.from to end-1 and COMMIT in one round trip (commit, postgres.go), and
// settles each successful member's result.
func (g *writeGroup) commit(end int) {
	var err error
	if g.broken != nil {
		endTx(g.conn)
		err = g.broken
	} else {
		if err = commit(context.Background(), g.conn, !g.begun, g.writes, g.pending, g.outbox, g.waitLess); err == nil {
			if len(g.pending) > 0 {
				g.s.appended.Fire()
			}
			return
		}
	}
	conflicts := g.conflicting(err)
	for i := g.from; i < end; i++ {
		r := &g.results[i]
		if !r.OK() {
			continue
		}
		switch {
		case conflicts == nil:
			r.Err = err
		case conflicts[i] != "":
			r.Err = lockbox.Errorf(lockbox.ECONFLICT, "%s", conflicts[i])
		default:
			r.Err = lockbox.Errorf(lockbox.EUNAVAILABLE,
				"Another change committed together with this one was refused, so neither was saved; try again.")
		}
	}
}

// send tells the members before end their results.
func (g *writeGroup) send(end int) {
	for ; g.sent < end; g.sent++ {
		g.reqs[g.sent].Reply(g.results[g.sent])
	}
}

// settle tells every member its result, those not run that the group was
// aborted.
func (g *writeGroup) settle() {
	for len(g.results) < len(g.reqs) {
		g.results = append(g.results, groupcommit.Result{Err: wrap("update", errors.New("the write group was aborted"))})
	}
	g.send(len(g.reqs))
}

// conflicting says, when the group's commit failed because an audit record
// id or an outbox message id was already stored, which members queued such
// ids and what to tell each (nil otherwise): they alone are told ECONFLICT.
// Ids are random (UUIDv7), so this is a caller reusing one on purpose; the
// others, whose work was lost with the group, are told to try again. The
// transaction has been rolled back by then: one read on the pool for each
// kind finds the ids.
func (g *writeGroup) conflicting(err error) map[int]string {
	if lockbox.ErrorCode(err) != lockbox.ECONFLICT {
		return nil
	}
	out := map[int]string{}
	if !g.stored(`SELECT id FROM audit_records WHERE id = ANY($1)`, g.ids, out,
		"An audit record with one of this change's ids already exists.") ||
		!g.stored(`SELECT id FROM outbox WHERE id = ANY($1)`, g.outboxIDs, out,
			"An outbox message with one of this change's ids already exists.") ||
		len(out) == 0 {
		return nil
	}
	return out
}

// stored sets msg in out for each member (ids: id → member) with an id
// query finds stored; false when it could not tell.
func (g *writeGroup) stored(query string, ids map[string]int, out map[int]string, msg string) bool {
	if len(ids) == 0 {
		return true
	}
	rows, err := g.s.db.QueryContext(context.Background(), query, slices.Collect(maps.Keys(ids)))
	if err != nil {
		return false
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return false
		}
		out[ids[id]] = msg
	}
	return rows.Err() == nil
}

// memberQuerier runs one member's statements on the group's connection,
// taking the member's savepoint before the first. Statements run without
// the caller's cancellation: pgx closes a connection whose query is
// cancelled mid-way, which would end every member's transaction, not just
// the caller's. The server's statement_timeout still bounds each.
type memberQuerier struct {
	g *writeGroup
	// started: the member's savepoint is taken; n counts its statements.
	started bool
	n       int
	// writes wait for the member's next round trip, or the group's
	// (later.go).
	writes []laterWrite
	// again: a statement of the member must see a record or message an
	// earlier member queued (seeEarlier); it is to run again.
	again bool
}

// begin takes the member's savepoint, releasing the last member's in the
// same round trip, and shortens lock waits once the transaction holds
// another member's locks.
func (q *memberQuerier) begin(ctx context.Context) error {
	stmts := q.take()
	if len(stmts) == 0 {
		return nil
	}
	if _, err := q.g.conn.ExecContext(ctx, strings.Join(stmts, "; ")); err != nil {
		q.g.broken = wrap("savepoint", err)
		return q.g.broken
	}
	return nil
}

// take marks the member started and returns the statements that take its
// savepoint (none when it was started already, or may use the one a
// member before it rolled back to), for begin to send on their own or
// readAhead with the member's first reads. Whoever sends them sets
// g.broken if they fail.
func (q *memberQuerier) take() []string {
	if q.started {
		return nil
	}
	q.started = true
	g := q.g
	var stmts []string
	if !g.begun {
		g.begun = true
		stmts = []string{beginSQL}
	}
	switch g.savepoint {
	case emptySavepoint:
		return stmts
	case keptSavepoint:
		stmts = append(stmts, `RELEASE SAVEPOINT m`)
		if g.waitLess {
			// SET LOCAL lasts to the end of the transaction; once set,
			// a rollback to a later savepoint keeps it.
			stmts = append(stmts, `SET LOCAL lock_timeout = '`+lockWait+`'`)
			g.bounded = true
		}
	}
	g.savepoint = emptySavepoint
	return append(stmts, `SAVEPOINT m`)
}

func (q *memberQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if err := q.sendFirst(ctx); err != nil {
		return nil, err
	}
	q.n++
	return q.g.conn.ExecContext(ctx, query, args...)
}

func (q *memberQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = context.WithoutCancel(ctx)
	if err := q.sendFirst(ctx); err != nil {
		return nil, err
	}
	q.n++
	return q.g.conn.QueryContext(ctx, query, args...)
}

// QueryRowContext cannot return begin's error itself: on a broken
// connection the query fails too, and its Row says so.
func (q *memberQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	_ = q.sendFirst(ctx)
	q.n++
	return q.g.conn.QueryRowContext(ctx, query, args...)
}

// startWriters starts opts' writers; when opts leaves their number to the
// Store, as many run at once as the replicas seen allow (replicas.go).
// Close stops them.
func (s *Store) startWriters(opts Options) {
	s.queue = groupcommit.NewQueue(errClosed)
	n := opts.writersAtMost()
	s.autoWriters = opts.Writers <= 0 && s.replicaPattern != ""
	s.gate = newGate(n)
	for range n {
		s.writers.Add(1)
		go s.writeLoop()
	}
}

// stopWriters fails queued Updates and waits for the writers' groups to
// end.
func (s *Store) stopWriters() {
	s.queue.Close()
	s.gate.close()
	s.writers.Wait()
	s.counters.Wait()
}
