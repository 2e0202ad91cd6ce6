package postgres

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/lockboxhq/lockbox"
)

// The sequencer gives committed, unsequenced audit records (flushAudit)
// their indexes, the way transparency-dev/tessera integrates entries: one
// transaction per log and batch locks the log's head row, reads every
// pending record in the order they were written, assigns the next indexes,
// stores each record's canonical bytes and Merkle hashes, moves the head
// and commits: one lock and one commit for the batch, where appending in
// the business transactions held the lock of a busy log from each append
// until its commit (WAL flush included), one transaction after another.
//
// Who sequences: after Update commits, it waits for a batch of this
// process that began after its commit (so one that sees its records), and
// every waiter that arrives while a batch runs joins the next one. Any
// number of processes may sequence one log at once: the head lock
// serializes their batches, and each reads the pending records only once
// it holds the lock, so it sees none that an earlier batch moved. Should a
// process stop between its commit and the batch (a crash, a lost database),
// the records stay pending, durable but not yet in the log: they are in no
// checkpoint, no proof and no search, and `audit verify` does not see them
// yet. The next batch of that log, in any process, takes them first; and
// `lockbox serve` sweeps every log with pending records twice a second
// (Options.SequenceEvery), so they are in the log, and in the next
// checkpoint, within a second of the database being back.
type sequencer struct {
	db *sql.DB
	mu sync.Mutex
	q  map[string]*logQueue // by log
	wg sync.WaitGroup       // running batches, for Close
}

// logQueue is one log's batches in this process.
type logQueue struct {
	running *batch // the batch under way, nil when none is
	next    *batch // the batch that starts when running ends: waiters join it
	// want holds the ids that waiters are waiting for, and the index each
	// got (-1 until a batch of this process gives it one).
	want map[string]int64
}

// batch is one sequencing transaction; done closes when it has ended.
type batch struct {
	done chan struct{}
	err  error
}

func newSequencer(db *sql.DB) *sequencer {
	return &sequencer{db: db, q: map[string]*logQueue{}}
}

// await waits until recs, committed, are sequenced, and sets their
// indexes. It returns an error only when the records could not be given
// their indexes now; they are committed all the same, and a later batch
// sequences them.
func (s *sequencer) await(ctx context.Context, recs []*lockbox.AuditRecord) error {
	byLog := map[string][]*lockbox.AuditRecord{}
	for _, rec := range recs {
		byLog[rec.Tenant] = append(byLog[rec.Tenant], rec)
	}
	for log, recs := range byLog {
		if err := s.awaitLog(ctx, log, recs); err != nil {
			return err
		}
	}
	return nil
}

