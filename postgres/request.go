package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
// (in any letter case) is taken. The transaction stays usable after a
// conflict, so the caller may try another reference.
func (t *tx) InsertRequest(ctx context.Context, r *lockbox.AccessRequest) error {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		return wrap("insert request", err)
	}
	policy, err := sqlrows.RequestPolicy(r)
	if err != nil {
		return wrap("insert request", err)
	}
	ok, err := t.insert(ctx, "insert request", `INSERT INTO requests (`+requestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
		$19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31) ON CONFLICT DO NOTHING`,
		r.ID, r.Reference, r.Tenant, r.Service, r.ServiceRequest, r.Reason, ops,
		r.DurationMinutes, nullTime(r.StartTime), r.Status, r.RequestedBy, r.RequesterID,
		ts(r.CreatedAt), ts(r.ExpiresAt), nullString(r.ReviewedBy), nullTime(r.ReviewedAt),
		nullString(r.ReviewComment), nullString(r.DecidedBy), nullTime(r.DecidedAt),
		nullString(r.DecisionComment), nullTime(r.AccessStartsAt), nullTime(r.AccessEndsAt),
		nullTime(r.EndedAt), nullString(r.EndedBy), nullString(r.EndComment), r.TenantVisible, r.Version,
		nullTime(r.Deadline), nullTime(r.RemindAt), policy, r.NeedsReview)
	if err == nil && !ok {
		return lockbox.Errorf(lockbox.ECONFLICT, "A request with id %q or reference %q already exists.", r.ID, r.Reference)
	}
	return err
}

// requestByKey matches the request whose id, or reference in any letter
// case, is key — whichever of the two key's form is (lockbox.IsReference),
// so that the statement is one unique index lookup. (lower() under "C"
// folds ASCII only, like SQLite's NOCASE.) An "id = $1 OR reference …"
// condition cost a bitmap scan of both indexes, ten times a lookup, in
// every workflow step's reads (issue 16).
func requestByKey(key string) string {
	if lockbox.IsReference(key) {
		return `lower(reference) = lower($1::text COLLATE "C")`
	}
	return `id = $1`
}

// getRequestQuery finds the request whose id or reference is key
// (requestByKey).
func getRequestQuery(key string) string {
	return `SELECT ` + requestColumns + ` FROM requests WHERE ` + requestByKey(key)
}

// GetRequest finds a request by id or by reference in any letter case.
// Inside Update it locks the row (FOR UPDATE) until the transaction ends:
// a second transaction reading the same request waits, then reads the
// committed result, so decisions on one request serialize across
// connections and replicas.
func (t *tx) GetRequest(ctx context.Context, idOrRef string) (*lockbox.AccessRequest, error) {
	r, ok, err := t.aheadRequest(idOrRef)
	if !ok {
		q := getRequestQuery(idOrRef)
		if t.update {
			q += ` FOR UPDATE`
		}
		r, err = scanRequest(t.tx.QueryRowContext(ctx, q, idOrRef))
		if err == nil && t.update {
			t.lockedAt(r)
		}
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", idOrRef)
	}
	return r, wrap("get request", err)
}

// updateRequestSQL writes the fields that change over a request's life,
// if the stored version is still the one given ($19).
const updateRequestSQL = `UPDATE requests SET
	status = $1, expires_at = $2, reviewed_by = $3, reviewed_at = $4, review_comment = $5,
	decided_by = $6, decided_at = $7, decision_comment = $8, access_starts_at = $9,
	access_ends_at = $10, ended_at = $11, ended_by = $12, end_comment = $13, tenant_visible = $14,
	version = $15, next_deadline = $16, remind_at = $17, operations = $20, duration_minutes = $21,
	start_time = $22, policy = $23, needs_review = $24 WHERE id = $18 AND version = $19`

// updateRequestGuard is the index in UpdateRequest's arguments of the
// version the row must have ($19).
const updateRequestGuard = 18

// UpdateRequest writes the fields that change over a request's life, if
// the stored version is still prevVersion. What the operator filed and the
// identifiers are never rewritten. A missing request is a conflict too: the
// version the caller saw is gone. Under READ COMMITTED a concurrent writer
// of the same row makes this statement wait and then re-check the version
// on the committed row, so two writers from one version never both win.
//
// In a write group, an update from the version this Update holds the row
// locked at cannot conflict: it is not waited for, but sent with the next
// round trip (later.go).
func (t *tx) UpdateRequest(ctx context.Context, r *lockbox.AccessRequest, prevVersion int) error {
	ops, err := sqlrows.JSONList(r.Operations)
	if err != nil {
		return wrap("update request", err)
	}
	policy, err := sqlrows.RequestPolicy(r)
	if err != nil {
		return wrap("update request", err)
	}
	t.ahead.forget()
	args := []any{r.Status, ts(r.ExpiresAt), nullString(r.ReviewedBy), nullTime(r.ReviewedAt), nullString(r.ReviewComment),
		nullString(r.DecidedBy), nullTime(r.DecidedAt), nullString(r.DecisionComment), nullTime(r.AccessStartsAt),
		nullTime(r.AccessEndsAt), nullTime(r.EndedAt), nullString(r.EndedBy), nullString(r.EndComment),
		r.TenantVisible, r.Version, nullTime(r.Deadline), nullTime(r.RemindAt), r.ID, prevVersion,
		ops, r.DurationMinutes, nullTime(r.StartTime), policy, r.NeedsReview}
	if q, ok := t.tx.(*memberQuerier); ok && t.holds(r.ID, prevVersion) {
		q.later(laterWrite{op: "update request " + r.ID, sql: laterUpdateRequest, args: args,
			row: "requests/" + r.ID, guard: updateRequestGuard})
		t.locked[r.ID] = r.Version
		return nil
	}
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, updateRequestSQL, args...))
	if err != nil {
		return wrap("update request", err)
	}
	if n == 0 {
		return lockbox.Errorf(lockbox.ECONFLICT, "Request %s changed since version %d was read; reload it and try again.", r.ID, prevVersion)
	}
	if t.update {
		t.lockedAt(r) // the UPDATE locked the row
	}
	return nil
}

// lockedAt notes that this Update holds r's row locked at r.Version.
func (t *tx) lockedAt(r *lockbox.AccessRequest) {
	if t.locked == nil {
		t.locked = map[string]int{}
	}
	t.locked[r.ID] = r.Version
}

// holds reports whether this Update holds request id locked at version.
func (t *tx) holds(id string, version int) bool {
	v, ok := t.locked[id]
	return ok && v == version
}

// ListRequests returns requests matching q, newest first. A Limit of zero
// or less means no limit.
func (t *tx) ListRequests(ctx context.Context, q lockbox.RequestQuery) ([]*lockbox.AccessRequest, error) {
	w := requestFilter(q)
	rows, err := t.tx.QueryContext(ctx, listQuery(w), append(w.args, sqlLimit(q.Limit))...)
	if err != nil {
		return nil, wrap("list requests", err)
	}
	out, err := sqlrows.Collect(rows, scanRequest)
	return out, wrap("list requests", err)
}

// listQuery selects requests matching w, newest first, with the limit as
// the last parameter.
func listQuery(w *where) string {
	return `SELECT ` + requestColumns + ` FROM requests` + w.sql() + `
		ORDER BY created_at DESC, id DESC LIMIT ` + w.next()
}

// requestFilter translates a RequestQuery into SQL conditions.
func requestFilter(q lockbox.RequestQuery) *where {
	w := &where{}
	if q.Tenant != "" {
		w.add("tenant = ?", q.Tenant)
	}
	if len(q.Statuses) > 0 {
		statuses := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			statuses[i] = string(s)
		}
		if q.OrDueBy != nil {
			w.add("(status = ANY(?) OR next_deadline <= ?)", statuses, ts(*q.OrDueBy))
		} else {
			w.add("status = ANY(?)", statuses)
		}
	}
	if q.Service != "" {
		w.add("service = ?", q.Service)
	}
	if q.CreatedAfter != nil {
		w.add("created_at > ?", ts(*q.CreatedAfter))
	}
	if q.RequesterID != "" {
		w.add("requester_id = ?", q.RequesterID)
	}
	if q.TenantVisible {
		w.add("tenant_visible")
	}
	if q.NeedsReview {
		w.add("needs_review")
	}
	if q.BeforeCreatedAt != nil {
		// A row-value comparison, unlike the equivalent OR, is an index
		// range condition: the scan starts at the cursor.
		w.add("(created_at, id) < (?, ?)", ts(*q.BeforeCreatedAt), q.BeforeID)
	}
	return w
}

// Deadline queries: range scans of next_deadline, which the workflow
// computes (lockbox's Schedule) and writes with every change. Its partial
// index holds live requests only, so the worker's lookups stay small however
// many finished requests pile up.
//
// The due queries are planned at every call (perCall), with the time and
// limit in hand. Prepared once and reused, PostgreSQL switches to a generic
// plan after five calls, and for "next_deadline <= $1 … ORDER BY id LIMIT
// $3" that plan walks the primary key through every request, finished or
// not, testing each (seen in issue 16's workflow benchmark: 12 ms a call at
// 16,000 requests, once a second on every replica, growing with the table).
// SQLite pins the index with INDEXED BY; this is PostgreSQL's way.
const (
	dueQuery     = `SELECT id FROM requests WHERE next_deadline <= $1 AND id > $2 ORDER BY id LIMIT $3`
	nextDueQuery = `SELECT MIN(next_deadline) FROM requests WHERE next_deadline > $1`
)

// DueRequests returns the ids of requests whose stored deadline is at or
// before now, in id order after afterID. A limit of zero or less means no
// limit. Ids compare byte-wise (COLLATE "C"), as in SQLite, so the caller's
// keyset cursor walks the same order.
func (t *tx) DueRequests(ctx context.Context, now time.Time, afterID string, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, dueQuery, perCall, ts(now), afterID, sqlLimit(limit))
	if err != nil {
		return nil, wrap("due requests", err)
	}
	ids, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return ids, wrap("due requests", err)
}

// NextDue returns the earliest stored deadline after now, or the zero time
// when no request has one.
func (t *tx) NextDue(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.Null[time.Time]
	if err := t.tx.QueryRowContext(ctx, nextDueQuery, ts(now)).Scan(&next); err != nil {
		return time.Time{}, wrap("next due", err)
	}
	if !next.Valid {
		return time.Time{}, nil
	}
	return next.V.UTC(), nil
}

// scanRequest reads one row of requestColumns.
func scanRequest(s scanner) (*lockbox.AccessRequest, error) {
	var (
		r                                                     lockbox.AccessRequest
		ops                                                   string
		created, expires                                      time.Time
		start, reviewedAt, decidedAt, startsAt, endsAt, ended sql.Null[time.Time]
		deadline, remindAt                                    sql.Null[time.Time]
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
	r.CreatedAt, r.ExpiresAt = created.UTC(), expires.UTC()
	r.StartTime, r.ReviewedAt, r.DecidedAt = timePtr(start), timePtr(reviewedAt), timePtr(decidedAt)
	r.AccessStartsAt, r.AccessEndsAt, r.EndedAt = timePtr(startsAt), timePtr(endsAt), timePtr(ended)
	r.ReviewedBy, r.ReviewComment = sqlrows.StringPtr(reviewedBy), sqlrows.StringPtr(reviewComment)
	r.DecidedBy, r.DecisionComment = sqlrows.StringPtr(decidedBy), sqlrows.StringPtr(decisionComment)
	r.EndedBy, r.EndComment = sqlrows.StringPtr(endedBy), sqlrows.StringPtr(endComment)
	r.Deadline, r.RemindAt = timePtr(deadline), timePtr(remindAt)
	return &r, nil
}

// where collects the AND-ed conditions of a query and their arguments.
// Conditions are written with ? and numbered $1, $2, … in order.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		cond = strings.Replace(cond, "?", w.next(), 1)
		w.args = append(w.args, a)
	}
	w.conds = append(w.conds, cond)
}

// next is the placeholder of the next argument.
func (w *where) next() string { return fmt.Sprintf("$%d", len(w.args)+1) }

// sql returns the WHERE clause, or "" when there is no condition.
func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// sqlLimit maps "no limit" (zero or less) to NULL, which PostgreSQL reads
// as LIMIT ALL.
func sqlLimit(n int) any {
	if n <= 0 {
		return nil
	}
	return n
}
