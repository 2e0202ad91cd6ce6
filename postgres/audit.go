package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAudit queues rec for the log rec.Tenant; the record is written, and
// rec.Index set, when the transaction commits (flushAudit), in the same
// transaction as everything else fn did.
//
// Appends to one log serialize on the log's head row: it is read FOR UPDATE,
// so a second appender (another connection or replica) waits until this
// transaction ends and then reads the size it committed. Taking that lock at
// the end of the transaction instead of at the first append keeps a tenant's
// concurrent decisions from queueing behind each other's whole transactions.
// A rolled-back transaction writes nothing, so the log stays gap-free.
// ECONFLICT when a record with rec.ID is already stored or queued.
func (t *tx) AppendAudit(ctx context.Context, rec *lockbox.AuditRecord) error {
	if !t.update {
		return lockbox.Errorf(lockbox.EINTERNAL, "Audit records are appended only inside Update.")
	}
	if _, err := rec.Canonical(); err != nil {
		return wrap("append audit", err)
	}
	for _, p := range t.pending {
		if p.ID == rec.ID {
			return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
		}
	}
	var exists bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM audit_records WHERE id = $1)`, rec.ID).Scan(&exists)
	if err != nil {
		return wrap("append audit", err)
	}
	if exists {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
	}
	t.pending = append(t.pending, rec)
	return nil
}

// flushAudit writes the queued appends, log by log in name order (so two
// transactions appending to the same two logs cannot deadlock), each log's
// records in the order they were appended.
func (t *tx) flushAudit(ctx context.Context) error {
	byLog := map[string][]*lockbox.AuditRecord{}
	var logs []string
	for _, rec := range t.pending {
		if _, ok := byLog[rec.Tenant]; !ok {
			logs = append(logs, rec.Tenant)
		}
		byLog[rec.Tenant] = append(byLog[rec.Tenant], rec)
	}
	slices.Sort(logs)
	for _, log := range logs {
		for _, rec := range byLog[log] {
			if err := t.writeAudit(ctx, rec); err != nil {
				return err
			}
		}
	}
	t.pending = nil
	return nil
}

// writeAudit locks the log's head, stores rec at the next index with the
// Merkle hashes it completes, moves the head (size and edge), and sets
// rec.Index.
func (t *tx) writeAudit(ctx context.Context, rec *lockbox.AuditRecord) error {
	head, err := t.lockLogHead(ctx, rec.Tenant)
	if err != nil {
		return err
	}
	if err := head.fill(hashReader{ctx: ctx, t: t, log: rec.Tenant}); err != nil {
		return err
	}
	leaf := *rec
	leaf.Index = head.size
	canonical, err := leaf.Canonical()
	if err != nil {
		return wrap("append audit", err)
	}
	// The Merkle hashes this record completes are stored with it, in this
	// transaction, so the tree never lags the records (auditlog.go).
	hs, err := tlog.StoredHashes(leaf.Index, canonical, head)
	if err != nil {
		return fmt.Errorf("postgres: stored hashes of %s[%d]: %w", rec.Tenant, leaf.Index, err)
	}
	ok, err := t.insertAudit(ctx, &leaf, canonical, concatHashes(hs), head.next(hs))
	if err != nil {
		return err
	}
	if !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
	}
	rec.Index = leaf.Index
	return nil
}

// logHead is a log's head row: its size and the right edge of its tree
// (migrations/00006_audit_edge.sql).
type logHead struct {
	size int64
	edge []byte
}

// edgeLevels is how many levels the edge of a log of size n has: those l
// with n>>l > 0.
func edgeLevels(n int64) int { return bits.Len64(uint64(n)) }

// fill reads the edge from the records when the head row does not hold
// it: a log written before migration 00006, once.
func (h *logHead) fill(r hashReader) error {
	levels := edgeLevels(h.size)
	if len(h.edge) == levels*tlog.HashSize {
		return nil
	}
	indexes := make([]int64, levels)
	for l := range levels {
		indexes[l] = tlog.StoredHashIndex(l, h.size>>l-1)
	}
	hs, err := r.ReadHashes(indexes)
	if err != nil {
		return err
	}
	h.edge = concatHashes(hs)
	return nil
}

// next returns the edge after appending record h.size with stored hashes
// hs: hs[l] is the level-l node it completed, now the newest of levels
// 0..len(hs)-1; the levels above keep theirs.
func (h logHead) next(hs []tlog.Hash) []byte {
	out := concatHashes(hs)
	if len(hs) < edgeLevels(h.size+1) {
		out = append(out, h.edge[len(hs)*tlog.HashSize:]...)
	}
	return out
}

// ReadHashes makes a (filled) head the tlog.HashReader for appending to its
// log: StoredHashes asks only for edge nodes.
func (h logHead) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		level, node := tlog.SplitStoredHashIndex(idx)
		if level >= edgeLevels(h.size) || node != h.size>>level-1 {
			return nil, fmt.Errorf("postgres: hash %d is not on the edge of a log of size %d", idx, h.size)
		}
		copy(out[i][:], h.edge[level*tlog.HashSize:])
	}
	return out, nil
}

func concatHashes(hs []tlog.Hash) []byte {
	out := make([]byte, 0, len(hs)*tlog.HashSize)
	for _, h := range hs {
		out = append(out, h[:]...)
	}
	return out
}

// lockLogHead locks a log's head row, creating it for a log never written,
// and returns it: the size is the index of the next record.
func (t *tx) lockLogHead(ctx context.Context, log string) (logHead, error) {
	const lockHead = `SELECT size, edge FROM audit_logs WHERE log = $1 FOR UPDATE`
	var h logHead
	err := t.tx.QueryRowContext(ctx, lockHead, log).Scan(&h.size, &h.edge)
	if !errors.Is(err, sql.ErrNoRows) {
		return h, wrap("lock audit log", err)
	}
	// Two first appends may race here: the loser of the insert waits for
	// the winner's transaction and then locks the row it committed.
	_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES ($1, 0) ON CONFLICT DO NOTHING`, log)
	if err != nil {
		return h, wrap("create audit log", err)
	}
	err = t.tx.QueryRowContext(ctx, lockHead, log).Scan(&h.size, &h.edge)
	return h, wrap("lock audit log", err)
}

