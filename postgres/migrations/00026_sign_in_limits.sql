-- Failed sign-ins per account, kept in the database so that every replica
-- enforces one limit (docs/identity.md, "Sign-in throttling"), as sqlite's
-- 00024: a token bucket per key, forgotten once full again.

-- +goose Up
CREATE TABLE sign_in_limits (
    key     text COLLATE "C" NOT NULL PRIMARY KEY,
    tokens  double precision NOT NULL,
    at      timestamptz      NOT NULL,
    full_at timestamptz      NOT NULL
);

CREATE INDEX sign_in_limits_full ON sign_in_limits (full_at);

-- +goose Down
DROP TABLE sign_in_limits;
