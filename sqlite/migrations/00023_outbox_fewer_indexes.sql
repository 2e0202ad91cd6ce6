-- Fewer index entries for each notification (issue 16), as postgres's
-- 00024. outbox_due and outbox_wake held the same pending rows; a claim
-- asks for rows whose next attempt and lease have both passed, which is
-- "the later of the two has passed", so outbox_claim, on that expression
-- (written exactly as the queries write it, or SQLite does not use it) and
-- id, serves both the claim and NextOutboxWake. outbox_webhook held every
-- pending email too, under ''; only deleting an endpoint reads it, for
-- webhook deliveries. An email is now entered in three indexes, not five.

-- +goose Up
CREATE INDEX outbox_claim ON outbox (max(next_attempt_at, coalesce(lease_until, 0)), id) WHERE status = 'pending';
DROP INDEX outbox_due;
DROP INDEX outbox_wake;
CREATE INDEX outbox_webhook_pending ON outbox (webhook_id) WHERE status = 'pending' AND channel = 'webhook';
DROP INDEX outbox_webhook;

-- +goose Down
CREATE INDEX outbox_webhook ON outbox (webhook_id) WHERE status = 'pending';
DROP INDEX outbox_webhook_pending;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_wake ON outbox (max(next_attempt_at, coalesce(lease_until, 0))) WHERE status = 'pending';
DROP INDEX outbox_claim;
