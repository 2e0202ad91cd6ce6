-- Fewer index entries for each notification (issue 16). Every message was
-- entered in five indexes when stored. Two of them are now gone:
--
-- * outbox_due (next_attempt_at, id) and outbox_wake (the later of
--   next_attempt_at and lease_until) held the same pending rows. A claim
--   asks for rows whose next attempt and lease have both passed, which is
--   "that later time has passed". So outbox_claim, on that time and id,
--   answers both the claim, in the order they fall due, and
--   NextOutboxWake, its first entry.
-- * outbox_webhook (webhook_id) held every pending email too, under ''.
--   Only deleting an endpoint reads it, and only for webhook deliveries.
--
-- An email is now entered in three indexes (primary key, outbox_created,
-- outbox_claim) and a webhook delivery in four. As sqlite's 00023.

-- +goose Up
CREATE INDEX outbox_claim ON outbox ((GREATEST(next_attempt_at, lease_until)), id) WHERE status = 'pending';
DROP INDEX outbox_due;
DROP INDEX outbox_wake;
CREATE INDEX outbox_webhook_pending ON outbox (webhook_id) WHERE status = 'pending' AND channel = 'webhook';
DROP INDEX outbox_webhook;

-- +goose Down
CREATE INDEX outbox_webhook ON outbox (webhook_id) WHERE status = 'pending';
DROP INDEX outbox_webhook_pending;
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_wake ON outbox ((GREATEST(next_attempt_at, lease_until))) WHERE status = 'pending';
DROP INDEX outbox_claim;
