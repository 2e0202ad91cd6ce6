-- Notifications (issue 7): the outbox every email and webhook delivery goes
-- through, the tenants' webhook endpoints, and the record of expiry
-- reminders already enqueued (one per request, however many replicas).

-- +goose Up
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    channel         TEXT    NOT NULL, -- 'email' or 'webhook'
    tenant          TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    recipient       TEXT    NOT NULL, -- the email address; '' for webhooks
    webhook_id      TEXT    NOT NULL, -- the endpoint; '' for email
    payload         BLOB    NOT NULL, -- the lockbox.Notice as JSON
    status          TEXT    NOT NULL, -- 'pending', 'delivered' or 'dead'
    attempts        INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    -- A claimed message is leased to one worker until lease_until; another
    -- may take it only after that (the worker crashed mid-attempt).
    lease_until     INTEGER,
    last_error      TEXT    NOT NULL,
    finished_at     INTEGER -- delivered or dead at
) STRICT;

-- The claim query walks due pending messages in next-attempt order; only
-- pending rows are indexed, so delivered history does not slow it down.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_created ON outbox (created_at DESC, id DESC);
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'pending';
CREATE INDEX outbox_webhook ON outbox (webhook_id) WHERE status = 'pending';

CREATE TABLE webhooks (
    id          TEXT    NOT NULL PRIMARY KEY,
    tenant      TEXT    NOT NULL REFERENCES tenants (name),
    url         TEXT    NOT NULL,
    events      TEXT    NOT NULL, -- JSON array of event types
    description TEXT    NOT NULL,
    secret      TEXT    NOT NULL, -- needed in clear to sign deliveries
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX webhooks_tenant ON webhooks (tenant, created_at, id);

CREATE TABLE request_reminders (
    request_id TEXT    NOT NULL PRIMARY KEY REFERENCES requests (id),
    sent_at    INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE request_reminders;
DROP TABLE webhooks;
DROP TABLE outbox;
