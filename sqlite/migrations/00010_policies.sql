-- Approval policies (SPEC §11, issue 14): a request's quorum, approvals and
-- what the operator requested, and a tenant's policy settings, each as one
-- JSON document (internal/sqlrows/policy.go). '{}' reads as before
-- policies: one approval, and the request granting what it asked for.

-- +goose Up
ALTER TABLE requests ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';

-- +goose Down
ALTER TABLE tenants DROP COLUMN policy;
ALTER TABLE requests DROP COLUMN policy;
