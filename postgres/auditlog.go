package postgres

import (
	"context"
	"fmt"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// This file is lockbox.AuditLogTx: audit search, the exact leaves, and the
// Merkle hashes that AppendAudit stores with each record (see
// migrations/00002_audit_log.sql for the layout).

// hashReader is tlog.HashReader over one log in one transaction. Records
// below the log's head are committed before the head lock is released, so
// an appender holding the lock reads every hash it needs.
type hashReader struct {
	ctx context.Context
	t   *tx
	log string
}

// ReadHashes finds each storage index in the row of the record that
// completed it: hash (level l, node n) is stored by record ((n+1)<<l)-1 at
// offset l of its hashes column. All rows are read in one query.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	recs := make([]int64, len(indexes))
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		recs[i] = (n+1)<<level - 1
	}
	rows, err := r.t.tx.QueryContext(r.ctx, `SELECT idx, hashes FROM audit_records
		WHERE log = $1 AND idx = ANY($2)`, r.log, recs)
	if err != nil {
		return nil, wrap("read audit hashes", err)
	}
	defer rows.Close()
	stored := map[int64][]byte{}
	for rows.Next() {
		var idx int64
		var b []byte
		if err := rows.Scan(&idx, &b); err != nil {
			return nil, wrap("read audit hashes", err)
		}
		stored[idx] = b
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read audit hashes", err)
	}
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, _ := tlog.SplitStoredHashIndex(idx)
		b, ok := stored[recs[i]]
		if !ok {
			return nil, fmt.Errorf("postgres: read hash %d of log %s: record %d is not stored", idx, r.log, recs[i])
		}
		if len(b) < (level+1)*tlog.HashSize {
			return nil, fmt.Errorf("postgres: read hash %d of log %s: record %d stores %d bytes of hashes, want at least %d", idx, r.log, recs[i], len(b), (level+1)*tlog.HashSize)
		}
		copy(out[i][:], b[level*tlog.HashSize:])
	}
	return out, nil
}

// ReadAuditHashes is tlog.HashReader.ReadHashes for log in this transaction.
func (t *tx) ReadAuditHashes(ctx context.Context, log string, indexes []int64) ([][32]byte, error) {
	hs, err := hashReader{ctx: ctx, t: t, log: log}.ReadHashes(indexes)
	if err != nil {
		return nil, err
	}
	out := make([][32]byte, len(hs))
	for i, h := range hs {
		out[i] = h
	}
	return out, nil
}

// AuditLeaves returns the stored canonical bytes, untouched.
func (t *tx) AuditLeaves(ctx context.Context, log string, start, end int64) ([]lockbox.LogEntry, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT idx, canonical FROM audit_records
		WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit leaves", err)
	}
	out, err := sqlrows.Collect(rows, scanLogEntry)
	if err != nil {
		return nil, wrap("audit leaves", err)
	}
	if out == nil {
		out = []lockbox.LogEntry{} // serves as [], not null
	}
	return out, nil
}

func scanLogEntry(s scanner) (lockbox.LogEntry, error) {
	var e lockbox.LogEntry
	err := s.Scan(&e.Index, &e.Data)
	return e, err
}

// SearchAudit walks audit_records_time (log, time DESC, idx DESC), so the
// newest page of a time window is one index range scan whatever the log's
// size; the other filters are checked on the rows it visits.
func (t *tx) SearchAudit(ctx context.Context, q lockbox.AuditQuery) ([]*lockbox.AuditRecord, error) {
	w := auditWhere(q)
	query := `SELECT canonical FROM audit_records` + w.sql() + ` ORDER BY time DESC, idx DESC LIMIT ` + w.next()
	rows, err := t.tx.QueryContext(ctx, query, append(w.args, q.Limit)...)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	out, err := sqlrows.Collect(rows, scanAuditRecord)
	if err != nil {
		return nil, wrap("search audit", err)
	}
	if out == nil {
		out = []*lockbox.AuditRecord{} // serves as [], not null
	}
	return out, nil
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
