package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
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
	for _, rec := range t.pending {
		byLog[rec.Tenant] = append(byLog[rec.Tenant], rec)
	}
	for _, log := range slices.Sorted(maps.Keys(byLog)) {
		if err := t.writeAudit(ctx, log, byLog[log]); err != nil {
			return err
		}
	}
	t.pending = nil
	return nil
}

// writeAudit locks the log's head row, then stores the records at the
// next indexes with the Merkle hashes they complete, and the head after
// them, in one statement, and sets each rec.Index. The head is read once:
// the lock keeps it ours until the transaction ends. One statement for all
// of the log's records of this transaction keeps the section that holds
// the lock (lock, write, commit) at three round trips however many records
// a step appends.
func (t *tx) writeAudit(ctx context.Context, log string, recs []*lockbox.AuditRecord) error {
	head, err := t.lockLogHead(ctx, log)
	if err != nil {
		return err
	}
	n := len(recs)
	idxs, canon, hashes := make([]int64, n), make([][]byte, n), make([][]byte, n)
	ids, types, ops, users, actors, reqs := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	times := make([]time.Time, n)
	for i, rec := range recs {
		// The Merkle hashes this record completes are stored with it, in
		// this transaction, so the tree never lags the records.
		e, err := head.Append(rec)
		if err != nil {
			return wrap("append audit", err)
		}
		idxs[i], canon[i], hashes[i] = e.Record.Index, e.Canonical, e.Hashes
		ids[i], types[i], ops[i], users[i], actors[i], reqs[i] = rec.ID, rec.RecordType, rec.Operation,
			rec.UserID, rec.ActorType, rec.RequestID
		// The canonical (millisecond) time, so a search by time agrees
		// with what the leaf says.
		times[i] = ts(rec.Time.Truncate(time.Millisecond))
	}
	// The head moves only if every record was stored: a taken id skips its
	// row (ON CONFLICT DO NOTHING), the count falls short, nothing is
	// updated, and Update rolls the transaction back.
	moved, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `WITH rec AS (
			INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id,
				actor_type, request_id, canonical, hashes)
			SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::timestamptz[], $5::text[], $6::text[],
				$7::text[], $8::text[], $9::text[], $10::bytea[], $11::bytea[]) AS u
			ON CONFLICT DO NOTHING RETURNING 1)
		UPDATE audit_logs SET size = $12, edge = $13 WHERE log = $1 AND (SELECT count(*) FROM rec) = $14`,
		log, idxs, ids, times, types, ops, users, actors, reqs, canon, hashes, head.Size, head.EdgeBytes(), n))
	if err != nil {
		return wrap("append audit", err)
	}
	if moved != 1 {
		return lockbox.Errorf(lockbox.ECONFLICT, "An audit record with one of the ids %s already exists.", strings.Join(ids, ", "))
	}
	for i, rec := range recs {
		rec.Index = idxs[i]
	}
	return nil
}

// lockLogHead locks a log's head row (migrations/00006_audit_edge.sql),
// creating it for a log never written, and returns the head it holds. A
// row without the edge (a log written before 00006) gets it from the
// records, once: the next append stores it.
func (t *tx) lockLogHead(ctx context.Context, log string) (auditlog.Head, error) {
	const lockHead = `SELECT size, edge FROM audit_logs WHERE log = $1 FOR UPDATE`
	var size int64
	var edge []byte
	err := t.tx.QueryRowContext(ctx, lockHead, log).Scan(&size, &edge)
	if errors.Is(err, sql.ErrNoRows) {
		// Two first appends may race here: the loser of the insert waits
		// for the winner's transaction and then locks the row it committed.
		_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES ($1, 0) ON CONFLICT DO NOTHING`, log)
		if err != nil {
			return auditlog.Head{}, wrap("create audit log", err)
		}
		err = t.tx.QueryRowContext(ctx, lockHead, log).Scan(&size, &edge)
	}
	if err != nil {
		return auditlog.Head{}, wrap("lock audit log", err)
	}
	head, err := auditlog.LoadHead(size, edge, t.hashRows(ctx, log))
	if err != nil {
		return auditlog.Head{}, fmt.Errorf("postgres: head of log %s: %w", log, err)
	}
	return head, nil
}

// AuditRecords returns a log's records with start <= index < end, in index
// order, decoded from the stored canonical bytes.
func (t *tx) AuditRecords(ctx context.Context, log string, start, end int64) ([]*lockbox.AuditRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT canonical FROM audit_records
		WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit records", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.AuditRecord)
	return out, wrap("audit records", err)
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