func (s *sequencer) awaitLog(ctx context.Context, log string, recs []*lockbox.AuditRecord) error {
	s.mu.Lock()
	q := s.q[log]
	if q == nil {
		q = &logQueue{want: map[string]int64{}}
		s.q[log] = q
	}
	for _, rec := range recs {
		q.want[rec.ID] = -1
	}
	b := s.join(log, q)
	s.mu.Unlock()

	var err error
	select {
	case <-b.done:
		err = b.err
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	var missing []string
	for _, rec := range recs {
		if idx := q.want[rec.ID]; idx >= 0 {
			rec.Index = idx
		} else {
			missing = append(missing, rec.ID)
		}
		delete(q.want, rec.ID)
	}
	if q.running == nil && q.next == nil && len(q.want) == 0 {
		delete(s.q, log)
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	// Sequenced by another process (or by a batch of this one that ended
	// before these ids were registered): read the indexes it gave.
	return s.readIndexes(ctx, log, recs, missing)
}

// join returns a batch that begins after now: the next one if a batch is
// running (it may have read the pending records before the caller's
// commit), else a new one, started at once. s.mu is held.
func (s *sequencer) join(log string, q *logQueue) *batch {
	if q.running != nil {
		if q.next == nil {
			q.next = &batch{done: make(chan struct{})}
		}
		return q.next
	}
	b := &batch{done: make(chan struct{})}
	q.running = b
	s.wg.Add(1)
	go s.run(log, q, b)
	return b
}

// run runs batches of one log until no waiter is left. It uses its own
// context: one waiter giving up must not fail the batch of the others.
func (s *sequencer) run(log string, q *logQueue, b *batch) {
	defer s.wg.Done()
	for b != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		got, err := s.sequence(ctx, log)
		cancel()
		s.mu.Lock()
		for id, idx := range got {
			if _, ok := q.want[id]; ok {
				q.want[id] = idx
			}
		}
		b.err = err
		close(b.done)
		b, q.running, q.next = q.next, q.next, nil
		s.mu.Unlock()
	}
}

// sequenceBatch bounds the records one batch moves, so one transaction
// stays short after a long outage; the rest go in the next batches.
const sequenceBatch = 5000

// sequence runs batches of log until it has no pending record, and
// returns the indexes it gave, by record id.
func (s *sequencer) sequence(ctx context.Context, log string) (map[string]int64, error) {
	out := map[string]int64{}
	for {
		n, err := s.sequenceOnce(ctx, log, out)
		if err != nil || n < sequenceBatch {
			return out, err
		}
	}
}

// sequenceOnce is one batch: it moves up to sequenceBatch pending records
// of log to the next indexes, in one transaction, and reports how many.
func (s *sequencer) sequenceOnce(ctx context.Context, log string, out map[string]int64) (int, error) {
	sqlTx, err := s.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted})
	if err != nil {
		return 0, wrap("sequence audit log", err)
	}
	defer sqlTx.Rollback()
	t := &tx{tx: sqlTx, update: true}
	head, err := t.lockLogHead(ctx, log)
	if err != nil {
		return 0, err
	}
	// A statement of its own, after the lock: under READ COMMITTED it sees
	// everything an earlier holder of the lock committed, so no record is
	// sequenced twice.
	rows, err := sqlTx.QueryContext(ctx, `SELECT idx, canonical FROM audit_records
		WHERE log = $1 AND idx < 0 ORDER BY idx DESC LIMIT $2`, log, sequenceBatch)
	if err != nil {
		return 0, wrap("sequence audit log", err)
	}
	var olds, idxs []int64
	var canons, hashes [][]byte
	var ids []string
	for rows.Next() {
		var old int64
		var pending []byte
		if err := rows.Scan(&old, &pending); err != nil {
			rows.Close()
			return 0, wrap("sequence audit log", err)
		}
		rec, err := pendingRecord(pending)
		if err != nil {
			rows.Close()
			return 0, fmt.Errorf("postgres: log %s, pending record at %d: %w", log, old, err)
		}
		e, err := head.Append(rec)
		if err != nil {
			rows.Close()
			return 0, wrap("sequence audit log", err)
		}
		olds, idxs, ids = append(olds, old), append(idxs, e.Record.Index), append(ids, rec.ID)
		canons, hashes = append(canons, e.Canonical), append(hashes, e.Hashes)
	}
	if err := rows.Close(); err != nil {
		return 0, wrap("sequence audit log", err)
	}
	if err := rows.Err(); err != nil {
		return 0, wrap("sequence audit log", err)
	}
	if len(olds) == 0 {
		return 0, nil
	}
	// The records and the head move together, or not at all: the head
	// moves only if every record did.
	moved, err := sqlTx.ExecContext(ctx, `WITH moved AS (
			UPDATE audit_records a SET idx = u.idx, canonical = u.canonical, hashes = u.hashes
			FROM unnest($2::bigint[], $3::bigint[], $4::bytea[], $5::bytea[]) AS u(old, idx, canonical, hashes)
			WHERE a.log = $1 AND a.idx = u.old RETURNING 1)
		UPDATE audit_logs SET size = $6, edge = $7 WHERE log = $1 AND (SELECT count(*) FROM moved) = $8`,
		log, olds, idxs, canons, hashes, head.Size, head.EdgeBytes(), len(olds))
	if err := expectRow(moved, err, "sequence audit log", "Log %s changed while it was sequenced.", log); err != nil {
		return 0, err
	}
	if err := sqlTx.Commit(); err != nil {
		return 0, wrap("sequence audit log", err)
	}
	for i, id := range ids {
		out[id] = idxs[i]
	}
	return len(olds), nil
}

// pendingRecord decodes the canonical bytes of a pending record (index -1,
// flushAudit) and checks that encoding the record again gives those very
// bytes, so the leaf that gets an index is exactly what was committed.
func pendingRecord(b []byte) (*lockbox.AuditRecord, error) {
	rec, err := lockbox.ParseAuditRecord(b)
	if err != nil {
		return nil, err
	}
	again, err := rec.Canonical()
	if err != nil {
		return nil, err
	}
	if rec.Index != -1 || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("not the canonical encoding of a pending record")
	}
	return rec, nil
}

// readIndexes sets the indexes of recs named in missing from the database.
func (s *sequencer) readIndexes(ctx context.Context, log string, recs []*lockbox.AuditRecord, missing []string) error {
	rows, err := s.db.QueryContext(ctx, `SELECT id, idx FROM audit_records WHERE log = $1 AND id = ANY($2) AND idx >= 0`, log, missing)
	if err != nil {
		return wrap("read audit indexes", err)
	}
	defer rows.Close()
	got := map[string]int64{}
	for rows.Next() {
		var id string
		var idx int64
		if err := rows.Scan(&id, &idx); err != nil {
			return wrap("read audit indexes", err)
		}
		got[id] = idx
	}
	if err := rows.Err(); err != nil {
		return wrap("read audit indexes", err)
	}
	for _, rec := range recs {
		if idx, ok := got[rec.ID]; ok {
			rec.Index = idx
		}
	}
	if len(got) < len(missing) {
		return lockbox.Errorf(lockbox.EUNAVAILABLE, "Audit records of log %s are committed but not sequenced yet.", log)
	}
	return nil
}

// SequencePending sequences every log that has pending records: those of
// a process that stopped between its commit and its batch. `lockbox serve`
// runs it periodically (Options.SequenceEvery); it is safe at any time, in
// any number of processes.
func (s *Store) SequencePending(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT log FROM audit_records WHERE idx < 0`)
	if err != nil {
		return wrap("pending audit logs", err)
	}
	var logs []string
	for rows.Next() {
		var log string
		if err := rows.Scan(&log); err != nil {
			rows.Close()
			return wrap("pending audit logs", err)
		}
		logs = append(logs, log)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return wrap("pending audit logs", err)
	}
	for _, log := range logs {
		if _, err := s.seq.sequence(ctx, log); err != nil {
			return err
		}
	}
	return nil
}
