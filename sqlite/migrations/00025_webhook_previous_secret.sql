-- A webhook's signing secret can be rotated with a grace period
-- (docs/notifications.md, "Rotating a signing secret"): the secret it
-- replaced, sealed like the current one, signs deliveries too until
-- previous_until (microseconds; 0 with no previous secret). As postgres's
-- 00027.

-- +goose Up
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhooks ADD COLUMN previous_until INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN previous_until;
ALTER TABLE webhooks DROP COLUMN previous_secret;
