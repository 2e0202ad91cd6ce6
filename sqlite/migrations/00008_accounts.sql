-- Account lifecycle (issue 12, SPEC §10.1): disabled staff, one-time
-- passwords that must be changed, and when each token and session was
-- issued and last used (GET /v1/me/tokens). Tokens issued before this
-- migration read as created at the epoch.

-- +goose Up
ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN password_change_required INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
ALTER TABLE web_sessions ADD COLUMN last_used_at INTEGER;

-- +goose Down
ALTER TABLE web_sessions DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN last_used_at;
ALTER TABLE tokens DROP COLUMN created_at;
ALTER TABLE users DROP COLUMN password_change_required;
ALTER TABLE users DROP COLUMN disabled;
