package postgres

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/lockboxhq/lockbox"
	"github.com/lockboxhq/lockbox/internal/sqlrows"
)

// InsertWebhook stores an endpoint and its secret; ECONFLICT when the id is
// taken, ENOTFOUND when the tenant does not exist. Neither aborts the
// transaction: the row is inserted only if the tenant exists.
func (t *tx) InsertWebhook(ctx context.Context, w *lockbox.Webhook, secret string) error {
	events, err := sqlrows.JSONList(w.Events)
	if err != nil {
		return wrap("insert webhook", err)
	}
	t.memo.hooks.changed()
	ok, err := t.insert(ctx, "insert webhook", `INSERT INTO webhooks
		(id, tenant, url, events, description, secret, created_by, created_at)
		SELECT $1::text, name, $3::text, $4::jsonb, $5::text, $6::text, $7::text, $8::timestamptz FROM tenants WHERE name = $2
		ON CONFLICT DO NOTHING`,
		w.ID, w.Tenant, w.URL, events, w.Description, secret, w.CreatedBy, ts(w.CreatedAt))
	switch {
	case isForeignKey(err):
		return lockbox.Errorf(lockbox.ENOTFOUND, "Tenant %q not found.", w.Tenant)
	case err != nil || ok:
		return err
	}
	if _, err := t.GetTenant(ctx, w.Tenant); err != nil {
		return err
	}
	return lockbox.Errorf(lockbox.ECONFLICT, "Webhook %q already exists.", w.ID)
}

// ListWebhooks returns a tenant's endpoints, oldest first, each with the
// end of its rotation's grace if it has a previous secret (none for an
// unknown tenant). A list this transaction read already, or one the Store
// remembers at the webhooks_version this transaction read on the tenant's
// row (listcache.go), costs no round trip.
func (t *tx) ListWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, error) {
	return listOf(&t.memo.hooks, t.hooks, tenant, cloneWebhook, func() ([]*lockbox.Webhook, int64, bool, error) {
		return t.readWebhooks(ctx, tenant)
	})
}

// readWebhooks reads a tenant's endpoints and webhooks_version in one
// statement, so one snapshot: the list is the one of that version. A
// tenant without webhooks is one row of empty columns; an unknown tenant,
// no row (found false).
func (t *tx) readWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, int64, bool, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT t.webhooks_version, coalesce(w.id, ''), coalesce(w.tenant, ''),
		coalesce(w.url, ''), coalesce(w.events, '[]'), coalesce(w.description, ''), coalesce(w.created_by, ''),
		coalesce(w.created_at, 'epoch'), '', CASE WHEN w.previous_secret <> '' THEN w.previous_until END
		FROM tenants t LEFT JOIN webhooks w ON w.tenant = t.name WHERE t.name = $1
		ORDER BY w.created_at, w.id`, tenant)
	if err != nil {
		return nil, 0, false, wrap("list webhooks", err)
	}
	var version int64
	found := false
	all, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Webhook, error) {
		found = true
		var until sql.NullTime
		w, _, err := scanWebhook(versioned{s, &version}, &until)
		if err == nil && until.Valid {
			t := until.Time.UTC()
			w.PreviousSecretExpiresAt = &t
		}
		return w, err
	})
	if err != nil {
		return nil, 0, false, wrap("list webhooks", err)
	}
	out := []*lockbox.Webhook{} // serves as [], not null
	for _, w := range all {
		if w.ID != "" {
			out = append(out, w)
		}
	}
	return out, version, found, nil
}

// versioned scans a row's first column into version and the rest as s
// would.
type versioned struct {
	s       scanner
	version *int64
}

func (v versioned) Scan(dest ...any) error {
	return v.s.Scan(append([]any{v.version}, dest...)...)
}

// GetWebhook returns a tenant's endpoint and its secrets.
func (t *tx) GetWebhook(ctx context.Context, tenant, id string) (*lockbox.Webhook, lockbox.StoredWebhookSecrets, error) {
	row := t.tx.QueryRowContext(ctx, `SELECT id, tenant, url, events, description, created_by, created_at, secret,
		previous_secret, previous_until FROM webhooks WHERE tenant = $1 AND id = $2`, tenant, id)
	var s lockbox.StoredWebhookSecrets
	var until sql.NullTime
	w, current, err := scanWebhook(row, &s.Previous, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, s, lockbox.Errorf(lockbox.ENOTFOUND, "Webhook %q not found.", id)
	} else if err != nil {
		return nil, s, wrap("get webhook", err)
	}
	s.Current = current
	if until.Valid {
		s.PreviousUntil = until.Time.UTC()
	}
	return w, s, nil
}

// UpdateWebhook stores an endpoint's URL, events and description.
func (t *tx) UpdateWebhook(ctx context.Context, w *lockbox.Webhook) error {
	events, err := sqlrows.JSONList(w.Events)
	if err != nil {
		return wrap("update webhook", err)
	}
	t.memo.hooks.changed()
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET url = $1, events = $2::jsonb, description = $3 WHERE tenant = $4 AND id = $5`,
		w.URL, events, w.Description, w.Tenant, w.ID)
	return expectRow(res, err, "update webhook", "Webhook %q not found.", w.ID)
}

// StaleWebhookSecrets returns the endpoints whose secret does not start
// with current.
func (t *tx) StaleWebhookSecrets(ctx context.Context, current string) ([]lockbox.WebhookSecret, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT tenant, id, secret FROM webhooks
		WHERE NOT starts_with(secret, $1) ORDER BY tenant, id`, current)
	if err != nil {
		return nil, wrap("list webhook secrets", err)
	}
	out, err := sqlrows.Collect(rows, sqlrows.WebhookSecret)
	return out, wrap("list webhook secrets", err)
}

// ReplaceWebhookSecret sets an endpoint's secret if it is still old.
func (t *tx) ReplaceWebhookSecret(ctx context.Context, tenant, id, old, secret string) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET secret = $1 WHERE tenant = $2 AND id = $3 AND secret = $4`,
		secret, tenant, id, old)
	return expectRow(res, err, "replace webhook secret", "The secret of webhook %q changed meanwhile.", id)
}

