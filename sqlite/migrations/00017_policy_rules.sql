-- A tenant's policy rules in CEL (SPEC §11, issue 14): one JSON array of
-- {"id","description","when","action"} per tenant (internal/sqlrows/rules.go).
-- '[]' is no rules: the settings decide, as before.

-- +goose Up
ALTER TABLE tenants ADD COLUMN policy_rules TEXT NOT NULL DEFAULT '[]';

-- +goose Down
ALTER TABLE tenants DROP COLUMN policy_rules;
