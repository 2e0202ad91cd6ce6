package postgres

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// The notification outbox (lockbox.OutboxTx). Claimers on any replica take
// disjoint messages without waiting for each other: the claim locks the
// rows it picks FOR UPDATE SKIP LOCKED and leases them in the same
// statement.

// outboxColumns are those a message is inserted with; outboxRead those it
// is read with (scanOutbox): resent_at is set only by a resend.
const outboxColumns = `id, channel, tenant, type, recipient, webhook_id, payload, status,
	attempts, created_at, next_attempt_at, last_error, finished_at`

const outboxRead = outboxColumns + `, resent_at`

// EnqueueOutbox stores new messages; ECONFLICT when an id is taken. Inside
// Update they are queued and inserted with the group's COMMIT, like the
// audit records (commit, postgres.go): one round trip fewer for every step
// that notifies. An id given twice in this Update, or queued by another
// Update of the group (writeGroup.checkMember), is refused here; one
// already stored fails the commit, and Update returns ECONFLICT having
// stored nothing.
func (t *tx) EnqueueOutbox(ctx context.Context, msgs ...*lockbox.OutboxMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	if !t.update {
		return lockbox.Errorf(lockbox.EINTERNAL, "Outbox messages are enqueued only inside Update.")
	}
	for i, m := range msgs {
		same := func(o *lockbox.OutboxMessage) bool { return o.ID == m.ID }
		if slices.ContainsFunc(t.outbox, same) || slices.ContainsFunc(msgs[:i], same) {
			return lockbox.Errorf(lockbox.ECONFLICT, "Outbox message %q already exists.", m.ID)
		}
	}
	for _, m := range msgs {
		c := *m
		t.outbox = append(t.outbox, &c)
	}
	return nil
}

// outboxInsertSQL inserts a group's messages, given as one array per
// column: one statement text whatever their number, so it is prepared
// once per connection before any group's transaction (prepareGroup,
// later.go). A text per row count was prepared the first time a group had
// that many, inside the group at its COMMIT, by then with its lock waits
// cut short: while anything held the table (a migration, autovacuum
// truncating it), that prepare failed the whole group.
const outboxInsertSQL = `INSERT INTO outbox (` + outboxColumns + `, lease_until)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bytea[],
		$8::text[], $9::integer[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::timestamptz[],
		$14::timestamptz[])`

// outboxInsertArgs are outboxInsertSQL's arguments for msgs.
func outboxInsertArgs(msgs []*lockbox.OutboxMessage) []any {
	n := len(msgs)
	ids, channels, tenants, types := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	recipients, hooks, statuses, lastErrs := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	payloads, attempts := make([][]byte, n), make([]int32, n)
	created, next, finished := make([]time.Time, n), make([]time.Time, n), make([]*time.Time, n)
	leases := make([]*time.Time, n)
	for i, m := range msgs {
		ids[i], channels[i], tenants[i], types[i] = m.ID, m.Channel, m.Tenant, m.Type
		recipients[i], hooks[i], statuses[i], lastErrs[i] = m.To, m.WebhookID, m.Status, m.LastError
		payloads[i], attempts[i] = m.Payload, int32(m.Attempts)
		created[i], next[i] = ts(m.CreatedAt), ts(m.NextAttemptAt)
		if m.FinishedAt != nil {
			finished[i] = new(ts(*m.FinishedAt))
		}
		if m.LeaseUntil != nil {
			leases[i] = new(ts(*m.LeaseUntil))
		}
	}
	return []any{ids, channels, tenants, types, recipients, hooks, payloads, statuses, attempts, created, next, lastErrs, finished, leases}
}

// queueOutbox adds the insert of a group's messages to b (none: nothing).
// A taken id fails it, and with it the transaction: outboxError.
func queueOutbox(b *pgx.Batch, msgs []*lockbox.OutboxMessage) bool {
	if len(msgs) == 0 {
		return false
	}
	b.Queue(outboxInsertSQL, outboxInsertArgs(msgs)...)
	return true
}

// outboxError is the error of a group's outbox insert: ECONFLICT for a
// message id already stored.
func outboxError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return lockbox.Errorf(lockbox.ECONFLICT, "An outbox message with one of this change's ids already exists.")
	}
	return wrap("enqueue outbox", err)
}

// claimOutboxQuery walks the channel's range of outbox_claim (pending rows
// in the order they become claimable: the later of the next attempt and
// the lease's end, GREATEST ignoring a NULL lease; migration 00029) and
// stops at limit; the rows it skips are those another claimer is locking.
const claimOutboxQuery = `UPDATE outbox SET attempts = attempts + 1, lease_until = $1
	WHERE id IN (SELECT id FROM outbox
		WHERE status = 'pending' AND channel = $4 AND GREATEST(next_attempt_at, lease_until) <= $2
		ORDER BY GREATEST(next_attempt_at, lease_until), id LIMIT $3 FOR UPDATE SKIP LOCKED)
	RETURNING ` + outboxRead

