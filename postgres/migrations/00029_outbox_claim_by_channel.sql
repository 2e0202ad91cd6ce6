-- Each channel is delivered by a lane of its own (outbox/lane.go), so
-- that receivers of one channel (a tenant's webhook endpoint that hangs
-- until its timeout) never hold back the other's messages (approvers'
-- emails). A lane claims and wakes for its channel only: outbox_claim
-- gains the channel as its first column, so each lane's claim and wake-up
-- are a range of the index, however many due messages of the other
-- channel wait. Still one index entry a message. As sqlite's 00027.

-- +goose Up
CREATE INDEX outbox_claim_channel ON outbox (channel, (GREATEST(next_attempt_at, lease_until)), id) WHERE status = 'pending';
DROP INDEX outbox_claim;
ALTER INDEX outbox_claim_channel RENAME TO outbox_claim;

-- +goose Down
CREATE INDEX outbox_claim_any ON outbox ((GREATEST(next_attempt_at, lease_until)), id) WHERE status = 'pending';
DROP INDEX outbox_claim;
ALTER INDEX outbox_claim_any RENAME TO outbox_claim;
