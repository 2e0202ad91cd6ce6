-- Break-glass (SPEC §11, issue 14): a break-glass request that gave access
-- needs a tenant approver's acknowledgement, and GET /v1/requests?needs_review=true
-- lists those, so the flag is a column the listing filters on (the workflow
-- sets and clears it: lockbox's event table). The rest of break-glass and
-- escalation lives in the policy documents of 00010.

-- +goose Up
ALTER TABLE requests ADD COLUMN needs_review boolean NOT NULL DEFAULT false;
CREATE INDEX requests_needs_review ON requests (tenant, created_at DESC, id DESC) WHERE needs_review;

-- +goose Down
DROP INDEX requests_needs_review;
ALTER TABLE requests DROP COLUMN needs_review;
