-- Single sign-on (SPEC §10.2, issue 12): each tenant's own IdP, the email
-- domains that select it on the sign-in page (one tenant per domain), and
-- sign-ins in progress at an IdP (stored under the hash of their "state",
-- taken once at the callback).

-- +goose Up
CREATE TABLE tenant_sso (
    tenant        TEXT    NOT NULL PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
    issuer        TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    client_secret TEXT    NOT NULL,
    enforce       INTEGER NOT NULL,
    break_glass   TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sso_domains (
    domain TEXT NOT NULL PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenant_sso (tenant) ON DELETE CASCADE
) STRICT;

CREATE INDEX sso_domains_tenant ON sso_domains (tenant);

CREATE TABLE sso_flows (
    hash       BLOB    NOT NULL PRIMARY KEY,
    flow       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;

CREATE INDEX sso_flows_expires ON sso_flows (expires_at);

-- +goose Down
DROP TABLE sso_flows;
DROP TABLE sso_domains;
DROP TABLE tenant_sso;
