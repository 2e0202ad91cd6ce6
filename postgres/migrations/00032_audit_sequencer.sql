-- PROTOTYPE (measurement only): records staged by the step's transaction
-- under a group number, sequenced after its commit by lockbox_audit_sequence.

-- +goose Up
ALTER TABLE audit_records ADD COLUMN suffix bytea;
CREATE SEQUENCE audit_grp_seq;
CREATE TABLE audit_groups (
	log       text COLLATE "C" NOT NULL,
	grp       bigint NOT NULL,
	n         int NOT NULL,
	first_idx bigint,
	hashes    bytea[],
	PRIMARY KEY (log, grp)
);
CREATE INDEX audit_groups_pending ON audit_groups (log, grp) WHERE first_idx IS NULL;
-- Prototype: bundles would be built from the sequenced rows; not measured.
DROP TRIGGER audit_bundles_filled ON audit_logs;
DROP TRIGGER audit_bundles_filled_update ON audit_logs;

-- +goose StatementBegin
CREATE FUNCTION lockbox_audit_stage(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
	p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_grp bigint := nextval('audit_grp_seq');
BEGIN
	INSERT INTO audit_groups (log, grp, n) VALUES (p_log, v_grp, cardinality(p_id));
	INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
		canonical, suffix, hashes)
	SELECT p_log, -((v_grp << 16) | (u.k - 1)) - 1, u.id, u.t, u.ty, u.op, u.us, u.ac, u.rq, u.pr, u.sf, '\x'::bytea
	FROM unnest(p_id, p_time, p_type, p_op, p_user, p_actor, p_request, p_prefix, p_suffix)
		WITH ORDINALITY AS u(id, t, ty, op, us, ac, rq, pr, sf, k);
	RETURN v_grp;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION lockbox_audit_sequence(p_log text, p_grp bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_first  bigint;
	v_size   bigint;
	v_edge   bytea;
	v_levels int;
	g        record;
	r        record;
	v_canon  bytea;
	v_node   bytea;
	v_path   bytea;
	v_hashes bytea[];
	l        int;
	v_done   boolean := false;
BEGIN
	SELECT first_idx INTO v_first FROM audit_groups WHERE log = p_log AND grp = p_grp;
	IF v_first IS NOT NULL THEN
		RETURN v_first;
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended(p_log, 16));
	SELECT size, edge INTO v_size, v_edge FROM audit_logs WHERE log = p_log;
	IF NOT FOUND THEN
		INSERT INTO audit_logs (log, size) VALUES (p_log, 0) ON CONFLICT DO NOTHING;
		SELECT size, edge INTO STRICT v_size, v_edge FROM audit_logs WHERE log = p_log;
	END IF;
	v_levels := length(ltrim(v_size::bit(64)::text, '0'));
	IF length(v_edge) <> v_levels * 32 THEN
		RAISE EXCEPTION 'prototype: no edge';
	END IF;
	FOR g IN SELECT grp, n FROM audit_groups WHERE log = p_log AND first_idx IS NULL ORDER BY grp LOOP
		v_first := v_size;
		v_hashes := '{}';
		FOR r IN SELECT canonical, suffix FROM audit_records
			WHERE log = p_log AND idx <= -(g.grp << 16) - 1 AND idx >= -((g.grp << 16) | 65535) - 1
			ORDER BY idx DESC LOOP
			v_canon := r.canonical || convert_to(v_size::text, 'UTF8') || r.suffix;
			v_node := sha256('\x00'::bytea || v_canon);
			v_path := v_node;
			l := 0;
			WHILE (v_size >> l) & 1 = 1 LOOP
				v_node := sha256('\x01'::bytea || substring(v_edge FROM l * 32 + 1 FOR 32) || v_node);
				v_path := v_path || v_node;
				l := l + 1;
			END LOOP;
			v_edge := v_path || substring(v_edge FROM (l + 1) * 32 + 1);
			v_hashes := v_hashes || v_path;
			v_size := v_size + 1;
		END LOOP;
		UPDATE audit_groups SET first_idx = v_first, hashes = v_hashes WHERE log = p_log AND grp = g.grp;
		v_done := true;
	END LOOP;
	IF v_done THEN
		UPDATE audit_logs SET size = v_size, edge = v_edge WHERE log = p_log;
	END IF;
	SELECT first_idx INTO STRICT v_first FROM audit_groups WHERE log = p_log AND grp = p_grp;
	RETURN v_first;
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION lockbox_audit_sequence(text, bigint);
DROP FUNCTION lockbox_audit_stage(text, bytea[], bytea[], text[], timestamptz[], text[], text[], text[], text[], text[]);
DROP TABLE audit_groups;
DROP SEQUENCE audit_grp_seq;
ALTER TABLE audit_records DROP COLUMN suffix;
