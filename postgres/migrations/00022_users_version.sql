-- A version of each tenant's list of accounts (issue 16), as 00019 keeps
-- one of its webhooks: every change to an account bumps the version of its
-- tenant's list in the change's own transaction (the trigger below, so no
-- write path can forget it), and a replica that remembers the list of
-- version v may serve it to any transaction that read v with the tenant's
-- row (postgres/listcache.go) instead of reading it again: one round trip
-- less in each workflow step that notifies a tenant's approvers, and no
-- longer one read of every account of the tenant.
--
-- The versions live in a table of their own rather than on the tenant's
-- row, so an account change never waits for a step that holds that row
-- (LockSettings) nor makes one wait; a missing row is version 0. Provider
-- staff are the list of tenant ''.

-- +goose Up
CREATE TABLE user_list_versions (
    tenant  text COLLATE "C" NOT NULL PRIMARY KEY,
    version bigint NOT NULL
);

-- +goose StatementBegin
CREATE FUNCTION lockbox_users_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO user_list_versions (tenant, version) VALUES (OLD.tenant, 1)
            ON CONFLICT (tenant) DO UPDATE SET version = user_list_versions.version + 1;
    END IF;
    IF TG_OP <> 'DELETE' AND (TG_OP = 'INSERT' OR NEW.tenant IS DISTINCT FROM OLD.tenant) THEN
        INSERT INTO user_list_versions (tenant, version) VALUES (NEW.tenant, 1)
            ON CONFLICT (tenant) DO UPDATE SET version = user_list_versions.version + 1;
    END IF;
    RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER users_version AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION lockbox_users_changed();

-- +goose Down
DROP TRIGGER users_version ON users;
DROP FUNCTION lockbox_users_changed();
DROP TABLE user_list_versions;
