package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// This file is lockbox.AuditLogTx: audit search, the exact leaves, and the
// Merkle hashes that AppendAudit stores with each record (see
// migrations/00002_audit_log.sql for the layout).

// errAfterEarlier is what an audit read of an Update returns when an
// earlier Update of its commit group staged a record the read could return
// (lockbox.AuditQuery.MayMatch). Staged records are rows only after the
// group's flush, so the read would miss a record of an Update committed
// before this one: a completion's access report would not count an
// operator action recorded just before it. The Update is rolled back, the
// earlier Updates' records are written, and it runs again (runSavepoint),
// whatever fn made of this error.
var errAfterEarlier = errors.New("sqlite: an earlier Update of this commit group appended records this read must see; the Update runs again after they are written")

// seeEarlier returns errAfterEarlier, and marks the Update to be run
// again, when q could return a record an earlier Update of the commit
// group staged; nil in a View.
func (t *tx) seeEarlier(q lockbox.AuditQuery) error {
	if t.logs == nil {
		return nil
	}
	for _, e := range t.logs.staged[:t.logs.mark] {
		if q.MayMatch(&e.Record) {
			t.logs.again = true
			return errAfterEarlier
		}
	}
	return nil
}

// seeEarlierIn is seeEarlier for a read of log by index.
func (t *tx) seeEarlierIn(log string) error { return t.seeEarlier(lockbox.AuditQuery{Log: log}) }

// queryer is what reading the log needs: a transaction, or the writer pool's
// transaction during the backfill at Open.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// hashRows reads the hashes column of records of one log (auditlog.HashRows),
// one indexed read a record: a point read costs SQLite no round trip.
func hashRows(ctx context.Context, q queryer, log string) auditlog.HashRows {
	return func(records []int64) (map[int64][]byte, error) {
		out := make(map[int64][]byte, len(records))
		for _, idx := range records {
			var b []byte
			err := q.QueryRowContext(ctx, `SELECT hashes FROM audit_records WHERE log = ? AND idx = ?`, log, idx).Scan(&b)
			switch {
			case errors.Is(err, sql.ErrNoRows): // not stored: auditlog says so
			case err != nil:
				return nil, fmt.Errorf("sqlite: read hashes of %s[%d]: %w", log, idx, err)
			default:
				out[idx] = b
			}
		}
		return out, nil
	}
}

// ReadAuditHashes is tlog.HashReader.ReadHashes for log in this transaction.
func (t *tx) ReadAuditHashes(ctx context.Context, log string, indexes []int64) ([][32]byte, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	hs, err := auditlog.StoredHashes(indexes, hashRows(ctx, t.tx, log))
	if err != nil {
		return nil, fmt.Errorf("sqlite: log %s: %w", log, err)
	}
	return hs, nil
}

// AuditLeaves returns the stored canonical bytes, untouched.
func (t *tx) AuditLeaves(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT idx, canonical FROM audit_records
		WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit leaves", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.LogEntry)
	if err != nil {
		return nil, wrap("audit leaves", err)
	}
	if out == nil {
		out = []lockbox.LogEntry{} // serves as [], not null
	}
	return out, nil
}

// SearchAudit walks audit_records_time (log, time DESC, idx DESC), so the
// newest page of a time window is one index range scan whatever the log's
// size; the other filters are checked on the rows it visits.
func (t *tx) SearchAudit(ctx context.Context, q lockbox.AuditQuery) ([]*lockbox.AuditRecord, error) {
	if err := t.seeEarlier(q); err != nil {
		return nil, err
	}
	where, args := auditWhere(q)
	query := searchQuery(where)
	rows, err := t.tx.QueryContext(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.AuditRecord)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	if out == nil {
		out = []*lockbox.AuditRecord{} // serves as [], not null
	}
	return out, nil
}

// SearchAuditLeaves is SearchAudit's scan, the bytes untouched. It serves
// the audit export, whose first page (no keyset yet) first empties the
// process's page caches (shrinkCaches).
func (t *tx) SearchAuditLeaves(ctx context.Context, q lockbox.AuditQuery) ([]lockbox.LogEntry, error) {
	if err := t.seeEarlier(q); err != nil {
		return nil, err
	}
	if q.BeforeTime == nil {
		if _, err := t.tx.ExecContext(ctx, shrinkCaches); err != nil {
			return nil, wrap("search audit", err)
		}
	}
	where, args := auditWhere(q)
	query := `SELECT idx, canonical FROM audit_records WHERE ` + where + ` ORDER BY time DESC, idx DESC LIMIT ?`
	rows, err := t.tx.QueryContext(ctx, query, append(args, q.Limit)...)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.LogEntry)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	return out, nil
}

