-- Each channel is delivered by a lane of its own (outbox/lane.go), so
-- that receivers of one channel (a tenant's webhook endpoint that hangs
-- until its timeout) never hold back the other's messages (approvers'
-- emails). A lane claims and wakes for its channel only: outbox_claim
-- gains the channel as its first column (the expression still written
-- exactly as the queries write it), so each lane's claim and wake-up are a
-- range of the index. Still one index entry a message. As postgres's
-- 00029.

-- +goose Up
DROP INDEX outbox_claim;
CREATE INDEX outbox_claim ON outbox (channel, max(next_attempt_at, coalesce(lease_until, 0)), id) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_claim;
CREATE INDEX outbox_claim ON outbox (max(next_attempt_at, coalesce(lease_until, 0)), id) WHERE status = 'pending';
