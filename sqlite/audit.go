package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAudit appends rec to the log rec.Tenant and sets rec.Index. Appends
// serialize because Update transactions do (one writer, BEGIN IMMEDIATE),
// and the head row is read and bumped inside the same transaction, so a
// rolled-back append gives its index back and the log stays gap-free.
// ECONFLICT when a record with rec.ID is already stored.
func (t *tx) AppendAudit(ctx context.Context, rec *lockbox.AuditRecord) error {
	index, err := t.AuditSize(ctx, rec.Tenant)
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
	hashes, err := storedHashes(ctx, t.tx, rec.Tenant, index, canonical)
	if err != nil {
		return err
	}
	// The record goes in before the head moves: if the insert fails, the
	// head still names the next free index.
	if err := t.insertAudit(ctx, &leaf, canonical, hashes); err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO audit_logs (log, size) VALUES (?, 1)
		ON CONFLICT (log) DO UPDATE SET size = size + 1`, rec.Tenant)
	if err != nil {
		return wrap("append audit", err)
	}
	rec.Index = index
	return nil
}

// insertAudit stores the canonical bytes with copies of the fields audit
// search filters on. The time column holds the canonical (millisecond)
// time, so a search by time agrees with what the leaf says.
func (t *tx) insertAudit(ctx context.Context, rec *lockbox.AuditRecord, canonical, hashes []byte) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_records (log, idx, id, time, record_type,
		operation, user_id, actor_type, request_id, canonical, hashes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Tenant, rec.Index, rec.ID, micros(rec.Time.Truncate(time.Millisecond)), rec.RecordType,
		rec.Operation, rec.UserID, rec.ActorType, rec.RequestID, canonical, hashes)
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "Audit record %q already exists.", rec.ID)
	}
	return wrap("append audit", err)
}

// AuditRecords returns a log's records with start <= index < end, in index
// order, decoded from the stored canonical bytes.
func (t *tx) AuditRecords(ctx context.Context, log string, start, end int64) ([]*lockbox.AuditRecord, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT canonical FROM audit_records
		WHERE log = ? AND idx >= ? AND idx < ? ORDER BY idx`, log, start, end)
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
	err := t.tx.QueryRowContext(ctx, `SELECT size FROM audit_logs WHERE log = ?`, log).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return size, wrap("audit size", err)
}