// claimPerEndpointQuery is claimOutboxQuery for webhooks taking at most $4
// deliveries of one endpoint. It walks the endpoints with pending
// deliveries through outbox_endpoint_due (migration 00031), one index
// descent each (PostgreSQL has no skip scan of its own: a recursive
// query), reads the first $4 due of each from the same index, and takes
// the earliest $3 of those, leaving the endpoints in $5: its cost follows
// the endpoints, where numbering the whole due range by endpoint sorted
// all of a backlog at every claim.
//
// The due time is written GREATEST(lease_until, next_attempt_at), as that
// index has it, and the walk orders by it too, so that no other index
// gives the order these reads ask for. Written as outbox_claim has it, the
// planner, misled by statistics not yet updated after a burst, read each
// endpoint's first few from outbox_claim, walking the whole backlog once
// an endpoint (about 60 ms at 1,000 due over 500 endpoints); ordered by
// webhook_id alone, the walk may read outbox_webhook, which holds every
// delivery kept (TestClaimPerEndpointReadsEachEndpoint).
//
// The rows picked are locked by a query around the pick, which skips those
// another claimer is locking and re-checks, on a row's newest version,
// that it is still due (a claim that committed after this statement's
// snapshot leased it); its status is compared with a sub-select, as in
// stillHeld, so that each row is locked through the primary key, not
// looked up in a partial index. Rows picked but locked by another claimer
// are not replaced: such a claim may come back short, or empty, while
// others are due.
const claimPerEndpointQuery = `WITH RECURSIVE endpoints (webhook_id) AS (
		(SELECT webhook_id FROM outbox WHERE status = 'pending' AND channel = 'webhook'
			ORDER BY webhook_id, GREATEST(lease_until, next_attempt_at) LIMIT 1)
		UNION ALL
		SELECT (SELECT o.webhook_id FROM outbox o WHERE o.status = 'pending' AND o.channel = 'webhook' AND o.webhook_id > e.webhook_id
			ORDER BY o.webhook_id, GREATEST(o.lease_until, o.next_attempt_at) LIMIT 1)
		FROM endpoints e WHERE e.webhook_id IS NOT NULL),
	picked AS (SELECT d.id FROM endpoints e CROSS JOIN LATERAL (SELECT id, GREATEST(lease_until, next_attempt_at) AS due_at FROM outbox
			WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = e.webhook_id AND GREATEST(lease_until, next_attempt_at) <= $2
			ORDER BY GREATEST(lease_until, next_attempt_at), id LIMIT $4) d
		WHERE e.webhook_id <> ALL ($5::text[])
		ORDER BY d.due_at, d.id LIMIT $3)
	UPDATE outbox SET attempts = attempts + 1, lease_until = $1
	WHERE id IN (SELECT id FROM outbox WHERE id = ANY (ARRAY(SELECT id FROM picked))
		AND status = (SELECT 'pending') AND GREATEST(next_attempt_at, lease_until) <= $2
		FOR UPDATE SKIP LOCKED)
	RETURNING ` + outboxRead

// ClaimOutbox leases due pending messages; see lockbox.OutboxTx. A row
// another transaction is claiming is skipped, and a row whose claim
// committed after this statement's snapshot is re-checked on its new
// version once locked (READ COMMITTED), so its fresh lease excludes it.
func (t *tx) ClaimOutbox(ctx context.Context, c lockbox.OutboxClaim) ([]*lockbox.OutboxMessage, error) {
	query, args := claimOutboxQuery, []any{ts(c.LeaseUntil), ts(c.Now), c.Limit, c.Channel}
	if c.PerEndpoint > 0 && c.Channel == lockbox.ChannelWebhook {
		// Skip is sent as an array even when nil: <> ALL (NULL) would match
		// no endpoint.
		query, args = claimPerEndpointQuery, []any{ts(c.LeaseUntil), ts(c.Now), c.Limit, c.PerEndpoint, append([]string{}, c.Skip...)}
	}
	rows, err := t.tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, wrap("claim outbox", err)
	}
	msgs, err := sqlrows.Collect(rows, scanOutbox)
	if err != nil {
		return nil, wrap("claim outbox", err)
	}
	// RETURNING gives no order: return them in next-attempt order.
	slices.SortFunc(msgs, func(a, b *lockbox.OutboxMessage) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return msgs, nil
}

