-- One address, one account per population (issue 12, docs/identity.md):
-- the same change as sqlite's 00009. (tenant, lower(email)) is unique
-- instead of lower(email).

-- +goose Up
DROP INDEX users_email;
DROP INDEX users_tenant_email;
CREATE UNIQUE INDEX users_tenant_email ON users (tenant, lower(email));
CREATE INDEX users_email ON users (lower(email));

-- +goose Down
DROP INDEX users_email;
DROP INDEX users_tenant_email;
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_tenant_email ON users (tenant, lower(email));
