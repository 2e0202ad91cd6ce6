-- Single sign-on (SPEC §10.2, issue 12), as sqlite's 00011: each tenant's
-- own IdP, the email domains that select it on the sign-in page (one tenant
-- per domain), and sign-ins in progress at an IdP (stored under the hash of
-- their "state", taken once at the callback).

-- +goose Up
CREATE TABLE tenant_sso (
    tenant        text COLLATE "C" NOT NULL PRIMARY KEY REFERENCES tenants (name) ON DELETE CASCADE,
    issuer        text        NOT NULL,
    client_id     text        NOT NULL,
    client_secret text        NOT NULL,
    enforce       boolean     NOT NULL,
    break_glass   text        NOT NULL,
    updated_at    timestamptz NOT NULL
);

CREATE TABLE sso_domains (
    domain text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant text COLLATE "C" NOT NULL REFERENCES tenant_sso (tenant) ON DELETE CASCADE
);

CREATE INDEX sso_domains_tenant ON sso_domains (tenant);

CREATE TABLE sso_flows (
    hash       bytea       NOT NULL PRIMARY KEY,
    flow       jsonb       NOT NULL,
    expires_at timestamptz NOT NULL
);

CREATE INDEX sso_flows_expires ON sso_flows (expires_at);

-- +goose Down
DROP TABLE sso_flows;
DROP TABLE sso_domains;
DROP TABLE tenant_sso;
