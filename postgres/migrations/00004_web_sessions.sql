-- Web admin center sessions (issue 6), as sqlite's 00004. The browser holds
-- a random token; only its SHA-256 hash is stored. A session is valid while
-- the caller's "now" is before both deadlines; rows past them are dead even
-- before housekeeping deletes them.

-- +goose Up
CREATE TABLE web_sessions (
    hash            bytea       NOT NULL PRIMARY KEY,
    user_id         text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL
);

CREATE INDEX web_sessions_user ON web_sessions (user_id);
-- Housekeeping finds dead sessions by either deadline.
CREATE INDEX web_sessions_idle ON web_sessions (idle_expires_at);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
