package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAudit appends rec to the log rec.Tenant and sets rec.Index. Appends
// serialize because Update transactions do (one writer, BEGIN IMMEDIATE).
// The record is staged in the commit group's audit state (loghead.go) and
// written, with the log's new size, just before the group commits; a
// rolled-back append gives its index back and the log stays gap-free.
// ECONFLICT when a record with rec.ID is already stored or staged.
func (t *tx) AppendAudit(ctx context.Context, rec *lockbox.AuditRecord) error {
	if t.logs == nil {
		return lockbox.Errorf(lockbox.EINTERNAL, "Audit records are appended only inside Update.")
	}
	if err := t.checkNewAuditID(ctx, rec.ID); err != nil {
		return err
	}
	h, err := t.logs.mutable(ctx, t.tx, rec.Tenant)
	if err != nil {
		return err
	}
	// The Merkle hashes this record completes are stored with it, in this
	// transaction, so the tree never lags the records.
	e, err := h.Append(rec)
	if err != nil {
		return wrap("append audit", err)
	}
	h.dirty = true
	t.logs.stage(&e)
	rec.Index = e.Record.Index
	return nil
}

// checkNewAuditID refuses an ID already staged in this group or stored.
// The workflow's IDs are UUIDv7, which sort by time, so a new ID is almost
// always above every ID the log holds: the group keeps that bound and probes
// the id index only for an ID at or below it.
func (t *tx) checkNewAuditID(ctx context.Context, id string) error {
	g := t.logs
	if g.ids[id] {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", id)
	}
	if !g.idBoundRead {
		var bound sql.NullString
		if err := t.tx.QueryRowContext(ctx, `SELECT max(id) FROM audit_records`).Scan(&bound); err != nil {
			return wrap("append audit", err)
		}
		g.idBound, g.idBoundRead = bound.String, true
	}
	if id > g.idBound {
		// Above every stored and staged ID, and so new. The bound rises
		// with it and stays an upper bound even if this append rolls back.
		g.idBound = id
		return nil
	}
	var one int
	err := t.tx.QueryRowContext(ctx, `SELECT 1 FROM audit_records WHERE id = ?`, id).Scan(&one)
	switch {
	case err == nil:
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", id)
	case errors.Is(err, sql.ErrNoRows):
		return nil
	default:
		return wrap("append audit", err)
	}
}

// insertAudit stores the canonical bytes and hashes with copies of the
// fields audit search filters on. The time column holds the canonical
// (millisecond) time, so a search by time agrees with what the leaf says.
func (t *tx) insertAudit(ctx context.Context, e *auditlog.Entry) error {
	rec := &e.Record
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_records (log, idx, id, time, record_type,
		operation, user_id, actor_type, request_id, canonical, hashes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Tenant, rec.Index, rec.ID, micros(rec.Time.Truncate(time.Millisecond)), rec.RecordType,
		rec.Operation, rec.UserID, rec.ActorType, rec.RequestID, e.Canonical, e.Hashes)
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
	}
	return wrap("append audit", err)
}

// AuditRecords returns a log's records with start <= index < end, in index
// order, decoded from the stored canonical bytes.
func (t *tx) AuditRecords(ctx context.Context, log string, start, end int64) ([]*lockbox.AuditRecord, error) {
	if err := t.seeEarlierIn(log); err != nil {
		return nil, err
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT canonical FROM audit_records
		WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, log, start, end)
	if err != nil {
		return nil, wrap("audit records", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.AuditRecord)
	return out, wrap("audit records", err)
}

// AuditSize returns the number of records in a log (0 for a log never
// written), counting the appends of this commit group.
func (t *tx) AuditSize(ctx context.Context, log string) (int64, error) {
	if t.logs != nil {
		if h := t.logs.known(log); h != nil {
			return h.Size, nil
		}
	}
	return readAuditSize(ctx, t.tx, log) // no append of this group yet
}

// readAuditSize reads a log's size as of its last commit group.
func readAuditSize(ctx context.Context, q queryer, log string) (int64, error) {
	var size int64
	err := q.QueryRowContext(ctx, `SELECT size FROM audit_logs WHERE log = ?`, log).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return size, wrap("audit size", err)
}
