package postgres

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/auditlog"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// AppendAudit queues rec for the log rec.Tenant; the record is written, and
// rec.Index set, when the Update's write group commits (commit, in
// postgres.go), in the same transaction as everything else fn did.
//
// Appends to one log serialize on the log's head row, locked FOR UPDATE by
// the append: a second appender (another writer or replica) waits until
// this transaction ends and then reads the size it committed. A group's
// records of one log are one statement (lockbox_audit_append,
// migrations/00021_audit_append_cheaper.sql) sent in the same round trip
// as COMMIT, so the lock is held for that statement and the commit's WAL
// flush, never across a client round trip. A rolled-back transaction
// writes nothing, so the log stays gap-free. ECONFLICT when a record with
// rec.ID is queued in this Update (another Update of the group:
// writeGroup.checkMember); one already stored is found by the append
// itself, and Update returns ECONFLICT having committed nothing.
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
	t.pending = append(t.pending, rec)
	return nil
}

// appendBatch is one log's queued records as one lockbox_audit_append call.
type appendBatch struct {
	log  string
	recs []*lockbox.AuditRecord
}

// queueAudit adds the appends of pending to b, one statement per log, logs in
// name order (so two transactions appending to the same two logs cannot
// deadlock), each log's records in the order they were appended, and
// returns them in the order their results come back.
func queueAudit(b *pgx.Batch, pending []*lockbox.AuditRecord) ([]appendBatch, error) {
	byLog := map[string][]*lockbox.AuditRecord{}
	for _, rec := range pending {
		byLog[rec.Tenant] = append(byLog[rec.Tenant], rec)
	}
	var out []appendBatch
	for _, log := range slices.Sorted(maps.Keys(byLog)) {
		recs := byLog[log]
		n := len(recs)
		prefixes, suffixes := make([][]byte, n), make([][]byte, n)
		ids, types, ops, users, actors, reqs := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		times := make([]time.Time, n)
		for i, rec := range recs {
			var err error
			if prefixes[i], suffixes[i], err = auditlog.SplitCanonical(rec); err != nil {
				return nil, wrap("append audit", err)
			}
			ids[i], types[i], ops[i], users[i], actors[i], reqs[i] = rec.ID, rec.RecordType, rec.Operation,
				rec.UserID, rec.ActorType, rec.RequestID
			// The canonical (millisecond) time, so a search by time agrees
			// with what the leaf says.
			times[i] = ts(rec.Time.Truncate(time.Millisecond))
		}
		b.Queue(`SELECT lockbox_audit_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			log, prefixes, suffixes, ids, times, types, ops, users, actors, reqs)
		out = append(out, appendBatch{log: log, recs: recs})
	}
	return out, nil
}

// appendError is the error of a lockbox_audit_append call: ECONFLICT for a
// record id already stored (the transaction is then aborted).
func appendError(err error, a appendBatch) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		ids := make([]string, len(a.recs))
		for i, rec := range a.recs {
			ids[i] = rec.ID
		}
		return lockbox.Errorf(lockbox.ECONFLICT, "An audit record with one of the ids %s already exists.", strings.Join(ids, ", "))
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
	if err := t.seeEarlierIn(log); err != nil {
		return 0, err
	}
	var size int64
	err := t.tx.QueryRowContext(ctx, `SELECT size FROM audit_logs WHERE log = $1`, log).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return size, wrap("audit size", err)
}
