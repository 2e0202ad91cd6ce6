package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// This file is lockbox.AuditLogTx: audit search, the exact leaves, and the
// Merkle hashes that AppendAudit stores with each record (see
// migrations/00002_audit_log.sql for the layout).

// queryer is what reading the log needs: a transaction, or the writer pool's
// transaction during the backfill at Open.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// hashReader is tlog.HashReader over one log in one transaction.
type hashReader struct {
	ctx context.Context
	q   queryer
	log string
}

// ReadHashes finds each storage index in the row of the record that
// completed it: hash (level l, node n) is stored by record ((n+1)<<l)-1 at
// offset l of its hashes column.
func (r hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	rows := map[int64][]byte{}
	for i, idx := range indexes {
		level, n := tlog.SplitStoredHashIndex(idx)
		rec := (n+1)<<level - 1
		b, ok := rows[rec]
		if !ok {
			err := r.q.QueryRowContext(r.ctx, `SELECT hashes FROM audit_records WHERE log = ? AND idx = ?`, r.log, rec).Scan(&b)
			if err != nil {
				return nil, fmt.Errorf("sqlite: read hash %d of log %s (record %d): %w", idx, r.log, rec, err)
			}
			rows[rec] = b
		}
		if len(b) < (level+1)*tlog.HashSize {
			return nil, fmt.Errorf("sqlite: read hash %d of log %s: record %d stores %d bytes of hashes, want at least %d", idx, r.log, rec, len(b), (level+1)*tlog.HashSize)
		}
		copy(out[i][:], b[level*tlog.HashSize:])
	}
	return out, nil
}

// storedHashes returns the hashes record index of log stores: tlog's
// StoredHashes, concatenated.
func storedHashes(ctx context.Context, q queryer, log string, index int64, canonical []byte) ([]byte, error) {
	hs, err := tlog.StoredHashes(index, canonical, hashReader{ctx: ctx, q: q, log: log})
	if err != nil {
		return nil, fmt.Errorf("sqlite: stored hashes of %s[%d]: %w", log, index, err)
	}
	return concatHashes(hs), nil
}

// concatHashes is the hashes column: a record's stored hashes, level 0 first.
func concatHashes(hs []tlog.Hash) []byte {
	out := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

// ReadAuditHashes is tlog.HashReader.ReadHashes for log in this transaction.
func (t *tx) ReadAuditHashes(ctx context.Context, log string, indexes []int64) ([][32]byte, error) {
	hs, err := hashReader{ctx: ctx, q: t.tx, log: log}.ReadHashes(indexes)
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
		WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, log, start, end)
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
	where, args := auditWhere(q)
	query := searchQuery(where)
	rows, err := t.tx.QueryContext(ctx, query, append(args, q.Limit)...)
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
	err = sqlTx.QueryRowContext(ctx, `SELECT count(*) FROM audit_logs l JOIN audit_records r
		ON r.log = l.log AND r.idx = l.size - 1 WHERE length(r.hashes) = 0`).Scan(&missing)
	if err != nil || missing == 0 {
		return wrap("backfill audit hashes", err)
	}
	rows, err := sqlTx.QueryContext(ctx, `SELECT log, idx, canonical FROM audit_records
		WHERE length(hashes) = 0 ORDER BY log, idx`)
	if err != nil {
		return wrap("backfill audit hashes", err)
	}
	type pending struct {
		log       string
		idx       int64
		canonical []byte
	}
	todo, err := sqlrows.Collect(rows, func(s scanner) (pending, error) {
		var p pending
		err := s.Scan(&p.log, &p.idx, &p.canonical)
		return p, err
	})
	if err != nil || len(todo) == 0 {
		return wrap("backfill audit hashes", err)
	}
	for _, p := range todo {
		hs, err := storedHashes(ctx, sqlTx, p.log, p.idx, p.canonical)
		if err != nil {
			return err
		}
		if _, err := sqlTx.ExecContext(ctx, `UPDATE audit_records SET hashes = ? WHERE log = ? AND idx = ?`, hs, p.log, p.idx); err != nil {
			return wrap("backfill audit hashes", err)
		}
	}
	return wrap("backfill audit hashes", sqlTx.Commit())
}
