-- Published signing keys (issue 5, SPEC §9): only the public halves. The
-- private keys stay in the server's key directory. Rows are never updated
-- or deleted, so grants and checkpoints signed before a rotation verify.

-- +goose Up
CREATE TABLE signing_keys (
    kid          TEXT    NOT NULL PRIMARY KEY, -- UUIDv7: sorts oldest first
    kind         TEXT    NOT NULL CHECK (kind IN ('grant', 'log')),
    public_key   BLOB    NOT NULL,
    published_at INTEGER NOT NULL
) STRICT;

CREATE INDEX signing_keys_kind ON signing_keys (kind, kid);

-- +goose Down
DROP TABLE signing_keys;
