-- When the outbox worker should wake (issue 16): NextOutboxWake asks for the
-- earliest time any pending message becomes claimable, the later of its
-- next attempt and its lease's end. Without an index on that expression
-- every pending message was read to find it (the whole backlog during a
-- receiver's outage); with it the minimum is the index's first entry. The
-- expression is written exactly as the query writes it, or SQLite does not
-- use the index. Pending rows only, like outbox_due. As postgres's 00020.

-- +goose Up
CREATE INDEX outbox_wake ON outbox (max(next_attempt_at, coalesce(lease_until, 0))) WHERE status = 'pending';

-- +goose Down
DROP INDEX outbox_wake;
