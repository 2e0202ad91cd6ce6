package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAudit queues rec for the log rec.Tenant. Just before the
// transaction commits, flushAudit stores it, durably and with everything
// else fn did, but without its index; once the transaction has committed,
// Update waits for the sequencer (sequencer.go) to give it the next index
// of its log and sets rec.Index. No lock is held for the log meanwhile, so
// concurrent transactions writing one log commit in parallel instead of one
// after another, and the sequencer folds their records into the Merkle tree
// a batch at a time. A rolled-back transaction stores nothing, so the log
// stays gap-free. ECONFLICT when a record with rec.ID is already queued
// or stored, and at commit when another transaction stored one meanwhile.
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
	// Refused here, the append fails alone and the transaction goes on
	// (storetest's conflict tests); flushAudit's unique key catches the
	// same id committed meanwhile by another transaction.
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

// maxPendingPerTx bounds the records of one transaction: the k-th is
// stored at -(xid << 16 | k) (migrations/00008_audit_sequencer.sql).
const maxPendingPerTx = 1 << 16

// flushAudit stores the queued records unsequenced, in one statement:
// each at a negative idx that orders it after every record of a
// transaction that committed before this one began, with canonical bytes
// that carry index -1 and no hashes yet. The unique id makes a duplicate
// a skipped row, so fewer rows than records means one was taken: ECONFLICT
// (Update then rolls back). It returns the records, now to be sequenced.
func (t *tx) flushAudit(ctx context.Context) ([]*lockbox.AuditRecord, error) {
	recs := t.pending
	t.pending = nil
	if len(recs) == 0 {
		return nil, nil
	}
	if len(recs) >= maxPendingPerTx {
		return nil, lockbox.Errorf(lockbox.EINTERNAL, "%d audit records in one transaction; at most %d.", len(recs), maxPendingPerTx-1)
	}
	n := len(recs)
	logs, ids, types, ops, users, actors, reqs := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	times, canon := make([]time.Time, n), make([][]byte, n)
	for i, rec := range recs {
		rec.Index = -1 // until sequenced
		c, err := rec.Canonical()
		if err != nil {
			return nil, wrap("append audit", err)
		}
		logs[i], ids[i], types[i], ops[i], users[i], actors[i], reqs[i] = rec.Tenant, rec.ID, rec.RecordType,
			rec.Operation, rec.UserID, rec.ActorType, rec.RequestID
		// The canonical (millisecond) time, so a search by time agrees with
		// what the leaf says.
		times[i], canon[i] = ts(rec.Time.Truncate(time.Millisecond)), c
	}
	stored, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type,
			request_id, canonical, hashes)
		SELECT u.log, -((pg_current_xact_id()::text::bigint << 16) | u.k), u.id, u.time, u.record_type, u.operation, u.user_id,
			u.actor_type, u.request_id, u.canonical, '\x'
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[],
			$7::text[], $8::text[], $9::bytea[]) WITH ORDINALITY
			AS u(log, id, time, record_type, operation, user_id, actor_type, request_id, canonical, k)
		ON CONFLICT DO NOTHING`, logs, ids, times, types, ops, users, actors, reqs, canon))
	if err != nil {
		return nil, wrap("append audit", err)
	}
	if stored != int64(n) {
		return nil, lockbox.Errorf(lockbox.ECONFLICT, "An audit record with one of the ids %s already exists.", strings.Join(ids, ", "))
	}
	return recs, nil
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
		WHERE log = $1 AND idx >= greatest($2::bigint, 0) AND idx < $3 ORDER BY idx`, log, start, end)
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