// stillHeld is the condition under which a finish or a release may change
// message o: the caller still holds it (row h of the call's arrays names it
// with the attempt the caller claimed, and it is still pending). The status
// is compared with a sub-select, not a literal, so that the planner cannot
// prove outbox_claim's predicate and look each id up in that partial index:
// id is only its second column, so each lookup walks the whole index, dead
// entries included, where the primary key is one descent (docs/benchmarks.md,
// "Fourteenth session"; TestQueryPlans).
const stillHeld = `o.id = h.id AND o.attempts = h.attempt AND o.status = (SELECT 'pending')`

// finishOutboxQuery records a batch of results in one statement: the
// arrays are zipped into rows, and each updates its message only if the
// caller still holds it (stillHeld); RETURNING names the ones it recorded.
// Rows of one call have distinct ids (lockbox.CheckOutboxFinishes), so no
// message is matched twice.
const finishOutboxQuery = `UPDATE outbox o SET status = h.status, last_error = h.last_error,
		finished_at = h.finished_at, next_attempt_at = coalesce(h.next_attempt_at, o.next_attempt_at), lease_until = NULL
	FROM unnest($1::text[], $2::integer[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[])
		AS h (id, attempt, status, last_error, finished_at, next_attempt_at)
	WHERE ` + stillHeld + `
	RETURNING o.id`

// FinishOutbox records attempts' results if the caller still holds them:
// one statement (one round trip) for all of them.
func (t *tx) FinishOutbox(ctx context.Context, results ...lockbox.OutboxFinish) ([]error, error) {
	if err := lockbox.CheckOutboxFinishes(results); err != nil || len(results) == 0 {
		return make([]error, len(results)), err
	}
	n := len(results)
	ids, statuses, lastErrs := make([]string, n), make([]string, n), make([]string, n)
	attempts := make([]int32, n)
	finished, next := make([]*time.Time, n), make([]*time.Time, n)
	for i, f := range results {
		ids[i], attempts[i], statuses[i], lastErrs[i] = f.ID, int32(f.Attempt), f.Result.Status, f.Result.LastError
		if f.Result.Finished() {
			finished[i] = new(ts(f.Result.At))
		} else {
			next[i] = new(ts(f.Result.NextAttemptAt))
		}
	}
	rows, err := t.tx.QueryContext(ctx, finishOutboxQuery, ids, attempts, statuses, lastErrs, finished, next)
	if err != nil {
		return nil, wrap("finish outbox", err)
	}
	recorded, err := sqlrows.Collect(rows, sqlrows.Value[string])
	if err != nil {
		return nil, wrap("finish outbox", err)
	}
	return lostOutboxResults(results, recorded), nil
}

// releaseOutboxQuery gives back, in one statement, the claims still held
// (stillHeld): lease ended, the claim's increment of attempts taken back.
const releaseOutboxQuery = `UPDATE outbox o SET attempts = o.attempts - 1, lease_until = NULL
	FROM unnest($1::text[], $2::integer[]) AS h (id, attempt)
	WHERE ` + stillHeld

// ReleaseOutbox gives back claimed messages never attempted; see
// lockbox.OutboxTx.
func (t *tx) ReleaseOutbox(ctx context.Context, held ...lockbox.OutboxAttempt) (int, error) {
	if len(held) == 0 {
		return 0, nil
	}
	ids, attempts := make([]string, len(held)), make([]int32, len(held))
	for i, h := range held {
		ids[i], attempts[i] = h.ID, int32(h.Attempt)
	}
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, releaseOutboxQuery, ids, attempts))
	if err != nil {
		return 0, wrap("release outbox", err)
	}
	return int(n), nil
}

// lostOutboxResults is FinishOutbox's answer per result: ECONFLICT for each
// one not among the recorded ids.
func lostOutboxResults(results []lockbox.OutboxFinish, recorded []string) []error {
	ok := make(map[string]bool, len(recorded))
	for _, id := range recorded {
		ok[id] = true
	}
	errs := make([]error, len(results))
	for i, f := range results {
		if !ok[f.ID] {
			errs[i] = lockbox.Errorf(lockbox.ECONFLICT, "Outbox message %q is no longer at attempt %d.", f.ID, f.Attempt)
		}
	}
	return errs
}

// nextOutboxWakeQuery reads the first entry of the channel's range of
// outbox_claim (migrations 00024, 00029), an index on exactly this
// expression (GREATEST ignores NULLs).
// ORDER BY … LIMIT 1 rather than min(): the planner then walks the index
// whatever its statistics say, where min() over a table it believes small
// read every pending row.
const nextOutboxWakeQuery = `SELECT GREATEST(next_attempt_at, lease_until) FROM outbox WHERE status = 'pending' AND channel = $1
	ORDER BY GREATEST(next_attempt_at, lease_until) LIMIT 1`

