-- The first schema: what lockbox.Store needs. Conventions for every table:
-- times are INTEGER unix microseconds in UTC (the caller's clock, never the
-- database's); lists are JSON arrays in TEXT; tables are STRICT so a wrong
-- type fails loudly instead of being stored as something else.

-- +goose Up
CREATE TABLE tenants (
    name                           TEXT    NOT NULL PRIMARY KEY,
    display_name                   TEXT    NOT NULL,
    created_at                     INTEGER NOT NULL,
    -- Settings live with the tenant: one row, read and written together.
    require_approval               INTEGER NOT NULL,
    request_ttl_minutes            INTEGER NOT NULL,
    max_access_minutes             INTEGER NOT NULL,
    notify_emails                  TEXT    NOT NULL,
    reminder_minutes_before_expiry INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id              TEXT    NOT NULL PRIMARY KEY,
    -- NOCASE: two spellings of one address are one account, so an alias can
    -- never pass as a different person (separation of duties).
    email           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    name            TEXT    NOT NULL,
    tenant          TEXT    NOT NULL, -- '' for provider staff and service accounts
    roles           TEXT    NOT NULL,
    service_account INTEGER NOT NULL,
    password_hash   TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;

CREATE INDEX users_tenant_email ON users (tenant, email);

CREATE TABLE tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at INTEGER -- NULL: never expires
) STRICT;

CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE services (
    name         TEXT    NOT NULL PRIMARY KEY,
    display_name TEXT    NOT NULL,
    operations   TEXT    NOT NULL,
    updated_at   INTEGER NOT NULL
) STRICT;

CREATE TABLE requests (
    id               TEXT    NOT NULL PRIMARY KEY,
    -- NOCASE: people type the code from an email; "lb-7k3q9mxa" is the same request.
    reference        TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    tenant           TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    service_request  TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    operations       TEXT    NOT NULL,
    duration_minutes INTEGER NOT NULL,
    start_time       INTEGER,
    status           TEXT    NOT NULL,
    requested_by     TEXT    NOT NULL,
    requester_id     TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    reviewed_by      TEXT,
    reviewed_at      INTEGER,
    review_comment   TEXT,
    decided_by       TEXT,
    decided_at       INTEGER,
    decision_comment TEXT,
    access_starts_at INTEGER,
    access_ends_at   INTEGER,
    ended_at         INTEGER,
    ended_by         TEXT,
    end_comment      TEXT,
    tenant_visible   INTEGER NOT NULL,
    version          INTEGER NOT NULL
) STRICT;

-- Listings are newest first with a (created_at, id) keyset cursor; each
-- common narrowing (tenant, requester, status queue) gets its own index in
-- that order so a page is an index range scan.
CREATE INDEX requests_created ON requests (created_at DESC, id DESC);
CREATE INDEX requests_tenant_created ON requests (tenant, created_at DESC, id DESC);
CREATE INDEX requests_requester_created ON requests (requester_id, created_at DESC, id DESC);
CREATE INDEX requests_status_created ON requests (status, created_at DESC, id DESC);

-- Deadlines, one partial index per kind: only live requests are indexed, so
-- the workers' due lookups stay small however many finished requests pile up.
CREATE INDEX requests_decision_due ON requests (status, expires_at) WHERE status IN ('pending_review', 'pending');
CREATE INDEX requests_start_due ON requests (status, access_starts_at) WHERE status = 'approved';
CREATE INDEX requests_end_due ON requests (status, access_ends_at) WHERE status = 'active';

-- One row per log: its size is the next index. Appends read and bump it in
-- the writing transaction, which is what keeps indexes gap-free.
CREATE TABLE audit_logs (
    log  TEXT    NOT NULL PRIMARY KEY,
    size INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_records (
    log         TEXT    NOT NULL,
    idx         INTEGER NOT NULL,
    id          TEXT    NOT NULL UNIQUE,
    -- The search columns repeat fields of canonical, which alone is
    -- authoritative: it is the exact Merkle leaf customers verify.
    time        INTEGER NOT NULL,
    record_type TEXT    NOT NULL,
    operation   TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,
    actor_type  TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    canonical   BLOB    NOT NULL,
    PRIMARY KEY (log, idx)
) STRICT;

CREATE INDEX audit_records_time ON audit_records (log, time DESC, idx DESC);
CREATE INDEX audit_records_request ON audit_records (log, request_id);

-- +goose Down
DROP TABLE audit_records;
DROP TABLE audit_logs;
DROP TABLE requests;
DROP TABLE services;
DROP TABLE tokens;
DROP TABLE users;
DROP TABLE tenants;
