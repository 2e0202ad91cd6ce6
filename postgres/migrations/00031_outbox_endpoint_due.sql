-- A webhook delivery worker claims at most one wave of each endpoint's due
-- deliveries (lockbox.OutboxClaim.PerEndpoint, outbox/lane.go), so that one
-- endpoint's backlog does not hold every other endpoint's deliveries
-- behind it. Numbering the channel's whole due range by endpoint cost a
-- sort of the backlog at every claim (0.2 s at 100,000 due, inside a
-- write group). This index lets the claim visit each endpoint with
-- pending deliveries once and read its first few due: the cost follows
-- the endpoints, not the backlog. Pending webhook deliveries only. As
-- sqlite's 00029. The due time is GREATEST(lease_until, next_attempt_at),
-- the same value as outbox_claim's GREATEST(next_attempt_at, lease_until)
-- written the other way round, so that the claim's reads of one endpoint
-- match this index and no other (postgres/outbox.go).

-- +goose Up
CREATE INDEX outbox_endpoint_due ON outbox (webhook_id, (GREATEST(lease_until, next_attempt_at)), id)
	WHERE status = 'pending' AND channel = 'webhook';

-- +goose Down
DROP INDEX outbox_endpoint_due;
