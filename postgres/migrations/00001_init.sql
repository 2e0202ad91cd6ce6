-- The first schema: what lockbox.Store needs, the same tables and meaning as
-- sqlite/migrations/00001_init.sql. Conventions for every table:
-- times are timestamptz (microseconds), always the application's clock
-- passed as a parameter, never now(); lists are jsonb arrays; text that is
-- compared or sorted is COLLATE "C" so that order and equality are byte-wise,
-- as in SQLite, whatever locale the cluster was created with.

-- +goose Up
CREATE TABLE tenants (
    name                           text COLLATE "C" NOT NULL PRIMARY KEY,
    display_name                   text        NOT NULL,
    created_at                     timestamptz NOT NULL,
    -- Settings live with the tenant: one row, read and written together.
    require_approval               boolean     NOT NULL,
    request_ttl_minutes            integer     NOT NULL,
    max_access_minutes             integer     NOT NULL,
    notify_emails                  jsonb       NOT NULL,
    reminder_minutes_before_expiry integer     NOT NULL
);

CREATE TABLE users (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    email           text COLLATE "C" NOT NULL,
    name            text        NOT NULL,
    tenant          text COLLATE "C" NOT NULL, -- '' for provider staff and service accounts
    roles           jsonb       NOT NULL,
    service_account boolean     NOT NULL,
    password_hash   text        NOT NULL,
    created_at      timestamptz NOT NULL
);

-- lower() under the "C" collation folds ASCII letters only, exactly like
-- SQLite's NOCASE: two spellings of one address are one account, so an
-- alias can never pass as a different person (separation of duties).
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_tenant_email ON users (tenant, lower(email));

CREATE TABLE tokens (
    hash       bytea       NOT NULL PRIMARY KEY,
    user_id    text COLLATE "C" NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at timestamptz -- NULL: never expires
);

CREATE INDEX tokens_user ON tokens (user_id);

CREATE TABLE services (
    name         text COLLATE "C" NOT NULL PRIMARY KEY,
    display_name text        NOT NULL,
    operations   jsonb       NOT NULL,
    updated_at   timestamptz NOT NULL
);

CREATE TABLE requests (
    id               text COLLATE "C" NOT NULL PRIMARY KEY,
    -- Unique in any letter case (index below): people type the code from an email.
    reference        text COLLATE "C" NOT NULL,
    tenant           text COLLATE "C" NOT NULL,
    service          text COLLATE "C" NOT NULL,
    service_request  text        NOT NULL,
    reason           text        NOT NULL,
    operations       jsonb       NOT NULL,
    duration_minutes integer     NOT NULL,
    start_time       timestamptz,
    status           text COLLATE "C" NOT NULL,
    requested_by     text        NOT NULL,
    requester_id     text COLLATE "C" NOT NULL,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    reviewed_by      text,
    reviewed_at      timestamptz,
    review_comment   text,
    decided_by       text,
    decided_at       timestamptz,
    decision_comment text,
    access_starts_at timestamptz,
    access_ends_at   timestamptz,
    ended_at         timestamptz,
    ended_by         text,
    end_comment      text,
    tenant_visible   boolean     NOT NULL,
    version          integer     NOT NULL
);

CREATE UNIQUE INDEX requests_reference ON requests (lower(reference));

-- Listings are newest first with a (created_at, id) keyset cursor; each
-- common narrowing (tenant, requester, status queue) gets its own index in
-- that order so a page is an index range scan.
CREATE INDEX requests_created ON requests (created_at DESC, id DESC);
CREATE INDEX requests_tenant_created ON requests (tenant, created_at DESC, id DESC);
CREATE INDEX requests_requester_created ON requests (requester_id, created_at DESC, id DESC);
CREATE INDEX requests_status_created ON requests (status, created_at DESC, id DESC);

-- Deadlines, one partial index per kind: only live requests are indexed, so
-- the workers' due lookups stay small however many finished requests pile up.
CREATE INDEX requests_decision_due ON requests (expires_at, id) WHERE status IN ('pending_review', 'pending');
CREATE INDEX requests_start_due ON requests (access_starts_at, id) WHERE status = 'approved';
CREATE INDEX requests_end_due ON requests (access_ends_at, id) WHERE status = 'active';

-- One row per log: its size is the next index. Appends lock this row
-- (SELECT … FOR UPDATE) and bump it in the writing transaction, which
-- serializes appends to one log across connections and replicas and keeps
-- indexes gap-free.
CREATE TABLE audit_logs (
    log  text COLLATE "C" NOT NULL PRIMARY KEY,
    size bigint NOT NULL
);

CREATE TABLE audit_records (
    log         text COLLATE "C" NOT NULL,
    idx         bigint      NOT NULL,
    id          text COLLATE "C" NOT NULL UNIQUE,
    -- The search columns repeat fields of canonical, which alone is
    -- authoritative: it is the exact Merkle leaf customers verify.
    time        timestamptz NOT NULL,
    record_type text COLLATE "C" NOT NULL,
    operation   text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    actor_type  text COLLATE "C" NOT NULL,
    request_id  text COLLATE "C" NOT NULL,
    canonical   bytea       NOT NULL,
    PRIMARY KEY (log, idx)
);

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
