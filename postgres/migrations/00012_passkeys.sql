-- Passkeys (SPEC §10.3, issue 12): each user's WebAuthn credentials, and
-- the server side of every WebAuthn ceremony (registration state, sign-in
-- and decision challenges), kept in the database so that any replica can
-- finish a ceremony another began, and a challenge is used at most once.

-- +goose Up
CREATE TABLE passkeys (
    id           text COLLATE "C" NOT NULL PRIMARY KEY, -- credential id, base64url
    user_id      text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text        NOT NULL,
    public_key   bytea       NOT NULL,             -- COSE
    sign_count   bigint      NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_challenges (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    subject    text        NOT NULL,
    data       bytea       NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX passkey_challenges_user ON passkey_challenges (user_id, kind, subject);
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);

-- +goose Down
DROP TABLE passkey_challenges;
DROP TABLE passkeys;
