-- A cheaper audit append (issue 16): the same records, indices and hashes
-- as 00015's lockbox_audit_append, with less work inside the head-row lock,
-- which every append of a log waits for.
--
-- - The bundle trigger of 00018 fired on every append, to find in 255 of
--   256 that no bundle filled. Its WHEN clauses now let it fire only on the
--   append that fills one (a trigger's WHEN sees OLD only on UPDATE, hence
--   two triggers); the bundle is still stored by that append's UPDATE, in
--   the transaction that fills it.
-- - One record (most appends) is inserted with VALUES, not by unnesting ten
--   arrays.
-- - The edge is rebuilt once per record (the new leaf's ancestors, then the
--   untouched levels above) instead of overlaid level by level, and the
--   number of levels is read from the size's bits instead of counted.
--
-- postgres/append_test.go and postgres/plan_test.go hold it to the first
-- two; the storetest suite and the append tests to the hashes of
-- auditlog.Head.Append.

-- +goose Up
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION lockbox_audit_append(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
	p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_n      int := coalesce(cardinality(p_id), 0);
	v_size   bigint;
	v_edge   bytea;
	v_first  bigint;
	v_levels int;
	v_idx    bigint[];
	v_canon  bytea[];
	v_hashes bytea[];
	v_node   bytea;
	v_path   bytea;
	l        int;
BEGIN
	SELECT size, edge INTO v_size, v_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	IF NOT FOUND THEN
		-- Two first appends may race here: the loser of the insert waits
		-- for the winner's transaction and then locks the row it committed.
		INSERT INTO audit_logs (log, size) VALUES (p_log, 0) ON CONFLICT DO NOTHING;
		SELECT size, edge INTO STRICT v_size, v_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	END IF;
	-- The levels of a log of size n are the bits of n up to its highest set one.
	v_levels := length(ltrim(v_size::bit(64)::text, '0'));
	IF length(v_edge) <> v_levels * 32 THEN
		-- Level lv's edge node is the last of its level, stored at offset lv
		-- of the hashes of record ((size >> lv) << lv) - 1.
		SELECT coalesce(string_agg(substring(r.hashes FROM lv * 32 + 1 FOR 32), ''::bytea ORDER BY lv), ''::bytea)
		INTO v_edge
		FROM generate_series(0, v_levels - 1) lv
		JOIN audit_records r ON r.log = p_log AND r.idx = ((v_size >> lv) << lv) - 1;
		IF length(v_edge) <> v_levels * 32 THEN
			RAISE EXCEPTION 'audit log %: the edge of a log of size % cannot be read from its records', p_log, v_size;
		END IF;
	END IF;
	v_first := v_size;
	FOR i IN 1 .. v_n LOOP
		v_canon[i] := p_prefix[i] || convert_to(v_size::text, 'UTF8') || p_suffix[i];
		-- auditlog.Head.AppendHash: at each level whose bit of the size is
		-- set the new node is a right child of the edge's node there; the
		-- first clear level takes it. v_path is the leaf and its ancestors
		-- up to that level, which are both the record's stored hashes and
		-- the new edge's lowest levels.
		v_node := sha256('\x00'::bytea || v_canon[i]);
		v_path := v_node;
		l := 0;
		WHILE (v_size >> l) & 1 = 1 LOOP
			v_node := sha256('\x01'::bytea || substring(v_edge FROM l * 32 + 1 FOR 32) || v_node);
			v_path := v_path || v_node;
			l := l + 1;
		END LOOP;
		v_edge := v_path || substring(v_edge FROM (l + 1) * 32 + 1);
		v_idx[i] := v_size;
		v_hashes[i] := v_path;
		v_size := v_size + 1;
	END LOOP;
	IF v_n = 1 THEN
		INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
			canonical, hashes)
		VALUES (p_log, v_first, p_id[1], p_time[1], p_type[1], p_op[1], p_user[1], p_actor[1], p_request[1],
			v_canon[1], v_hashes[1]);
	ELSE
		INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
			canonical, hashes)
		SELECT p_log, u.* FROM unnest(v_idx, p_id, p_time, p_type, p_op, p_user, p_actor, p_request, v_canon, v_hashes) AS u;
	END IF;
	UPDATE audit_logs SET size = v_size, edge = v_edge WHERE log = p_log;
	RETURN v_first;
