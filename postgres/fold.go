package postgres

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/groupcommit"
)

// The audit log's records parked while its head was busy
// (migrations/00025_audit_pending.sql) are folded into the log here. A
// write group whose append found the head held elsewhere commits without
// waiting for it; each of its Updates that parked records then waits, out
// of the writer, until a fold has given them their indexes. One fold per
// log runs at a time in a process; Updates whose commits end while it runs
// wait for the next, which folds all of them in one transaction. Folds of
// different replicas serialize on the head, and a fold that finds nothing
// parked any more (another one moved its records) does not wait for it.

// foldEvery is how often a Store folds every log that has parked records,
// for those a replica left behind when it stopped between its commit and
// its fold: with the checkpoint published within a second of the append
// (auditlog), such a record is in the log well within that too.
const foldEvery = 500 * time.Millisecond

// foldTries bounds the attempts at one fold; foldTimeout bounds each.
const (
	foldTries   = 3
	foldTimeout = 10 * time.Second
)

// folder runs a Store's folds.
type folder struct {
	s        *Store
	mu       sync.Mutex
	logs     map[string][]*foldWait // the waits for each log's next fold
	runs     sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
	// off, for tests: the Store stops after its commits, as if it had
	// crashed before folding (SkipFolds).
	off atomic.Bool
}

// foldWait is an Update's records parked in one log; done is called once
// the fold that saw them has ended.
type foldWait struct {
	recs []*lockbox.AuditRecord
	done func()
}

func (f *folder) start(s *Store) {
	f.s, f.logs, f.stop = s, map[string][]*foldWait{}, make(chan struct{})
	f.runs.Add(1)
	go f.sweep()
}

// close stops the sweep and waits for the folds under way (a second
// close, of a closed Store, only waits).
func (f *folder) close() {
	f.stopOnce.Do(func() { close(f.stop) })
	f.runs.Wait()
}

// await replies res to req once its parked records (log → records) are
// folded. The Update committed: even a fold that fails replies res, and
// the records are folded by the next append or sweep, their Index left at
// -1 (lockbox.Store.AppendAudit).
func (f *folder) await(parked map[string][]*lockbox.AuditRecord, req *groupcommit.Request, res groupcommit.Result) {
	var left atomic.Int32
	left.Store(int32(len(parked)))
	done := func() {
		if left.Add(-1) == 0 {
			req.Reply(res)
		}
	}
	for log, recs := range parked {
		f.add(log, &foldWait{recs: recs, done: done})
	}
}

// add queues w for log's next fold, and starts the fold if none runs.
func (f *folder) add(log string, w *foldWait) {
	f.mu.Lock()
	defer f.mu.Unlock()
	waits, running := f.logs[log]
	f.logs[log] = append(waits, w)
	if !running {
		f.runs.Add(1)
		go f.run(log)
	}
}

// run folds log until no Update waits for it.
func (f *folder) run(log string) {
	defer f.runs.Done()
	for {
		f.mu.Lock()
		waits := f.logs[log]
		if len(waits) == 0 {
			delete(f.logs, log)
			f.mu.Unlock()
			return
		}
		f.logs[log] = waits[:0:0]
		f.mu.Unlock()
		f.fold(log, waits)
		for _, w := range waits {
			w.done()
		}
	}
}

// fold runs lockbox_audit_fold for log and sets the Index of the waits'
// records.
func (f *folder) fold(log string, waits []*foldWait) {
	byID := map[string]*lockbox.AuditRecord{}
	ids := []string{}
	for _, w := range waits {
		for _, rec := range w.recs {
			rec.Index = -1
			byID[rec.ID] = rec
			ids = append(ids, rec.ID)
		}
	}
	if f.off.Load() {
		return
	}
	var err error
	for try := range foldTries {
		if try > 0 {
			time.Sleep(time.Duration(try) * 100 * time.Millisecond)
		}
		if err = f.foldOnce(log, ids, byID); err == nil {
			f.s.appended.Fire()
			return
		}
	}
	// No secret here: a log name and the database's error.
	slog.Error("postgres: audit records parked in a committed transaction could not be folded into their log; the next append or sweep will",
		"log", log, "records", len(ids), "err", err)
}

func (f *folder) foldOnce(log string, ids []string, byID map[string]*lockbox.AuditRecord) error {
	ctx, cancel := context.WithTimeout(context.Background(), foldTimeout)
	defer cancel()
	rows, err := f.s.db.QueryContext(ctx, `SELECT id, idx FROM lockbox_audit_fold($1, $2)`, log, ids)
	if err != nil {
		return wrap("fold audit", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var idx int64
		if err := rows.Scan(&id, &idx); err != nil {
			return wrap("fold audit", err)
		}
		if rec := byID[id]; rec != nil {
			rec.Index = idx
		}
	}
	return wrap("fold audit", rows.Err())
}

// sweep folds, every foldEvery, each log with parked records.
func (f *folder) sweep() {
	defer f.runs.Done()
	t := time.NewTicker(foldEvery)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		if f.off.Load() {
			continue
		}
		for _, log := range f.parkedLogs() {
			f.add(log, &foldWait{done: func() {}})
		}
	}
}

// parkedLogs lists the logs with parked records (none when it cannot
// tell: the next sweep asks again).
func (f *folder) parkedLogs() []string {
	ctx, cancel := context.WithTimeout(context.Background(), foldTimeout)
	defer cancel()
	rows, err := f.s.db.QueryContext(ctx, `SELECT DISTINCT log FROM audit_pending`)
	if err != nil {
		return nil
	}
	defer rows.Close()
	var logs []string
	for rows.Next() {
		var log string
		if rows.Scan(&log) != nil {
			return nil
		}
		logs = append(logs, log)
	}
	return logs
}
