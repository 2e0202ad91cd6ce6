package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// requestColumns is the column order of every request read and insert.
const requestColumns = `id, reference, tenant, service, service_request, reason, operations,
	duration_minutes, start_time, status, requested_by, requester_id, created_at, expires_at,
	reviewed_by, reviewed_at, review_comment, decided_by, decided_at, decision_comment,
	access_starts_at, access_ends_at, ended_at, ended_by, end_comment, tenant_visible, version,
	next_deadline, remind_at, policy, needs_review`

// InsertRequest stores a new request; ECONFLICT when the id or reference
// (in any letter case) is taken.
func (t *tx) InsertRequest(ctx context.Context, r *lockbox.AccessRequest) error {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		return wrap("insert request", err)
	}
	policy, err := sqlrows.RequestPolicy(r)
	if err != nil {
		return wrap("insert request", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO requests (`+requestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.Reference, r.Tenant, r.Service, r.ServiceRequest, r.Reason, ops,
		r.DurationMinutes, nullMicros(r.StartTime), r.Status, r.RequestedBy, r.RequesterID,
		micros(r.CreatedAt), micros(r.ExpiresAt), r.ReviewedBy, nullMicros(r.ReviewedAt),
		r.ReviewComment, r.DecidedBy, nullMicros(r.DecidedAt), r.DecisionComment,
		nullMicros(r.AccessStartsAt), nullMicros(r.AccessEndsAt), nullMicros(r.EndedAt),
		r.EndedBy, r.EndComment, r.TenantVisible, r.Version, nullMicros(r.Deadline), nullMicros(r.RemindAt), policy, r.NeedsReview)
	if isUnique(err) {
		return lockbox.Errorf(lockbox.ECONFLICT, "A request with id %q or reference %q already exists.", r.ID, r.Reference)
	}
	return wrap("insert request", err)
}

// GetRequest finds a request by id or by reference in any letter case.
// Inside Update the whole database is write-locked (BEGIN IMMEDIATE), which
// is at least the row lock the contract asks for.
func (t *tx) GetRequest(ctx context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	by := `id = ?1`
	if lockbox.IsReference(idOrRef) { // one index lookup, as in PostgreSQL
		by = `reference = ?1`
	}
	row := t.tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM requests WHERE `+by, idOrRef)
	r, err := scanRequest(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", idOrRef)
	}
	return r, wrap("get request", err)
}

// UpdateRequest writes the fields that change over a request's life. What
// the operator filed (tenant, service, reason, operations, duration, start
// time, requester, creation time) and the identifiers are never rewritten.
// A missing request is a conflict too: the version the caller saw is gone.
func (t *tx) UpdateRequest(ctx context.Context, r *lockbox.AccessRequest, prevVersion int) error {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		return wrap("update request", err)
	}
	policy, err := sqlrows.RequestPolicy(r)
	if err != nil {
		return wrap("update request", err)
	}
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `UPDATE requests SET
		operations = ?, duration_minutes = ?, start_time = ?, policy = ?, status = ?, expires_at = ?, reviewed_by = ?, reviewed_at = ?, review_comment = ?,
		decided_by = ?, decided_at = ?, decision_comment = ?, access_starts_at = ?,
		access_ends_at = ?, ended_at = ?, ended_by = ?, end_comment = ?, tenant_visible = ?, version = ?,
		next_deadline = ?, remind_at = ?, needs_review = ?
		WHERE id = ? AND version = ?`,
		ops, r.DurationMinutes, nullMicros(r.StartTime), policy, r.Status, micros(r.ExpiresAt), r.ReviewedBy, nullMicros(r.ReviewedAt), r.ReviewComment,
		r.DecidedBy, nullMicros(r.DecidedAt), r.DecisionComment, nullMicros(r.AccessStartsAt),
		nullMicros(r.AccessEndsAt), nullMicros(r.EndedAt), r.EndedBy, r.EndComment, r.TenantVisible, r.Version,
		nullMicros(r.Deadline), nullMicros(r.RemindAt), r.NeedsReview, r.ID, prevVersion))
	if err != nil {
		return wrap("update request", err)
	}
	if n == 0 {
		return lockbox.Errorf(lockbox.ECONFLICT, "Request %s changed since version %d was read; reload it and try again.", r.ID, prevVersion)
	}
	return nil
}

// ListRequests returns requests matching q, newest first. A Limit of zero
// or less means no limit.
func (t *tx) ListRequests(ctx context.Context, q lockbox.RequestQuery) ([]*lockbox.AccessRequest, error) {
	query, args := listQuery(q)
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("list requests", err)
	}
	out, err := sqlrows.Collect(rows, scanRequest)
	return out, wrap("list requests", err)
}

// listQuery is the query of requests matching q, newest first, and its
// parameters. With OrDueBy it is the union of the requests in the wanted
// statuses and the due ones: each side is a range scan of its own index
// (the status queue, the deadline), merged in listing order, where one OR
// would have to sort every request of the wanted statuses.
func listQuery(q lockbox.RequestQuery) (string, []any) {
	order := ` ORDER BY created_at DESC, id DESC LIMIT ?`
	w := requestFilter(q)
	if len(q.Statuses) > 0 {
		args := make([]any, len(q.Statuses))
		for i, s := range q.Statuses {
			args[i] = string(s)
		}
		w.add("status IN ("+placeholders(len(args))+")", args...)
	}
	query := `SELECT ` + requestColumns + ` FROM requests` + w.sql()
	if q.OrDueBy != nil && len(q.Statuses) > 0 {
		due := requestFilter(q)
		due.add("next_deadline <= ?", micros(*q.OrDueBy))
		query += ` UNION SELECT ` + requestColumns + ` FROM requests` + due.sql()
		w.args = append(w.args, due.args...)
	}
	return query + order, append(w.args, sqlLimit(q.Limit))
}