// NextOutboxWake returns when the next pending message becomes claimable.
func (t *tx) NextOutboxWake(ctx context.Context, channel string) (time.Time, error) {
	var next time.Time
	err := t.tx.QueryRowContext(ctx, nextOutboxWakeQuery, channel).Scan(&next)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	} else if err != nil {
		return time.Time{}, wrap("next outbox wake", err)
	}
	return next.UTC(), nil
}

// OutboxCounts counts messages by channel and status.
func (t *tx) OutboxCounts(ctx context.Context) ([]lockbox.OutboxCount, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT channel, status, count(*), min(created_at)
		FROM outbox GROUP BY channel, status ORDER BY channel, status`)
	if err != nil {
		return nil, wrap("outbox counts", err)
	}
	out, err := sqlrows.Collect(rows, scanOutboxCount)
	return out, wrap("outbox counts", err)
}

func scanOutboxCount(s scanner) (lockbox.OutboxCount, error) {
	var c lockbox.OutboxCount
	var oldest time.Time
	if err := s.Scan(&c.Channel, &c.Status, &c.Count, &oldest); err != nil {
		return c, err
	}
	c.Oldest = oldest.UTC()
	return c, nil
}

// ListOutbox lists messages newest first.
func (t *tx) ListOutbox(ctx context.Context, q lockbox.OutboxQuery) ([]*lockbox.OutboxMessage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+outboxRead+` FROM outbox
		WHERE ($1::text = '' OR channel = $1) AND ($2::text = '' OR status = $2) AND ($3::text = '' OR tenant = $3)
		ORDER BY created_at DESC, id DESC LIMIT $4`,
		q.Channel, q.Status, q.Tenant, q.Limit)
	if err != nil {
		return nil, wrap("list outbox", err)
	}
	msgs, err := sqlrows.Collect(rows, scanOutbox)
	return msgs, wrap("list outbox", err)
}

// PurgeOutbox deletes finished messages older than before.
func (t *tx) PurgeOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE status <> 'pending' AND finished_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, ts(before), limit))
	return int(n), wrap("purge outbox", err)
}

func scanOutbox(s scanner) (*lockbox.OutboxMessage, error) {
	var m lockbox.OutboxMessage
	var created, next time.Time
	var finished, resent sql.Null[time.Time]
	err := s.Scan(&m.ID, &m.Channel, &m.Tenant, &m.Type, &m.To, &m.WebhookID, &m.Payload, &m.Status,
		&m.Attempts, &created, &next, &m.LastError, &finished, &resent)
	if err != nil {
		return nil, err
	}
	m.CreatedAt, m.NextAttemptAt, m.FinishedAt, m.ResentAt = created.UTC(), next.UTC(), timePtr(finished), timePtr(resent)
	return &m, nil
}

// Reminder queries: range scans of remind_at, which the workflow computes
// (lockbox.RemindAt) and writes with every change, skipping the requests
// whose reminder is recorded already (MarkReminded). The due one is
// planned at every call, as the deadline queries are (request.go).
const (
	dueRemindersQuery = `SELECT id FROM requests r WHERE remind_at <= $1
		AND NOT EXISTS (SELECT 1 FROM request_reminders m WHERE m.request_id = r.id)
		ORDER BY id LIMIT $2`
	nextReminderQuery = `SELECT MIN(remind_at) FROM requests r WHERE remind_at > $1
		AND NOT EXISTS (SELECT 1 FROM request_reminders m WHERE m.request_id = r.id)`
)

// DueReminders returns requests whose reminder time has come.
func (t *tx) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, dueRemindersQuery, perCall, ts(now), limit)
	if err != nil {
		return nil, wrap("due reminders", err)
	}
	ids, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return ids, wrap("due reminders", err)
}

// NextReminder returns the earliest reminder time after now.
func (t *tx) NextReminder(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.Null[time.Time]
	err := t.tx.QueryRowContext(ctx, nextReminderQuery, ts(now)).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, wrap("next reminder", err)
	}
	return next.V.UTC(), nil
}

// MarkReminded records a request's reminder once. Of two replicas racing,
// the second waits for the first's transaction and then inserts nothing.
// Neither a duplicate nor an unknown request aborts the transaction.
func (t *tx) MarkReminded(ctx context.Context, requestID string, now time.Time) (bool, error) {
	ok, err := t.insert(ctx, "mark reminded", `INSERT INTO request_reminders (request_id, sent_at)
		SELECT id, $2::timestamptz FROM requests WHERE id = $1 ON CONFLICT (request_id) DO NOTHING`,
		requestID, ts(now))
	if isForeignKey(err) {
		return false, lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", requestID)
	} else if err != nil || ok {
		return ok, err
	}
	var exists bool
	err = t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM requests WHERE id = $1)`, requestID).Scan(&exists)
	if err != nil {
		return false, wrap("mark reminded", err)
	}
	if !exists {
		return false, lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", requestID)
	}
	return false, nil
}