// shrinkCaches empties the page caches of every connection of the
// process. The SQLite in modernc.org/sqlite is built with
// SQLITE_ENABLE_MEMORY_MANAGEMENT, so those caches are one group, with one
// budget (the sum of their cache_size) and one list of least recently used
// pages. A connection at its own cache_size takes the group's oldest page,
// whichever connection holds it; and while the group holds more than its
// budget, a page a connection unpins is freed rather than kept. So after
// readers take turns on a log bigger than the caches, one can end up
// holding the whole budget and another caching nothing: it reads the table
// from its root for every row, three read system calls a row against one
// for every four or five, until the first one's pages go, which nothing
// forces. An export beside another reader fell into this and ran at half
// speed (docs/benchmarks.md, "CSV export"; auditlog/internal/benchdb
// TestExportReadsEachPageOnce). The export's first page runs this, so its
// readers start from an even group; the other connections lose what they
// had cached (read again from the operating system's cache, a few hundred
// reads). A page cache per connection (sqlite.RegisterPageCache) would be
// the real fix, but with one registered this SQLite updates its page
// allocation statistics without the lock pcache1 would have set up: a data
// race the race detector reported in 20 of this store's and auditlog's
// tests.
const shrinkCaches = `PRAGMA shrink_memory`

func searchQuery(where string) string {
	return `SELECT canonical FROM audit_records WHERE ` + where + ` ORDER BY time DESC, idx DESC LIMIT ?`
}

// auditWhere builds the WHERE clause of q. Times are compared on the
// millisecond column, the precision of the canonical record.
func auditWhere(q lockbox.AuditQuery) (string, []any) {
	conds := []string{"log = ?"}
	args := []any{q.Log}
	if q.Start != nil {
		conds, args = append(conds, "time >= ?"), append(args, micros(*q.Start))
	}
	if q.End != nil {
		conds, args = append(conds, "time < ?"), append(args, micros(*q.End))
	}
	if q.BeforeTime != nil {
		// A row value, so the keyset is one range of audit_records_time.
		conds = append(conds, "(time, idx) < (?, ?)")
		args = append(args, micros(*q.BeforeTime), q.BeforeIndex)
	}
	conds, args = inList(conds, args, "operation", q.Operations)
	conds, args = inList(conds, args, "user_id", q.Users)
	if q.RequestID != "" {
		conds, args = append(conds, "request_id = ?"), append(args, q.RequestID)
	}
	if q.RecordType != "" {
		conds, args = append(conds, "record_type = ?"), append(args, q.RecordType)
	}
	return strings.Join(conds, " AND "), args
}

func inList(conds []string, args []any, col string, values []string) ([]string, []any) {
	if len(values) == 0 {
		return conds, args
	}
	conds = append(conds, col+" IN ("+strings.TrimSuffix(strings.Repeat("?,", len(values)), ",")+")")
	for _, v := range values {
		args = append(args, v)
	}
	return conds, args
}

// missingHashesQuery counts the logs whose last record has no hashes: one
// lookup by primary key per log. CROSS JOIN keeps audit_logs the outer
// loop; with a plain JOIN SQLite's planner scanned every record instead,
// which made each start of a 1M-record database seconds slower (P7 in
// docs/benchmarks.md).
const missingHashesQuery = `SELECT count(*) FROM audit_logs l CROSS JOIN audit_records r
	ON r.log = l.log AND r.idx = l.size - 1 WHERE length(r.hashes) = 0`

// backfillAuditHashes gives records appended before migration 00002 their
// stored hashes, in index order (each needs its predecessors'), in one
// transaction. Appends store hashes in index order and the backfill is all
// or nothing, so looking at each log's newest record tells whether there is
// anything to do: one indexed read per log, not a table scan at every start.
func backfillAuditHashes(ctx context.Context, db *sql.DB) error {
	sqlTx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return wrap("backfill audit hashes", err)
	}
	defer sqlTx.Rollback()
	var missing int
	err = sqlTx.QueryRowContext(ctx, missingHashesQuery).Scan(&missing)
	if err != nil || missing == 0 {
		return wrap("backfill audit hashes", err)
	}
	rows, err := sqlTx.QueryContext(ctx, `SELECT log, idx, canonical FROM audit_records
		WHERE length(hashes) = 0 ORDER BY log, idx`)
	if err != nil {
		return wrap("backfill audit hashes", err)
	}
	todo, err := sqlrows.Collect(rows, func(s scanner) (unhashed, error) {
		var u unhashed
		err := s.Scan(&u.log, &u.idx, &u.canonical)
		return u, err
	})
	if err != nil {
		return wrap("backfill audit hashes", err)
	}
	if err := backfill(ctx, sqlTx, todo); err != nil {
		return err
	}
	return wrap("backfill audit hashes", sqlTx.Commit())
}