// RotateWebhookSecret sets an endpoint's secrets if its current one is
// still old. A rotation racing another waits for its row lock, then finds
// the secret changed (READ COMMITTED re-reads the row): one of them wins.
func (t *tx) RotateWebhookSecret(ctx context.Context, tenant, id, old string, next lockbox.StoredWebhookSecrets) error {
	var until sql.NullTime
	if !next.PreviousUntil.IsZero() {
		until = sql.NullTime{Time: ts(next.PreviousUntil), Valid: true}
	}
	t.memo.hooks.changed() // the list shows the grace's end
	res, err := t.tx.ExecContext(ctx, `UPDATE webhooks SET secret = $1, previous_secret = $2, previous_until = $3
		WHERE tenant = $4 AND id = $5 AND secret = $6`, next.Current, next.Previous, until, tenant, id, old)
	return expectRow(res, err, "rotate webhook secret", "The secret of webhook %q changed meanwhile.", id)
}

// webhookDeliveriesQuery reads an endpoint's messages, newest first, from
// outbox_webhook (migration 00028).
const webhookDeliveriesQuery = `SELECT ` + outboxRead + ` FROM outbox
	WHERE channel = 'webhook' AND webhook_id = $1 AND tenant = $2
	ORDER BY created_at DESC, id DESC LIMIT $3`

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
// outbox_endpoint_due (migration 00031), a range of it an endpoint.
const waitingDeliveriesQuery = `SELECT webhook_id, count(*), min(created_at) FROM outbox
	WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = ANY($1) AND tenant = $2
	GROUP BY webhook_id`

// WaitingDeliveries counts endpoints' pending deliveries.
func (t *tx) WaitingDeliveries(ctx context.Context, tenant string, ids []string) (map[string]lockbox.WebhookWaiting, error) {
	rows, err := t.tx.QueryContext(ctx, waitingDeliveriesQuery, ids, tenant)
	if err != nil {
		return nil, wrap("count waiting deliveries", err)
	}
	defer rows.Close()
	out := map[string]lockbox.WebhookWaiting{}
	for rows.Next() {
		var id string
		var w lockbox.WebhookWaiting
		if err := rows.Scan(&id, &w.Count, &w.Since); err != nil {
			return nil, wrap("count waiting deliveries", err)
		}
		w.Since = w.Since.UTC()
		out[id] = w
	}
	return out, wrap("count waiting deliveries", rows.Err())
}

// ResendWebhookDelivery makes a finished message of an endpoint pending
// again, due at now; its attempts and last error stay, for the list.
func (t *tx) ResendWebhookDelivery(ctx context.Context, tenant, webhookID, id string, now time.Time) (*lockbox.OutboxMessage, error) {
	m, err := scanOutbox(t.tx.QueryRowContext(ctx, `UPDATE outbox SET status = 'pending', next_attempt_at = $1, resent_at = $1, lease_until = NULL, finished_at = NULL
		WHERE id = $2 AND tenant = $3 AND channel = 'webhook' AND webhook_id = $4 AND status <> 'pending'
		RETURNING `+outboxRead,
		ts(now), id, tenant, webhookID))
	if !errors.Is(err, sql.ErrNoRows) {
		return m, wrap("resend webhook delivery", err)
	}
	var status string
	err = t.tx.QueryRowContext(ctx, `SELECT status FROM outbox WHERE id = $1 AND tenant = $2 AND channel = 'webhook' AND webhook_id = $3`, id, tenant, webhookID).Scan(&status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, lockbox.Errorf(lockbox.ENOTFOUND, "Delivery %q of webhook %q not found.", id, webhookID)
	case err != nil:
		return nil, wrap("resend webhook delivery", err)
	}
	return nil, lockbox.Errorf(lockbox.ECONFLICT, "Delivery %q is still being sent; it can be sent again once it is delivered or given up.", id)
}

// deleteWebhookMessagesQuery deletes an endpoint's undelivered messages,
// found in outbox_endpoint_due (migration 00031: an endpoint's pending
// deliveries only).
const deleteWebhookMessagesQuery = `DELETE FROM outbox WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = $1`

// DeleteWebhook deletes an endpoint and its undelivered messages, those an
// earlier member of the write group queued included (seeEarlierMessages:
// they are inserted with the group's COMMIT).
func (t *tx) DeleteWebhook(ctx context.Context, tenant, id string) error {
	ofHook := func(m *lockbox.OutboxMessage) bool { return m.Channel == lockbox.ChannelWebhook && m.WebhookID == id }
	if err := t.seeEarlierMessages(ofHook); err != nil {
		return err
	}
	t.memo.hooks.changed()
	res, err := t.tx.ExecContext(ctx, `DELETE FROM webhooks WHERE tenant = $1 AND id = $2`, tenant, id)
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
	var created time.Time
	dest := []any{&w.ID, &w.Tenant, &w.URL, &events, &w.Description, &w.CreatedBy, &created, &secret}
	if err := s.Scan(append(dest, extra...)...); err != nil {
		return nil, "", err
	}
	var err error
	if w.Events, err = sqlrows.ParseList[string](events); err != nil {
		return nil, "", err
	}
	w.CreatedAt = created.UTC()
	return &w, secret, nil
}
