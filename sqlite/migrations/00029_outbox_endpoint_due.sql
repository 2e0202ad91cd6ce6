-- A webhook delivery worker claims at most one wave of each endpoint's due
-- deliveries (lockbox.OutboxClaim.PerEndpoint, outbox/lane.go), so that one
-- endpoint's backlog does not hold every other endpoint's deliveries
-- behind it. This index lets the claim visit each endpoint with pending
-- deliveries once and read its first few due: the cost follows the
-- endpoints, not the backlog (the expression written exactly as the
-- queries write it). Pending webhook deliveries only. As postgres's 00031.

-- +goose Up
CREATE INDEX outbox_endpoint_due ON outbox (webhook_id, max(next_attempt_at, coalesce(lease_until, 0)), id)
	WHERE status = 'pending' AND channel = 'webhook';

-- +goose Down
DROP INDEX outbox_endpoint_due;