// requestFilter translates a RequestQuery's conditions other than the
// statuses into SQL.
func requestFilter(q lockbox.RequestQuery) *where {
	w := &where{}
	if q.Tenant != "" {
		w.add("tenant = ?", q.Tenant)
	}
	if q.Service != "" {
		w.add("service = ?", q.Service)
	}
	if q.CreatedAfter != nil {
		w.add("created_at > ?", micros(*q.CreatedAfter))
	}
	if q.RequesterID != "" {
		w.add("requester_id = ?", q.RequesterID)
	}
	if q.TenantVisible {
		w.add("tenant_visible = 1")
	}
	if q.NeedsReview {
		w.add("needs_review = 1")
	}
	if q.BeforeCreatedAt != nil {
		// A row-value comparison, unlike the equivalent OR, lets SQLite start
		// the index range at the cursor instead of skipping newer rows.
		w.add("(created_at, id) < (?, ?)", micros(*q.BeforeCreatedAt), q.BeforeID)
	}
	return w
}

// Deadline queries: range scans of next_deadline, which the workflow
// computes (lockbox's Schedule) and writes with every change. Its partial
// index holds live requests only, so the worker's lookups stay small however
// many finished requests pile up. INDEXED BY, because without statistics
// SQLite would rather walk the primary key in id order, through every
// request ever filed.
const (
	dueQuery     = `SELECT id FROM requests INDEXED BY requests_next_deadline WHERE next_deadline <= ?1 AND id > ?2 ORDER BY id LIMIT ?3`
	nextDueQuery = `SELECT MIN(next_deadline) FROM requests WHERE next_deadline > ?1`
)

// DueRequests returns the ids of requests whose stored deadline is at or
// before now, in id order after afterID. A limit of zero or less means no
// limit.
func (t *tx) DueRequests(ctx context.Context, now time.Time, afterID string, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, dueQuery, micros(now), afterID, sqlLimit(limit))
	if err != nil {
		return nil, wrap("due requests", err)
	}
	ids, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return ids, wrap("due requests", err)
}

// NextDue returns the earliest stored deadline after now, or the zero time
// when no request has one.
func (t *tx) NextDue(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.Null[int64]
	if err := t.tx.QueryRowContext(ctx, nextDueQuery, micros(now)).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return fromMicros(next.V), nil
}

// scanRequest reads one row of requestColumns.
func scanRequest(s scanner) (*lockbox.AccessRequest, error) {
	var (
		r                                                     lockbox.AccessRequest
		ops                                                   string
		created, expires                                      int64
		start, reviewedAt, decidedAt, startsAt, endsAt, ended sql.Null[int64]
		deadline, remindAt                                    sql.Null[int64]
		policy                                                string
		reviewedBy, reviewComment, decidedBy, decisionComment sql.Null[string]
		endedBy, endComment                                   sql.Null[string]
	)
	err := s.Scan(&r.ID, &r.Reference, &r.Tenant, &r.Service, &r.ServiceRequest, &r.Reason, &ops,
		&r.DurationMinutes, &start, &r.Status, &r.RequestedBy, &r.RequesterID, &created, &expires,
		&reviewedBy, &reviewedAt, &reviewComment, &decidedBy, &decidedAt, &decisionComment,
		&startsAt, &endsAt, &ended, &endedBy, &endComment, &r.TenantVisible, &r.Version,
		&deadline, &remindAt, &policy, &r.NeedsReview)
	if err != nil {
		return nil, err
	}
	if r.Operations, err = sqlrows.ParseList[string](ops); err != nil {
		return nil, err
	}
	if err := sqlrows.ParseRequestPolicy(policy, &r); err != nil {
		return nil, err
	}
	r.CreatedAt, r.ExpiresAt = fromMicros(created), fromMicros(expires)
	r.StartTime, r.ReviewedAt, r.DecidedAt = timePtr(start), timePtr(reviewedAt), timePtr(decidedAt)
	r.AccessStartsAt, r.AccessEndsAt, r.EndedAt = timePtr(startsAt), timePtr(endsAt), timePtr(ended)
	r.ReviewedBy, r.ReviewComment = sqlrows.StringPtr(reviewedBy), sqlrows.StringPtr(reviewComment)
	r.DecidedBy, r.DecisionComment = sqlrows.StringPtr(decidedBy), sqlrows.StringPtr(decisionComment)
	r.EndedBy, r.EndComment = sqlrows.StringPtr(endedBy), sqlrows.StringPtr(endComment)
	r.Deadline, r.RemindAt = timePtr(deadline), timePtr(remindAt)
	return &r, nil
}

// where collects the AND-ed conditions of a query and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

// sql returns the WHERE clause, or "" when there is no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// placeholders returns n comma-separated parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// sqlLimit maps "no limit" (zero or less) to SQLite's -1.
func sqlLimit(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}
