-- An endpoint's recent deliveries, newest first (GET …/webhooks/{id}/
-- deliveries, docs/notifications.md): outbox_webhook_pending held only the
-- pending ones. This index holds every webhook message of an endpoint, so
-- a webhook message is still entered in one index of this kind, and it
-- serves deleting an endpoint's pending messages too. As postgres's 00028.

-- +goose Up
CREATE INDEX outbox_webhook ON outbox (webhook_id, created_at DESC, id DESC) WHERE channel = 'webhook';
DROP INDEX outbox_webhook_pending;

-- +goose Down
CREATE INDEX outbox_webhook_pending ON outbox (webhook_id) WHERE status = 'pending' AND channel = 'webhook';
DROP INDEX outbox_webhook;
