package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
)

// AppendAudit appends rec to the log rec.Tenant and sets rec.Index.
//
// Appends to one log serialize on the log's head row: it is read FOR UPDATE,
// so a second appender (another connection or replica) waits until this
// transaction ends and then reads the size it committed. The record and the
// bumped size are written by one statement in the same transaction, so a
// rolled-back append gives its index back and the log stays gap-free.
// ECONFLICT when a record with rec.ID is already stored (the head is then
// left unchanged and the transaction usable).
func (t *tx) AppendAudit(ctx context.Context, rec *lockbox.AuditRecord) error {
	index, err := t.lockLogHead(ctx, rec.Tenant)
	if err != nil {
		return err
	}
	leaf := *rec
	leaf.Index = index
	canonical, err := leaf.Canonical()
	if err != nil {
		return wrap("append audit", err)
	}
	// The Merkle hashes this record completes are stored with it, in this
	// transaction, so the tree never lags the records (auditlog.go).
	hashes, err := t.storedHashes(ctx, rec.Tenant, index, canonical)
	if err != nil {
		return err
	}
	ok, err := t.insertAudit(ctx, &leaf, canonical, hashes)
	if err != nil {
		return err
	}
	if !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
	}
	rec.Index = index
	return nil
}

// lockLogHead locks a log's head row, creating it for a log never written,
// and returns the log's size: the index of the next record.
func (t *tx) lockLogHead(ctx context.Context, log string) (int64, error) {
	const lockHead = `SELECT size FROM audit_logs WHERE log = $1 FOR UPDATE`
	var size int64
	err := t.tx.QueryRowContext(ctx, lockHead, log).Scan(&size)
	if !errors.Is(err, sql.ErrNoRows) {
		return size, wrap("lock audit log", err)
	}
	// Two first appends may race here: the loser of the insert waits for
	// the winner's transaction and then locks the row it committed.
	_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES ($1, 0) ON CONFLICT DO NOTHING`, log)
	if err != nil {
		return 0, wrap("create audit log", err)
	}
	err = t.tx.QueryRowContext(ctx, lockHead, log).Scan(&size)
	return size, wrap("lock audit log", err)
}

// insertAudit stores the canonical bytes with copies of the fields audit
// search filters on, and bumps the head, in one statement. The time column
// holds the canonical (millisecond) time, so a search by time agrees with
// what the leaf says. It reports false, changing nothing, when the id is
// taken.
func (t *tx) insertAudit(ctx context.Context, rec *lockbox.AuditRecord, canonical, hashes []byte) (bool, error) {
	return t.insert(ctx, "append audit", `WITH rec AS (
			INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id,
				actor_type, request_id, canonical, hashes)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING RETURNING 1)
		UPDATE audit_logs SET size = size + 1 WHERE log = $1 AND EXISTS (SELECT FROM rec)`,
		rec.Tenant, rec.Index, rec.ID, ts(rec.Time.Truncate(time.Millisecond)), rec.RecordType,
		rec.Operation, rec.UserID, rec.ActorType, rec.RequestID, canonical, hashes)
}

// AuditRecords returns a log's records with start <= index < end, in index
// order, decoded from the stored canonical bytes.
func (t *tx) AuditRecords(ctx context.Context, log string, start, end int64) ([]*lockbox.AuditRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT canonical FROM audit_records
		WHERE log = $1 AND idx >= $2 AND idx < $3 ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit records", err)
	}
	defer rows.Close()
	var out []*lockbox.AuditRecord
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return nil, wrap("audit records", err)
		}
		rec, err := lockbox.ParseAuditRecord(b)
		if err != nil {
			return nil, wrap("audit records: stored record is not canonical JSON", err)
		}
		out = append(out, rec)
	}
	return out, wrap("audit records", rows.Err())
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
