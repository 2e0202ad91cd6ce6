package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertWebhook stores an endpoint and its secret; ECONFLICT when the id is
// taken, ENOTFOUND when the tenant does not exist.
func (t *tx) InsertWebhook(ctx context.Context, w *lockbox.Webhook, secret string) error {
	events, err := sqlrows.JSONList(w.Events)
	if err != nil {
		return wrap("insert webhook", err)
	}
	_, err = t.tx.ExecContext(ctx, `INSERT INTO webhooks
		(id, tenant, url, events, description, secret, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		w.ID, w.Tenant, w.URL, events, w.Description, secret, w.CreatedBy, micros(w.CreatedAt))
	switch {
	case isUnique(err):
		return lockbox.Errorf(lockbox.ECONFLICT, "Webhook %q already exists.", w.ID)
	case isForeignKey(err):
		return lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", w.Tenant)
	}
	return wrap("insert webhook", err)
}

// ListWebhooks returns a tenant's endpoints, oldest first, each with the
// end of its rotation's grace if it has a previous secret.
func (t *tx) ListWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, tenant, url, events, description, created_by, created_at, '',
		CASE WHEN previous_secret <> '' THEN previous_until ELSE 0 END
		FROM webhooks WHERE tenant = ? ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Webhook, error) {
		var until int64
		w, _, err := scanWebhook(s, &until)
		if err == nil && until != 0 {
			t := fromMicros(until)
			w.PreviousSecretExpiresAt = &t
		}
		return w, err
	})
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	if out == nil {
		out = []*lockbox.Webhook{} // serves as [], not null
	}
	return out, nil
}

// GetWebhook returns a tenant's endpoint and its secrets.
func (t *tx) GetWebhook(ctx context.Context, tenant, id string) (*lockbox.Webhook, lockbox.StoredWebhookSecrets, error) {
	row := t.tx.QueryRowContext(ctx, `SELECT id, tenant, url, events, description, created_by, created_at, secret,
		previous_secret, previous_until FROM webhooks WHERE tenant = ? AND id = ?`, tenant, id)
	var s lockbox.StoredWebhookSecrets
	var until int64
	w, current, err := scanWebhook(row, &s.Previous, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s, lockbox.Errorf(lockbox.ENOTFOUND, "Webhook %q not found.", id)
	} else if err != nil {
		return nil, s, wrap("get webhook", err)
	}
	s.Current = current
	if until != 0 {
		s.PreviousUntil = fromMicros(until)
	}
	return w, s, nil
}

// UpdateWebhook stores an endpoint's URL, events and description.
func (t *tx) UpdateWebhook(ctx context.Context, w *lockbox.Webhook) error {
	events, err := sqlrows.JSONList(w.Events)
	if err != nil {
		return wrap("update webhook", err)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET url = ?, events = ?, description = ? WHERE tenant = ? AND id = ?`,
		w.URL, events, w.Description, w.Tenant, w.ID)
	return expectRow(res, err, "update webhook", "Webhook %q not found.", w.ID)
}

// StaleWebhookSecrets returns the endpoints whose secret does not start
// with current.
func (t *tx) StaleWebhookSecrets(ctx context.Context, current string) ([]lockbox.WebhookSecret, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT tenant, id, secret FROM webhooks
		WHERE substr(secret, 1, length(?1)) <> ?1 ORDER BY tenant, id`, current)
	if err != nil {
		return nil, wrap("list webhook secrets", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.WebhookSecret)
	return out, wrap("list webhook secrets", err)
}

// ReplaceWebhookSecret sets an endpoint's secret if it is still old.
func (t *tx) ReplaceWebhookSecret(ctx context.Context, tenant, id, old, secret string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET secret = ? WHERE tenant = ? AND id = ? AND secret = ?`,
		secret, tenant, id, old)
	return expectRow(res, err, "replace webhook secret", "The secret of webhook %q changed meanwhile.", id)
}

