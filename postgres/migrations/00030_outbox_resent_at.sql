-- When a finished webhook delivery was last sent again on request
-- (ResendWebhookDelivery): its 24 hours of retries count from then, not
-- from when it was created, so a resent delivery that fails is retried,
-- not given up at that attempt. NULL for one never resent, which is every
-- email. As sqlite's 00028.

-- +goose Up
ALTER TABLE outbox ADD COLUMN resent_at timestamptz;

-- +goose Down
ALTER TABLE outbox DROP COLUMN resent_at;
