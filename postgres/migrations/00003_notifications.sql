-- Notifications (issue 7), as sqlite's 00003: the outbox every email and
-- webhook delivery goes through, the tenants' webhook endpoints, and the
-- record of expiry reminders already enqueued (one per request, however many
-- replicas). Claims use FOR UPDATE SKIP LOCKED on outbox_due.

-- +goose Up
CREATE TABLE outbox (
    id              text COLLATE "C" NOT NULL PRIMARY KEY,
    channel         text COLLATE "C" NOT NULL, -- 'email' or 'webhook'
    tenant          text COLLATE "C" NOT NULL,
    type            text COLLATE "C" NOT NULL,
    recipient       text        NOT NULL, -- the email address; '' for webhooks
    webhook_id      text COLLATE "C" NOT NULL, -- the endpoint; '' for email
    payload         bytea       NOT NULL, -- the lockbox.Notice as JSON
    status          text COLLATE "C" NOT NULL, -- 'pending', 'delivered' or 'dead'
    attempts        integer     NOT NULL,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    -- A claimed message is leased to one worker until lease_until; another
    -- may take it only after that (the worker crashed mid-attempt).
    lease_until     timestamptz,
    last_error      text        NOT NULL,
    finished_at     timestamptz -- delivered or dead at
);

-- The claim query walks due pending messages in next-attempt order; only
-- pending rows are indexed, so delivered history does not slow it down.
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_created ON outbox (created_at DESC, id DESC);
CREATE INDEX outbox_finished ON outbox (finished_at) WHERE status <> 'pending';
CREATE INDEX outbox_webhook ON outbox (webhook_id) WHERE status = 'pending';

CREATE TABLE webhooks (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant      text COLLATE "C" NOT NULL REFERENCES tenants (name),
    url         text        NOT NULL,
    events      jsonb       NOT NULL, -- array of event types
    description text        NOT NULL,
    secret      text        NOT NULL, -- needed in clear to sign deliveries
    created_by  text        NOT NULL,
    created_at  timestamptz NOT NULL
);

CREATE INDEX webhooks_tenant ON webhooks (tenant, created_at, id);

CREATE TABLE request_reminders (
    request_id text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES requests (id),
    sent_at    timestamptz NOT NULL
);

-- +goose Down
DROP TABLE request_reminders;
DROP TABLE webhooks;
DROP TABLE outbox;
