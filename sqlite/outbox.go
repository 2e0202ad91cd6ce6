package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// The notification outbox (lockbox.OutboxTx). Every Update holds the
// database's single write lock, so a claim and its lease are atomic with
// respect to every other claimer of the same file.

// outboxColumns are those a message is inserted with; outboxRead those it
// is read with (scanOutbox): resent_at is set only by a resend.
const outboxColumns = `id, channel, tenant, type, recipient, webhook_id, payload, status,
	attempts, created_at, next_attempt_at, last_error, finished_at`

const outboxRead = outboxColumns + `, resent_at`

// EnqueueOutbox stores new messages; ECONFLICT when an id is taken.
func (t *tx) EnqueueOutbox(ctx context.Context, msgs ...*lockbox.OutboxMessage) error {
	for _, m := range msgs {
		_, err := t.tx.ExecContext(ctx, `INSERT INTO outbox (`+outboxColumns+`, lease_until)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Channel, m.Tenant, m.Type, m.To, m.WebhookID, m.Payload, m.Status,
			m.Attempts, micros(m.CreatedAt), micros(m.NextAttemptAt), m.LastError, nullMicros(m.FinishedAt),
			nullMicros(m.LeaseUntil))
		if isUnique(err) {
			return lockbox.Errorf(lockbox.ECONFLICT, "Outbox message %q already exists.", m.ID)
		} else if err != nil {
			return wrap("enqueue outbox", err)
		}
	}
	return nil
}

// claimOutboxQuery walks the channel's range of outbox_claim (pending rows
// in the order they become claimable: the later of the next attempt and
// the lease's end; migration 00027) and stops at limit.
const claimOutboxQuery = `UPDATE outbox SET attempts = attempts + 1, lease_until = ?
	WHERE id IN (SELECT id FROM outbox
		WHERE status = 'pending' AND channel = ? AND max(next_attempt_at, coalesce(lease_until, 0)) <= ?
		ORDER BY max(next_attempt_at, coalesce(lease_until, 0)), id LIMIT ?)
	RETURNING ` + outboxRead

// claimPerEndpointQuery is claimOutboxQuery for webhooks taking at most
// the third argument's number of deliveries of one endpoint, and none of
// the skip endpoints that follow it. It walks the endpoints with pending
// deliveries through outbox_endpoint_due (migration 00029), one index
// descent each, reads the first few due of each from the same index, and
// takes the earliest of those up to the limit: its cost follows the
// endpoints, not the backlog. The index is named: outbox_claim matches the
// pending webhook rows too, and without statistics SQLite would walk and
// sort all of them.
func claimPerEndpointQuery(skip int) string {
	return `WITH RECURSIVE endpoints (webhook_id) AS (
		SELECT (SELECT webhook_id FROM outbox INDEXED BY outbox_endpoint_due WHERE status = 'pending' AND channel = 'webhook'
			ORDER BY webhook_id LIMIT 1)
		UNION ALL
		SELECT (SELECT o.webhook_id FROM outbox o INDEXED BY outbox_endpoint_due
			WHERE o.status = 'pending' AND o.channel = 'webhook' AND o.webhook_id > e.webhook_id
			ORDER BY o.webhook_id LIMIT 1)
		FROM endpoints e WHERE e.webhook_id IS NOT NULL)
	UPDATE outbox SET attempts = attempts + 1, lease_until = ?
	WHERE id IN (SELECT o.id FROM endpoints e JOIN outbox o ON o.id IN (SELECT id FROM outbox INDEXED BY outbox_endpoint_due
			WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = e.webhook_id
				AND max(next_attempt_at, coalesce(lease_until, 0)) <= ?
			ORDER BY max(next_attempt_at, coalesce(lease_until, 0)), id LIMIT ?)
		WHERE e.webhook_id NOT IN (` + placeholders(skip) + `) -- () when none: SQLite allows an empty list
		ORDER BY max(o.next_attempt_at, coalesce(o.lease_until, 0)), o.id LIMIT ?)
	RETURNING ` + outboxRead
}

// ClaimOutbox leases due pending messages; see lockbox.OutboxTx.
func (t *tx) ClaimOutbox(ctx context.Context, c lockbox.OutboxClaim) ([]*lockbox.OutboxMessage, error) {
	query, args := claimOutboxQuery, []any{micros(c.LeaseUntil), c.Channel, micros(c.Now), c.Limit}
	if c.PerEndpoint > 0 && c.Channel == lockbox.ChannelWebhook {
		query, args = claimPerEndpointQuery(len(c.Skip)), []any{micros(c.LeaseUntil), micros(c.Now), c.PerEndpoint}
		for _, id := range c.Skip {
			args = append(args, id)
		}
		args = append(args, c.Limit)
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

// FinishOutbox records attempts' results if the caller still holds them,
// one statement each inside the caller's transaction (in-process SQLite
// has no round trips to save; the one commit is what the caller groups).
func (t *tx) FinishOutbox(ctx context.Context, results ...lockbox.OutboxFinish) ([]error, error) {
	errs := make([]error, len(results))
	if err := lockbox.CheckOutboxFinishes(results); err != nil {
		return errs, err
	}
	for i, f := range results {
		var finished, next sql.Null[int64]
		if f.Result.Finished() {
			finished = sql.Null[int64]{V: micros(f.Result.At), Valid: true}
		} else {
			next = sql.Null[int64]{V: micros(f.Result.NextAttemptAt), Valid: true}
		}
		n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `UPDATE outbox SET status = ?, last_error = ?, finished_at = ?,
			next_attempt_at = coalesce(?, next_attempt_at), lease_until = NULL
			WHERE id = ? AND attempts = ? AND status = 'pending'`,
			f.Result.Status, f.Result.LastError, finished, next, f.ID, f.Attempt))
		if err != nil {
			return nil, wrap("finish outbox", err)
		}
		if n == 0 {
			errs[i] = lockbox.Errorf(lockbox.ECONFLICT, "Outbox message %q is no longer at attempt %d.", f.ID, f.Attempt)
		}
	}
	return errs, nil
}

// ReleaseOutbox gives back claimed messages never attempted, one
// statement each (see FinishOutbox); see lockbox.OutboxTx.
func (t *tx) ReleaseOutbox(ctx context.Context, held ...lockbox.OutboxAttempt) (int, error) {
	released := 0
	for _, h := range held {
		n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `UPDATE outbox SET attempts = attempts - 1, lease_until = NULL
			WHERE id = ? AND attempts = ? AND status = 'pending'`, h.ID, h.Attempt))
		if err != nil {
			return 0, wrap("release outbox", err)
		}
		released += int(n)
	}
	return released, nil
}

// nextOutboxWakeQuery reads the first entry of the channel's range of
// outbox_claim (migration 00027), an index on exactly this expression.
const nextOutboxWakeQuery = `SELECT min(max(next_attempt_at, coalesce(lease_until, 0))) FROM outbox WHERE status = 'pending' AND channel = ?`

// NextOutboxWake returns when the next pending message becomes claimable.
func (t *tx) NextOutboxWake(ctx context.Context, channel string) (time.Time, error) {
	var next sql.Null[int64]
	err := t.tx.QueryRowContext(ctx, nextOutboxWakeQuery, channel).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, wrap("next outbox wake", err)
	}
	return fromMicros(next.V), nil
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
	var oldest int64
	if err := s.Scan(&c.Channel, &c.Status, &c.Count, &oldest); err != nil {
		return c, err
	}
	c.Oldest = fromMicros(oldest)
	return c, nil
}

// ListOutbox lists messages newest first.
func (t *tx) ListOutbox(ctx context.Context, q lockbox.OutboxQuery) ([]*lockbox.OutboxMessage, error) {
	if q.Limit <= 0 {
		q.Limit = 100
	}
	rows, err := t.tx.QueryContext(ctx, `SELECT `+outboxRead+` FROM outbox
		WHERE (? = '' OR channel = ?) AND (? = '' OR status = ?) AND (? = '' OR tenant = ?)
		ORDER BY created_at DESC, id DESC LIMIT ?`,
		q.Channel, q.Channel, q.Status, q.Status, q.Tenant, q.Tenant, q.Limit)
	if err != nil {
		return nil, wrap("list outbox", err)
	}
	msgs, err := sqlrows.Collect(rows, scanOutbox)
	return msgs, wrap("list outbox", err)
}

// PurgeOutbox deletes finished messages older than before.
func (t *tx) PurgeOutbox(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox
		WHERE status <> 'pending' AND finished_at < ? LIMIT ?)`, micros(before), limit))
	return int(n), wrap("purge outbox", err)
}

