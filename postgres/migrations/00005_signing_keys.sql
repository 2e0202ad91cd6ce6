-- Published signing keys (issue 5, SPEC §9), as sqlite's 00005: only the
-- public halves. The private keys stay in the server's key directory. Rows
-- are never updated or deleted, so grants and checkpoints signed before a
-- rotation verify.

-- +goose Up
CREATE TABLE signing_keys (
    kid          text COLLATE "C" NOT NULL PRIMARY KEY, -- UUIDv7: sorts oldest first
    kind         text COLLATE "C" NOT NULL CHECK (kind IN ('grant', 'log')),
    public_key   bytea       NOT NULL,
    published_at timestamptz NOT NULL
);

CREATE INDEX signing_keys_kind ON signing_keys (kind, kid);

-- +goose Down
DROP TABLE signing_keys;
