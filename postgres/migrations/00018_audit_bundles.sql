-- Full entry bundles (c2sp.org/tlog-tiles tile/entries/N), kept as one value
-- each, as sqlite's 00018: bundle n of a log is its records n*256 ..
-- n*256+255 (256 = 1 << auditlog.TileHeight), each record's exact canonical
-- bytes after their big-endian uint16 length (auditlog.EntryBundle, which
-- storetest holds this encoding to). A full bundle never changes, so it is
-- written once, from the rows, in the transaction of the append that fills
-- it: the trigger on audit_logs fires inside lockbox_audit_append's UPDATE
-- of the size (00015), after the records are inserted. Serving a bundle is
-- then one read instead of 256 rows. Bundles of logs filled before this
-- migration are stored when first read (auditlog/bundlefill.go, which calls
-- lockbox_audit_bundle through FillAuditBundle); until then they are built
-- from the rows.

-- +goose Up
CREATE TABLE audit_bundles (
	log  text   NOT NULL,
	n    bigint NOT NULL,
	data bytea  NOT NULL,
	PRIMARY KEY (log, n)
);

-- +goose StatementBegin
-- lockbox_audit_bundle is log's bundle n built from its rows, or NULL when
-- the log has not filled it (or a record is too long for a bundle: then
-- none is stored, and serving it from the rows says why).
CREATE FUNCTION lockbox_audit_bundle(p_log text, p_n bigint) RETURNS bytea LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN count(*) = 256 AND max(length(canonical)) <= 65535 THEN
		string_agg(substring(int4send(length(canonical)) FROM 3) || canonical, ''::bytea ORDER BY idx) END
	FROM audit_records WHERE log = p_log AND idx >= p_n * 256 AND idx < (p_n + 1) * 256
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- Stores the bundles a growing size fills. It replaces a bundle stored
-- there, which only a log rolled back by hand and appended to again has.
CREATE FUNCTION lockbox_audit_bundles_filled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	v_from bigint := 0;
	v_data bytea;
BEGIN
	IF TG_OP = 'UPDATE' THEN
		v_from := OLD.size;
	END IF;
	FOR v_n IN (v_from >> 8) .. (NEW.size >> 8) - 1 LOOP
		v_data := lockbox_audit_bundle(NEW.log, v_n);
		IF v_data IS NOT NULL THEN
			INSERT INTO audit_bundles (log, n, data) VALUES (NEW.log, v_n, v_data)
			ON CONFLICT (log, n) DO UPDATE SET data = excluded.data;
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_bundles_filled AFTER INSERT OR UPDATE OF size ON audit_logs
	FOR EACH ROW EXECUTE FUNCTION lockbox_audit_bundles_filled();

-- +goose Down
DROP TRIGGER audit_bundles_filled ON audit_logs;
DROP FUNCTION lockbox_audit_bundles_filled();
DROP FUNCTION lockbox_audit_bundle(text, bigint);
DROP TABLE audit_bundles;
