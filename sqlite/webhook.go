package sqlite

import (
	"context"
	"database/sql"
	"errors"

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

// ListWebhooks returns a tenant's endpoints, oldest first.
func (t *tx) ListWebhooks(ctx context.Context, tenant string) ([]*lockbox.Webhook, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT id, tenant, url, events, description, created_by, created_at, ''
		FROM webhooks WHERE tenant = ? ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, wrap("list webhooks", err)
	}
	out, err := sqlrows.Collect(rows, func(s scanner) (*lockbox.Webhook, error) {
		w, _, err := scanWebhook(s)
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

// GetWebhook returns a tenant's endpoint and its secret.
func (t *tx) GetWebhook(ctx context.Context, tenant, id string) (*lockbox.Webhook, string, error) {
	row := t.tx.QueryRowContext(ctx, `SELECT id, tenant, url, events, description, created_by, created_at, secret
		FROM webhooks WHERE tenant = ? AND id = ?`, tenant, id)
	w, secret, err := scanWebhook(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", lockbox.Errorf(lockbox.ENOTFOUND, "Webhook %q not found.", id)
	}
	return w, secret, wrap("get webhook", err)
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

// deleteWebhookMessagesQuery deletes an endpoint's undelivered messages,
// found in outbox_webhook_pending (migration 00023).
const deleteWebhookMessagesQuery = `DELETE FROM outbox WHERE status = 'pending' AND channel = 'webhook' AND webhook_id = ?`

// DeleteWebhook deletes an endpoint and its undelivered messages.
func (t *tx) DeleteWebhook(ctx context.Context, tenant, id string) error {
	res, err := t.tx.ExecContext(ctx, `DELETE FROM webhooks WHERE tenant = ? AND id = ?`, tenant, id)
	if err := expectRow(res, err, "delete webhook", "Webhook %q not found.", id); err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, deleteWebhookMessagesQuery, id)
	return wrap("delete webhook messages", err)
}

func scanWebhook(s scanner) (*lockbox.Webhook, string, error) {
	var w lockbox.Webhook
	var events, secret string
	var created int64
	if err := s.Scan(&w.ID, &w.Tenant, &w.URL, &events, &w.Description, &w.CreatedBy, &created, &secret); err != nil {
		return nil, "", err
	}
	var err error
	if w.Events, err = sqlrows.ParseList[string](events); err != nil {
		return nil, "", err
	}
	w.CreatedAt = fromMicros(created)
	return &w, secret, nil
}
