-- When the outbox worker should wake (issue 16): NextOutboxWake asks for the
-- earliest time any pending message becomes claimable, the later of its
-- next attempt and its lease's end. Without an index on that expression
-- every pending message was read to find it (the whole backlog during a
-- receiver's outage: 17-46 ms a call measured with thousands pending); with
-- it the minimum is the index's first entry. Pending rows only, like
-- outbox_due, so delivered history costs nothing. As sqlite's 00020.

-- +goose Up
CREATE INDEX outbox_wake ON outbox ((GREATEST(next_attempt_at, lease_until))) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_wake;