END
$$;
-- +goose StatementEnd

DROP TRIGGER audit_bundles_filled ON audit_logs;
CREATE TRIGGER audit_bundles_filled AFTER INSERT ON audit_logs
	FOR EACH ROW WHEN (NEW.size >= 256) EXECUTE FUNCTION lockbox_audit_bundles_filled();
CREATE TRIGGER audit_bundles_filled_update AFTER UPDATE OF size ON audit_logs
	FOR EACH ROW WHEN (NEW.size >> 8 > OLD.size >> 8) EXECUTE FUNCTION lockbox_audit_bundles_filled();

-- +goose Down
-- The definitions of 00015 and 00018, as they were.
DROP TRIGGER audit_bundles_filled_update ON audit_logs;
DROP TRIGGER audit_bundles_filled ON audit_logs;
CREATE TRIGGER audit_bundles_filled AFTER INSERT OR UPDATE OF size ON audit_logs
	FOR EACH ROW EXECUTE FUNCTION lockbox_audit_bundles_filled();

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION lockbox_audit_append(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
	p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_size   bigint;
	v_edge   bytea;
	v_first  bigint;
	v_levels int := 0;
	v_idx    bigint[] := '{}';
	v_canon  bytea[] := '{}';
	v_hashes bytea[] := '{}';
	v_leaf   bytea;
	v_node   bytea;
	v_left   bytea;
	l        int;
BEGIN
	SELECT size, edge INTO v_size, v_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	IF NOT FOUND THEN
		-- Two first appends may race here: the loser of the insert waits
		-- for the winner's transaction and then locks the row it committed.
		INSERT INTO audit_logs (log, size) VALUES (p_log, 0) ON CONFLICT DO NOTHING;
		SELECT size, edge INTO STRICT v_size, v_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	END IF;
	WHILE v_size >> v_levels > 0 LOOP
		v_levels := v_levels + 1;
	END LOOP;
	IF length(v_edge) <> v_levels * 32 THEN
		-- Level lv's edge node is the last of its level, stored at offset lv
		-- of the hashes of record ((size >> lv) << lv) - 1.
		SELECT coalesce(string_agg(substring(r.hashes FROM lv * 32 + 1 FOR 32), ''::bytea ORDER BY lv), ''::bytea)
		INTO v_edge
		FROM generate_series(0, v_levels - 1) lv
		JOIN audit_records r ON r.log = p_log AND r.idx = ((v_size >> lv) << lv) - 1;
		IF length(v_edge) <> v_levels * 32 THEN
			RAISE EXCEPTION 'audit log %: the edge of a log of size % cannot be read from its records', p_log, v_size;
		END IF;
	END IF;
	v_first := v_size;
	FOR i IN 1 .. coalesce(cardinality(p_id), 0) LOOP
		v_canon[i] := p_prefix[i] || convert_to(v_size::text, 'UTF8') || p_suffix[i];
		v_leaf := sha256('\x00'::bytea || v_canon[i]);
		-- auditlog.Head.AppendHash: at each level whose bit of the size is
		-- set the new node is a right child; the first clear level takes it.
		v_node := v_leaf;
		l := 0;
		WHILE (v_size >> l) & 1 = 1 LOOP
			v_left := substring(v_edge FROM l * 32 + 1 FOR 32);
			v_edge := overlay(v_edge PLACING v_node FROM l * 32 + 1 FOR 32);
			v_node := sha256('\x01'::bytea || v_left || v_node);
			l := l + 1;
		END LOOP;
		IF l * 32 < length(v_edge) THEN
			v_edge := overlay(v_edge PLACING v_node FROM l * 32 + 1 FOR 32);
		ELSE
			v_edge := v_edge || v_node;
		END IF;
		v_idx[i] := v_size;
		v_hashes[i] := substring(v_edge FROM 1 FOR (l + 1) * 32);
		v_size := v_size + 1;
	END LOOP;
	INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
		canonical, hashes)
	SELECT p_log, u.* FROM unnest(v_idx, p_id, p_time, p_type, p_op, p_user, p_actor, p_request, v_canon, v_hashes) AS u;
	UPDATE audit_logs SET size = v_size, edge = v_edge WHERE log = p_log;
	RETURN v_first;
END
$$;
-- +goose StatementEnd
