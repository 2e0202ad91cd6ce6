-- Account lifecycle (issue 12, SPEC §10.1): the same change as sqlite's
-- 00008. Tokens issued before this migration read as created at the epoch.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled boolean NOT NULL DEFAULT false,
    ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;
ALTER TABLE tokens ADD COLUMN created_at timestamptz NOT NULL DEFAULT 'epoch',
    ADD COLUMN last_used_at timestamptz;
ALTER TABLE web_sessions ADD COLUMN last_used_at timestamptz;

-- +goose Down
ALTER TABLE web_sessions DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN last_used_at, DROP COLUMN created_at;
ALTER TABLE users DROP COLUMN password_change_required, DROP COLUMN disabled;
