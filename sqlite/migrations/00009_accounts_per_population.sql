-- One address, one account per population (issue 12, docs/identity.md):
-- provider staff ('' tenant) and each tenant are separate namespaces, so
-- adding a user never collides with, and so never reveals, an account of
-- another tenant. users.email loses its inline UNIQUE; (tenant, email) is
-- unique instead, still in any letter case.
--
-- SQLite cannot drop an inline constraint: the table is rebuilt. Dropping
-- users with foreign keys on deletes the tokens and web sessions that
-- reference it (ON DELETE CASCADE), so they are kept aside and put back,
-- all in this migration's one transaction.

-- +goose Up
CREATE TEMP TABLE keep_tokens AS SELECT * FROM tokens;
CREATE TEMP TABLE keep_web_sessions AS SELECT * FROM web_sessions;

CREATE TABLE users_new (
    id                       TEXT    NOT NULL PRIMARY KEY,
    email                    TEXT    NOT NULL COLLATE NOCASE,
    name                     TEXT    NOT NULL,
    tenant                   TEXT    NOT NULL, -- '' for provider staff and service accounts
    roles                    TEXT    NOT NULL,
    service_account          INTEGER NOT NULL,
    password_hash            TEXT    NOT NULL,
    created_at               INTEGER NOT NULL,
    disabled                 INTEGER NOT NULL DEFAULT 0,
    password_change_required INTEGER NOT NULL DEFAULT 0,
    UNIQUE (tenant, email)
) STRICT;
INSERT INTO users_new (id, email, name, tenant, roles, service_account, password_hash, created_at,
    disabled, password_change_required)
    SELECT id, email, name, tenant, roles, service_account, password_hash, created_at,
    disabled, password_change_required FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
CREATE INDEX users_email ON users (email);

INSERT INTO tokens SELECT * FROM keep_tokens;
INSERT INTO web_sessions SELECT * FROM keep_web_sessions;
DROP TABLE keep_tokens;
DROP TABLE keep_web_sessions;

-- +goose Down
SELECT 'a database with one address in several populations cannot go back' WHERE 0;
