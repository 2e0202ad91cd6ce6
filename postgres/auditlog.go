package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// This file is lockbox.AuditLogTx: audit search, the exact leaves, and the
// Merkle hashes that AppendAudit stores with each record (see
// migrations/00002_audit_log.sql for the layout).

// errAfterEarlier is what a statement of a write group's member returns
// when an earlier member of the group queued an audit record the statement
// could read (lockbox.AuditQuery.MayMatch) or an outbox message it would
// delete (DeleteWebhook). A group's records and messages are written only
// with its COMMIT, so the statement would miss those of an Update
// committed before this one: a completion's access report would not count
// an operator action recorded just before it. The member is rolled back
// and run again at the front of a new transaction, after the earlier
// members have committed (writeGroup.run), whatever fn made of this error.
var errAfterEarlier = errors.New("postgres: an earlier Update of this write group queued rows this statement must see; the Update runs again after it")

// seeEarlier returns errAfterEarlier, and marks the member to be run
// again, when q could return a record an earlier member of the write group
// appended; nil outside a write group.
func (t *tx) seeEarlier(q lockbox.AuditQuery) error {
	return t.afterEarlier(func(g *writeGroup) bool { return slices.ContainsFunc(g.pending, q.MayMatch) })
}

// seeEarlierIn is seeEarlier for a read of log by index or size.
func (t *tx) seeEarlierIn(log string) error { return t.seeEarlier(lockbox.AuditQuery{Log: log}) }

// seeEarlierMessages is seeEarlier for a statement that must see the
// outbox messages an earlier member of the write group queued (match).
func (t *tx) seeEarlierMessages(match func(*lockbox.OutboxMessage) bool) error {
	return t.afterEarlier(func(g *writeGroup) bool { return slices.ContainsFunc(g.outbox, match) })
}

// afterEarlier marks a write group's member to be run again, and returns
// errAfterEarlier, when queued says the earlier members queued what it
// must see.
func (t *tx) afterEarlier(queued func(*writeGroup) bool) error {
	m, ok := t.tx.(*memberQuerier)
	if !ok || !queued(m.g) {
		return nil
	}
	m.again = true
	return errAfterEarlier
}

// hashRows reads the hashes column of records of one log
// (auditlog.HashRows), all in one query. Records below the log's head are
// committed before the head lock is released, so an appender holding the
// lock reads every hash it needs.
func (t *tx) hashRows(ctx context.Context, log string) auditlog.HashRows {
	return func(records []int64) (map[int64][]byte, error) {
		rows, err := t.tx.QueryContext(ctx, `SELECT idx, hashes FROM audit_records
			WHERE log = $1 AND idx = ANY($2)`, log, records)
		if err != nil {
			return nil, wrap("read audit hashes", err)
		}
		type row struct {
			idx    int64
			hashes []byte
		}
		found, err := sqlrows.Collect(rows, func(s scanner) (row, error) {
			var r row
			err := s.Scan(&r.idx, &r.hashes)
			return r, err
		})
		if err != nil {
			return nil, wrap("read audit hashes", err)
		}
		out := make(map[int64][]byte, len(found))
		for _, r := range found {
			out[r.idx] = r.hashes
		}
		return out, nil
	}
}

// ReadAuditHashes is tlog.HashReader.ReadHashes for log in this transaction.
func (t *tx) ReadAuditHashes(ctx context.Context, log string, indexes []int64) ([][32]byte, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	hs, err := auditlog.StoredHashes(indexes, t.hashRows(ctx, log))
	if err != nil {
		return nil, fmt.Errorf("postgres: log %s: %w", log, err)
	}
	return hs, nil
}

// AuditLeaves returns the stored canonical bytes, untouched.
func (t *tx) AuditLeaves(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT idx, canonical FROM audit_records
		WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, start, end)
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
// size; the other filters are checked on the rows it visits. A search by
// request walks audit_records_request_time instead (searchAuditSQL).
func (t *tx) SearchAudit(ctx context.Context, q lockbox.AuditQuery) ([]*lockbox.AuditRecord, error) {
	if err := t.seeEarlier(q); err != nil {
		return nil, err
	}
	w := auditWhere(q)
	rows, err := t.queryAudit(ctx, searchAuditSQL("canonical", w), append(w.args, q.Limit)...)
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

// SearchAuditLeaves is SearchAudit's scan, the bytes untouched.
func (t *tx) SearchAuditLeaves(ctx context.Context, q lockbox.AuditQuery) ([]lockbox.LogEntry, error) {
	if err := t.seeEarlier(q); err != nil {
		return nil, err
	}
	w := auditWhere(q)
	rows, err := t.tx.QueryContext(ctx, searchAuditSQL("idx, canonical", w), append(w.args, q.Limit)...)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.LogEntry)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	return out, nil
}

// searchAuditSQL selects columns of the records matching w, newest first,
// the limit its last argument. A search by request reads one range of
// audit_records_request_time (migration 00023), rows and order at once.
func searchAuditSQL(columns string, w *where) string {
	return `SELECT ` + columns + ` FROM audit_records` + w.sql() + ` ORDER BY time DESC, idx DESC LIMIT ` + w.next()
}

// auditWhere builds the conditions of q. Times are compared on the
// millisecond column, the precision of the canonical record.
func auditWhere(q lockbox.AuditQuery) *where {
	w := &where{}
	w.add("log = ?", q.Log)
	if q.Start != nil {
		w.add("time >= ?", ts(*q.Start))
	}
	if q.End != nil {
		w.add("time < ?", ts(*q.End))
	}
	if q.BeforeTime != nil {
		w.add("(time, idx) < (?, ?)", ts(*q.BeforeTime), q.BeforeIndex)
	}
	if len(q.Operations) > 0 {
		w.add("operation = ANY(?)", q.Operations)
	}
	if len(q.Users) > 0 {
		w.add("user_id = ANY(?)", q.Users)
	}
	if q.RequestID != "" {
		w.add("request_id = ?", q.RequestID)
	}
	if q.RecordType != "" {
		w.add("record_type = ?", q.RecordType)
	}
	return w
}

// AuditBundle returns log's stored full entry bundle n, or nil (256 is
// auditlog.BundleSize).
func (t *tx) AuditBundle(ctx context.Context, log string, n int64) ([]byte, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	var data []byte
	err := t.tx.QueryRowContext(ctx, `SELECT b.data FROM audit_bundles b JOIN audit_logs l ON l.log = b.log
		WHERE b.log = $1 AND b.n = $2 AND l.size >= (b.n + 1) * 256`, log, n).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return data, wrap("audit bundle", err)
}

// FillAuditBundle stores log's full entry bundle n from its rows unless it
// is stored, with the function the append's trigger uses
// (migrations/00018_audit_bundles.sql). A log's rows are committed with its
// size, so 256 rows there mean the log has filled the bundle.
func (t *tx) FillAuditBundle(ctx context.Context, log string, n int64) error {
	if !t.update {
		return lockbox.Errorf(lockbox.EINTERNAL, "Audit bundles are stored only inside Update.")
	}
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_bundles (log, n, data)
		SELECT $1, $2, data FROM (SELECT lockbox_audit_bundle($1, $2) AS data) b WHERE data IS NOT NULL
		ON CONFLICT (log, n) DO NOTHING`, log, n)
	return wrap("store audit bundle", err)
}
