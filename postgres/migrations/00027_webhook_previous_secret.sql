-- A webhook's signing secret can be rotated with a grace period
-- (docs/notifications.md, "Rotating a signing secret"): the secret it
-- replaced, sealed like the current one, signs deliveries too until
-- previous_until (NULL with no previous secret). As sqlite's 00025. The
-- webhooks_version trigger (00019) sees the rotation's UPDATE like any.

-- +goose Up
ALTER TABLE webhooks ADD COLUMN previous_secret text NOT NULL DEFAULT '',
                     ADD COLUMN previous_until timestamptz;

-- +goose Down
ALTER TABLE webhooks DROP COLUMN previous_until, DROP COLUMN previous_secret;