// insertAudit stores the canonical bytes with copies of the fields audit
// search filters on, and moves the head, in one statement. The time column
// holds the canonical (millisecond) time, so a search by time agrees with
// what the leaf says. It reports false, changing nothing, when the id is
// taken.
func (t *tx) insertAudit(ctx context.Context, rec *lockbox.AuditRecord, canonical, hashes, edge []byte) (bool, error) {
	return t.insert(ctx, "append audit", `WITH rec AS (
			INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id,
				actor_type, request_id, canonical, hashes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING 1)
		UPDATE audit_logs SET size = size + 1, edge = $12 WHERE log = $1 AND EXISTS (SELECT FROM rec)`,
		rec.Tenant, rec.Index, rec.ID, ts(rec.Time.Truncate(time.Millisecond)), rec.RecordType,
		rec.Operation, rec.UserID, rec.ActorType, rec.RequestID, canonical, hashes, edge)
}

// AuditRecords returns a log's records with start <= index < end, in index
// order, decoded from the stored canonical bytes.
func (t *tx) AuditRecords(ctx context.Context, log string, start, end int64) ([]*lockbox.AuditRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT canonical FROM audit_records
		WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit records", err)
	}
	out, err := sqlrows.Collect(rows, scanAuditRecord)
	return out, wrap("audit records", err)
}

// scanAuditRecord reads a row of the canonical column back into a record.
func scanAuditRecord(s scanner) (*lockbox.AuditRecord, error) {
	var b []byte
	if err := s.Scan(&b); err != nil {
		return nil, err
	}
	rec, err := lockbox.ParseAuditRecord(b)
	if err != nil {
		return nil, fmt.Errorf("stored record is not canonical JSON: %w", err)
	}
	return rec, nil
}

// AuditSize returns the number of records in a log (0 for a log never
// written).
func (t *tx) AuditSize(ctx context.Context, log string) (int64, error) {
	var size int64
	err := t.tx.QueryRowContext(ctx, `SELECT size FROM audit_logs WHERE log = $1`, log).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return size, wrap("audit size", err)
}