func scanOutbox(s scanner) (*lockbox.OutboxMessage, error) {
	var m lockbox.OutboxMessage
	var created, next int64
	var finished, resent sql.Null[int64]
	err := s.Scan(&m.ID, &m.Channel, &m.Tenant, &m.Type, &m.To, &m.WebhookID, &m.Payload, &m.Status,
		&m.Attempts, &created, &next, &m.LastError, &finished, &resent)
	if err != nil {
		return nil, err
	}
	m.CreatedAt, m.NextAttemptAt, m.FinishedAt, m.ResentAt = fromMicros(created), fromMicros(next), timePtr(finished), timePtr(resent)
	return &m, nil
}

// Reminder queries: range scans of remind_at, which the workflow computes
// (lockbox.RemindAt) and writes with every change, skipping the requests
// whose reminder is recorded already (MarkReminded).
const (
	dueRemindersQuery = `SELECT id FROM requests r WHERE remind_at <= ?
		AND NOT EXISTS (SELECT 1 FROM request_reminders m WHERE m.request_id = r.id)
		ORDER BY id LIMIT ?`
	nextReminderQuery = `SELECT MIN(remind_at) FROM requests r WHERE remind_at > ?
		AND NOT EXISTS (SELECT 1 FROM request_reminders m WHERE m.request_id = r.id)`
)

// DueReminders returns requests whose reminder time has come.
func (t *tx) DueReminders(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, dueRemindersQuery, micros(now), limit)
	if err != nil {
		return nil, wrap("due reminders", err)
	}
	ids, err := sqlrows.Collect(rows, sqlrows.Value[string])
	return ids, wrap("due reminders", err)
}

// NextReminder returns the earliest reminder time after now.
func (t *tx) NextReminder(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.Null[int64]
	err := t.tx.QueryRowContext(ctx, nextReminderQuery, micros(now)).Scan(&next)
	if err != nil || !next.Valid {
		return time.Time{}, wrap("next reminder", err)
	}
	return fromMicros(next.V), nil
}

// MarkReminded records a request's reminder once.
func (t *tx) MarkReminded(ctx context.Context, requestID string, now time.Time) (bool, error) {
	n, err := sqlrows.RowsAffected(t.tx.ExecContext(ctx, `INSERT INTO request_reminders (request_id, sent_at)
		VALUES (?, ?) ON CONFLICT (request_id) DO NOTHING`, requestID, micros(now)))
	if isForeignKey(err) {
		return false, lockbox.Errorf(lockbox.ENOTFOUND, "Request %q not found.", requestID)
	} else if err != nil {
		return false, wrap("mark reminded", err)
	}
	return n == 1, nil
}