// RotateWebhookSecret sets an endpoint's secrets if its current one is
// still old.
func (t *tx) RotateWebhookSecret(ctx context.Context, tenant, id, old string, next lockbox.StoredWebhookSecrets) error {
	var until int64
	if !next.PreviousUntil.IsZero() {
		until = micros(next.PreviousUntil)
	}
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET secret = ?, previous_secret = ?, previous_until = ?
		WHERE tenant = ? AND id = ? AND secret = ?`, next.Current, next.Previous, until, tenant, id, old)
	return expectRow(res, err, "rotate webhook secret", "The secret of webhook %q changed meanwhile.", id)
}

// webhookDeliveriesQuery reads an endpoint's messages, newest first, from
// outbox_webhook (migration 00026).
const webhookDeliveriesQuery = `SELECT ` + outboxRead + ` FROM outbox
	WHERE channel = 'webhook' AND webhook_id = ? AND tenant = ?
	ORDER BY created_at DESC, id DESC LIMIT ?`

// WebhookDeliveries returns an endpoint's messages, newest first.
func (t *tx) WebhookDeliveries(ctx context.Context, tenant, id string, limit int) ([]*lockbox.OutboxMessage, error) {
	rows, err := t.tx.QueryContext(ctx, webhookDeliveriesQuery, id, tenant, limit)
	if err != nil {
		return nil, wrap("list webhook deliveries", err)
	}
	msgs, err := sqlrows.Collect(rows, scanOutbox)
	return msgs, wrap("list webhook deliveries", err)
}

// waitingDeliveriesQuery counts endpoints' pending deliveries in
// outbox_endpoint_due (migration 00029), a range of it an endpoint; the
// endpoints' ids follow the tenant.
func waitingDeliveriesQuery(n int) string {
	return `SELECT webhook_id, count(*), min(created_at) FROM outbox INDEXED BY outbox_endpoint_due
		WHERE status = 'pending' AND channel = 'webhook' AND tenant = ? AND webhook_id IN (` + placeholders(n) + `)
		GROUP BY webhook_id`
}

// WaitingDeliveries counts endpoints' pending deliveries.
func (t *tx) WaitingDeliveries(ctx context.Context, tenant string, ids []string) (map[string]lockbox.WebhookWaiting, error) {
	out := map[string]lockbox.WebhookWaiting{}
	if len(ids) == 0 {
		return out, nil
	}
	args := []any{tenant}
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := t.tx.QueryContext(ctx, waitingDeliveriesQuery(len(ids)), args...)
	if err != nil {
		return nil, wrap("count waiting deliveries", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		var since int64
		if err := rows.Scan(&id, &n, &since); err != nil {
			return nil, wrap("count waiting deliveries", err)
		}
		out[id] = lockbox.WebhookWaiting{Count: n, Since: fromMicros(since)}
	}
	return out, wrap("count waiting deliveries", rows.Err())
}

// ResendWebhookDelivery makes a finished message of an endpoint pending
// again, due at now; its attempts and last error stay, for the list.
func (t *tx) ResendWebhookDelivery(ctx context.Context, tenant, webhookID, id string, now time.Time) (*lockbox.OutboxMessage, error) {
	m, err := scanOutbox(t.tx.QueryRowContext(ctx, `UPDATE outbox SET status = 'pending', next_attempt_at = ?, resent_at = ?, lease_until = NULL, finished_at = NULL
		WHERE id = ? AND tenant = ? AND channel = 'webhook' AND webhook_id = ? AND status <> 'pending'
		RETURNING `+outboxRead,
		micros(now), micros(now), id, tenant, webhookID))
	if !errors.Is(err, sql.ErrNoRows) {
		return m, wrap("resend webhook delivery", err)
	}
	var status string
	err = t.tx.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = ? AND tenant = ? AND channel = 'webhook' AND webhook_id = ?`, id, tenant, webhookID).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Delivery %q of webhook %q not found.", id, webhookID)
	case err != nil:
		return nil, wrap("resend webhook delivery", err)
	}
	return nil, lockbox.Errorf(lockbox.ECONFLICT, "Delivery %q is still being sent; it can be sent again once it is delivered or given up.", id)
}

// deleteWebhookMessagesQuery deletes an endpoint's undelivered messages,
// found in outbox_endpoint_due (migration 00029: the endpoint's pending
// deliveries only). Named, because outbox_claim (migration 00027) matches
// the pending webhook rows too, and without statistics SQLite would walk
// every one of them.
const deleteWebhookMessagesQuery = `DELETE FROM outbox INDEXED BY outbox_endpoint_due WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = ?`

// DeleteWebhook deletes an endpoint and its undelivered messages.
func (t *tx) DeleteWebhook(ctx context.Context, tenant, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM webhooks WHERE tenant = ? AND id = ?`, tenant, id)
	if err := expectRow(res, err, "delete webhook", "Webhook %q not found.", id); err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, deleteWebhookMessagesQuery, id)
	return wrap("delete webhook messages", err)
}

// scanWebhook scans an endpoint and its secret, then the columns extra
// points to.
func scanWebhook(s scanner, extra ...any) (*lockbox.Webhook, string, error) {
	var w lockbox.Webhook
	var events, secret string
	var created int64
	dest := []any{&w.ID, &w.Tenant, &w.URL, &events, &w.Description, &w.CreatedBy, &created, &secret}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, "", err
	}
	var err error
	if w.Events, err = sqlrows.ParseList[string](events); err != nil {
		return nil, "", err
	}
	w.CreatedAt = fromMicros(created)
	return &w, secret, nil
}
