-- Failed sign-ins per account, kept in the database so that every replica
-- enforces one limit (docs/identity.md, "Sign-in throttling"), as
-- postgres's 00026: a token bucket per key, forgotten once full again.

-- +goose Up
CREATE TABLE sign_in_limits (
    key     TEXT    NOT NULL PRIMARY KEY,
    tokens  REAL    NOT NULL,
    at      INTEGER NOT NULL,
    full_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sign_in_limits_full ON sign_in_limits (full_at);

-- +goose Down
DROP TABLE sign_in_limits;
