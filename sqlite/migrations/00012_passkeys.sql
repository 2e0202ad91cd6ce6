-- Passkeys (SPEC §10.3, issue 12): each user's WebAuthn credentials, and
-- the server side of every WebAuthn ceremony (registration state, sign-in
-- and decision challenges), kept in the database so that any replica can
-- finish a ceremony another began, and a challenge is used at most once.

-- +goose Up
CREATE TABLE passkeys (
    id           TEXT    NOT NULL PRIMARY KEY, -- credential id, base64url
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    public_key   BLOB    NOT NULL,             -- COSE
    sign_count   INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
) STRICT;
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_challenges (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    data       BLOB    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX passkey_challenges_user ON passkey_challenges (user_id, kind, subject);
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);

-- +goose Down
DROP TABLE passkey_challenges;
DROP TABLE passkeys;