// unhashed is a record stored without its hashes.
type unhashed struct {
	log       string
	idx       int64
	canonical []byte
}

// backfill stores the hashes of todo, in log and index order, appending
// each leaf to its log's head; a head is read from the records (those
// before it, already hashed or just backfilled) wherever todo skips.
func backfill(ctx context.Context, sqlTx *sql.Tx, todo []unhashed) error {
	var head auditlog.Head
	for i, u := range todo {
		if i == 0 || u.log != todo[i-1].log || u.idx != head.Size {
			var err error
			if head, err = auditlog.LoadHead(u.idx, nil, hashRows(ctx, sqlTx, u.log)); err != nil {
				return fmt.Errorf("sqlite: backfill audit hashes of log %s: %w", u.log, err)
			}
		}
		hs, err := head.AppendLeaf(u.canonical)
		if err != nil {
			return fmt.Errorf("sqlite: backfill audit hashes of %s[%d]: %w", u.log, u.idx, err)
		}
		if _, err := sqlTx.ExecContext(ctx, `UPDATE audit_records SET hashes = ? WHERE log = ? AND idx = ?`, hs, u.log, u.idx); err != nil {
			return wrap("backfill audit hashes", err)
		}
	}
	return nil
}

// bundleQuery reads a stored bundle, if the log has filled it: two point
// reads (TestQueryPlans).
const bundleQuery = `SELECT b.data FROM audit_bundles b JOIN audit_logs l ON l.log = b.log
	WHERE b.log = ? AND b.n = ? AND l.size >= (b.n + 1) * 256`

// AuditBundle returns log's stored full entry bundle n, or nil (256 is
// auditlog.BundleSize).
func (t *tx) AuditBundle(ctx context.Context, log string, n int64) ([]byte, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	var data []byte
	err := t.tx.QueryRowContext(ctx, bundleQuery, log, n).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return data, wrap("audit bundle", err)
}

// bundlesQuery reads a run of stored bundles: one range scan of the
// primary key (TestQueryPlans).
const bundlesQuery = `SELECT b.n, b.data FROM audit_bundles b JOIN audit_logs l ON l.log = b.log
	WHERE b.log = ? AND b.n >= ? AND b.n < ? AND l.size >= (b.n + 1) * 256 ORDER BY b.n`

// AppendAuditBundles appends the run of stored bundles from from on; see
// lockbox.AuditTx.
func (t *tx) AppendAuditBundles(ctx context.Context, dst []byte, log string, from, to int64) ([]byte, []int, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return dst, nil, err
	}
	rows, err := t.tx.QueryContext(ctx, bundlesQuery, log, from, to)
	if err != nil {
		return dst, nil, wrap("audit bundles", err)
	}
	dst, lens, err := sqlrows.AppendBundles(rows, dst, from)
	return dst, lens, wrap("audit bundles", err)
}

// FillAuditBundle stores log's full entry bundle n from its rows unless it
// is stored. The size it checks is the committed one (audit_logs): records
// staged by this commit group are not rows yet, and their bundles are
// written by the flush that writes them.
func (t *tx) FillAuditBundle(ctx context.Context, log string, n int64) error {
	if t.logs == nil {
		return lockbox.Errorf(lockbox.EINTERNAL, "Audit bundles are stored only inside Update.")
	}
	size, err := readAuditSize(ctx, t.tx, log)
	if err != nil || (n+1)*auditlog.BundleSize > size {
		return err
	}
	return t.storeBundle(ctx, log, n, `INSERT INTO audit_bundles (log, n, data) VALUES (?, ?, ?)
		ON CONFLICT (log, n) DO NOTHING`)
}

// storeBundle builds log's full bundle n from the rows this transaction
// sees and writes it with insert (log, n, data).
func (t *tx) storeBundle(ctx context.Context, log string, n int64, insert string) error {
	start := n * auditlog.BundleSize
	leaves, err := t.AuditLeaves(ctx, log, start, start+auditlog.BundleSize)
	if err != nil {
		return err
	}
	if len(leaves) != auditlog.BundleSize {
		return fmt.Errorf("sqlite: entry bundle %d of %s: %d of %d records", n, log, len(leaves), auditlog.BundleSize)
	}
	data, err := auditlog.EntryBundle(leaves)
	if err != nil {
		// A leaf too long for a bundle: none is stored, and serving it
		// from the rows reports why. It must not fail the append.
		return nil
	}
	_, err = t.tx.ExecContext(ctx, insert, log, n, data)
	return wrap("store audit bundle", err)
}
