-- An audit append in one statement (postgres/audit.go): lock the log's head
-- row, give each record the next index, splice it into the record's
-- canonical bytes, compute the RFC 6962 hashes it completes with the head's
-- right edge, store the records and the new head. Done on the server so the
-- store can send it in the same round trip as COMMIT: the head row is then
-- locked for the statement and the commit's WAL flush only, never while a
-- client round trip is in flight. The arithmetic is auditlog.Head.Append
-- (auditlog/integrate.go), which stays the reference: the storetest suite
-- and postgres/append_test.go compare what this function stores with it.
--
-- p_prefix[i] || decimal index || p_suffix[i] is record i's canonical bytes
-- (auditlog.SplitCanonical). Returns the index given to the first record.
-- A duplicate id raises unique_violation (23505) and so aborts the
-- transaction. A head row without its edge (a log written before 00006) gets
-- it from the records' hashes, as auditlog.LoadHead does.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION lockbox_audit_append(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
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

-- +goose Down
DROP FUNCTION lockbox_audit_append(text, bytea[], bytea[], text[], timestamptz[], text[], text[], text[], text[], text[]);
