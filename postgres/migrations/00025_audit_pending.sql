-- The audit log sequenced apart from the step's transaction when its head
-- is busy (issue 16). Until now every append locked its log's head row
-- (audit_logs) and held it to its commit, so a tenant's transactions
-- queued one WAL flush after another: with three replicas of one busy
-- tenant, nine write groups waited there, each holding its other row
-- locks meanwhile.
--
-- lockbox_audit_append now takes the head only when it is free (SKIP
-- LOCKED). When another transaction holds it, the records are parked in
-- audit_pending instead, without their index (the canonical bytes hold the
-- index, so they are kept as prefix and suffix), and the transaction
-- commits without waiting. Whoever next holds the head folds the parked
-- rows its statement sees committed into the log first, in the order they
-- were parked (seq), then its own records:
--
-- * the next direct append of the log, in its own transaction;
-- * lockbox_audit_fold, which the parking replica calls once its commit
--   is flushed (sequencer.go), waiting for the head as appends used to,
--   but outside any step's transaction and for all the records parked
--   meanwhile at once; the Update returns after it, so its caller still
--   reads its records back;
-- * every replica's sweep (twice a second), for records a replica that
--   stopped between its commit and its fold left behind.
--
-- Indexes stay gap-free and never fork: only the head's holder moves
-- records into audit_records, and it deletes the rows it moves in the same
-- transaction. Order follows causality: a step that starts after another
-- committed parks with a larger seq, and a fold sees every row committed
-- before it took the head. A parked record is durable from its commit and
-- in no read of the log until folded (AuditSize, ranges, search, tiles and
-- checkpoints see folded records only).
--
-- PostgreSQL only: SQLite has one writer and no head to wait for.

-- +goose Up
CREATE TABLE audit_pending (
    seq         bigint      GENERATED ALWAYS AS IDENTITY,
    log         text COLLATE "C" NOT NULL,
    id          text COLLATE "C" NOT NULL UNIQUE,
    time        timestamptz NOT NULL,
    record_type text COLLATE "C" NOT NULL,
    operation   text COLLATE "C" NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    actor_type  text COLLATE "C" NOT NULL,
    request_id  text COLLATE "C" NOT NULL,
    prefix      bytea       NOT NULL,
    suffix      bytea       NOT NULL
);
CREATE INDEX audit_pending_log ON audit_pending (log, seq);

-- +goose StatementBegin
-- lockbox_audit_head locks p_log's head and returns its size and edge,
-- creating it for a new log. Without p_wait it returns a null size when
-- another transaction holds the head.
CREATE OR REPLACE FUNCTION lockbox_audit_head(p_log text, p_wait boolean, OUT o_size bigint, OUT o_edge bytea)
LANGUAGE plpgsql AS $$
DECLARE
	v_levels int;
BEGIN
	IF p_wait THEN
		SELECT size, edge INTO o_size, o_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	ELSE
		SELECT size, edge INTO o_size, o_edge FROM audit_logs WHERE log = p_log FOR UPDATE SKIP LOCKED;
	END IF;
	IF NOT FOUND THEN
		IF NOT p_wait AND EXISTS (SELECT 1 FROM audit_logs WHERE log = p_log) THEN
			o_size := NULL;
			RETURN;
		END IF;
		-- Two first appends may race here: the loser of the insert waits
		-- for the winner's transaction and then locks the row it committed.
		INSERT INTO audit_logs (log, size) VALUES (p_log, 0) ON CONFLICT DO NOTHING;
		SELECT size, edge INTO STRICT o_size, o_edge FROM audit_logs WHERE log = p_log FOR UPDATE;
	END IF;
	-- The levels of a log of size n are the bits of n up to its highest set one.
	v_levels := length(ltrim(o_size::bit(64)::text, '0'));
	IF length(o_edge) <> v_levels * 32 THEN
		-- Level lv's edge node is the last of its level, stored at offset lv
		-- of the hashes of record ((size >> lv) << lv) - 1.
		SELECT coalesce(string_agg(substring(r.hashes FROM lv * 32 + 1 FOR 32), ''::bytea ORDER BY lv), ''::bytea)
		INTO o_edge
		FROM generate_series(0, v_levels - 1) lv
		JOIN audit_records r ON r.log = p_log AND r.idx = ((o_size >> lv) << lv) - 1;
		IF length(o_edge) <> v_levels * 32 THEN
			RAISE EXCEPTION 'audit log %: the edge of a log of size % cannot be read from its records', p_log, o_size;
		END IF;
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- lockbox_audit_extend stores records at indexes p_size, p_size + 1, …
-- of p_log, whose head the caller holds, with their Merkle hashes, and
-- returns the new size and edge for the caller to write to the head.
CREATE OR REPLACE FUNCTION lockbox_audit_extend(p_log text, p_size bigint, p_edge bytea, p_prefix bytea[], p_suffix bytea[],
	p_id text[], p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[],
	OUT o_size bigint, OUT o_edge bytea)
LANGUAGE plpgsql AS $$
DECLARE
	v_n      int := coalesce(cardinality(p_id), 0);
	v_idx    bigint[];
	v_canon  bytea[];
	v_hashes bytea[];
	v_node   bytea;
	v_path   bytea;
	l        int;
BEGIN
	o_size := p_size;
	o_edge := p_edge;
	FOR i IN 1 .. v_n LOOP
		v_canon[i] := p_prefix[i] || convert_to(o_size::text, 'UTF8') || p_suffix[i];
		-- auditlog.Head.AppendHash: at each level whose bit of the size is
		-- set the new node is a right child of the edge's node there; the
		-- first clear level takes it. v_path is the leaf and its ancestors
		-- up to that level, which are both the record's stored hashes and
		-- the new edge's lowest levels.
		v_node := sha256('\x00'::bytea || v_canon[i]);
		v_path := v_node;
		l := 0;
		WHILE (o_size >> l) & 1 = 1 LOOP
			v_node := sha256('\x01'::bytea || substring(o_edge FROM l * 32 + 1 FOR 32) || v_node);
			v_path := v_path || v_node;
			l := l + 1;
		END LOOP;
		o_edge := v_path || substring(o_edge FROM (l + 1) * 32 + 1);
		v_idx[i] := o_size;
		v_hashes[i] := v_path;
		o_size := o_size + 1;
	END LOOP;
	IF v_n = 1 THEN
		INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
			canonical, hashes)
		VALUES (p_log, p_size, p_id[1], p_time[1], p_type[1], p_op[1], p_user[1], p_actor[1], p_request[1],
			v_canon[1], v_hashes[1]);
	ELSIF v_n > 1 THEN
		INSERT INTO audit_records (log, idx, id, time, record_type, operation, user_id, actor_type, request_id,
			canonical, hashes)
		SELECT p_log, u.* FROM unnest(v_idx, p_id, p_time, p_type, p_op, p_user, p_actor, p_request, v_canon, v_hashes) AS u;
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- lockbox_audit_unpark moves the parked records of p_log that this
-- statement sees committed into the log after p_size, in the order they
-- were parked. The caller holds the head.
CREATE FUNCTION lockbox_audit_unpark(p_log text, p_size bigint, p_edge bytea, OUT o_size bigint, OUT o_edge bytea)
LANGUAGE plpgsql AS $$
DECLARE
	v_prefix bytea[];
	v_suffix bytea[];
	v_id     text[];
	v_time   timestamptz[];
	v_type   text[];
	v_op     text[];
	v_user   text[];
	v_actor  text[];
	v_req    text[];
	v_parked int;
BEGIN
	o_size := p_size;
	o_edge := p_edge;
	-- A parked id stored meanwhile is a duplicate the park could not see
	-- (an id reused on purpose, appended directly by a transaction that
	-- had not committed when the park looked): it is dropped, since the
	-- log cannot hold two records with one id.
	WITH moved AS (DELETE FROM audit_pending WHERE log = p_log RETURNING *)
	SELECT count(*), array_agg(m.prefix ORDER BY m.seq), array_agg(m.suffix ORDER BY m.seq),
		array_agg(m.id ORDER BY m.seq), array_agg(m.time ORDER BY m.seq), array_agg(m.record_type ORDER BY m.seq),
		array_agg(m.operation ORDER BY m.seq), array_agg(m.user_id ORDER BY m.seq),
		array_agg(m.actor_type ORDER BY m.seq), array_agg(m.request_id ORDER BY m.seq)
	INTO v_parked, v_prefix, v_suffix, v_id, v_time, v_type, v_op, v_user, v_actor, v_req
	FROM moved m WHERE NOT EXISTS (SELECT 1 FROM audit_records r WHERE r.id = m.id);
	IF v_parked > 0 THEN
		SELECT e.o_size, e.o_edge INTO o_size, o_edge
		FROM lockbox_audit_extend(p_log, p_size, p_edge, v_prefix, v_suffix, v_id, v_time, v_type, v_op, v_user,
			v_actor, v_req) e;
	END IF;
END
$$;
-- +goose StatementEnd

DROP FUNCTION lockbox_audit_append(text, bytea[], bytea[], text[], timestamptz[], text[], text[], text[], text[], text[]);

-- +goose StatementBegin
-- lockbox_audit_append appends records to p_log in the calling
-- transaction and returns the first one's index; or, when another
-- transaction holds the head, parks them and returns -1. With p_wait it
-- waits for the head instead: the caller says so when the holder is a
-- transaction of its own process, about to commit (postgres/fold.go).
CREATE FUNCTION lockbox_audit_append(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
	p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[], p_wait boolean)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_size  bigint;
	v_edge  bytea;
	v_first bigint;
BEGIN
	SELECT h.o_size, h.o_edge INTO v_size, v_edge FROM lockbox_audit_head(p_log, p_wait) h;
	IF v_size IS NULL THEN
		INSERT INTO audit_pending (log, id, time, record_type, operation, user_id, actor_type, request_id, prefix, suffix)
		SELECT p_log, u.* FROM unnest(p_id, p_time, p_type, p_op, p_user, p_actor, p_request, p_prefix, p_suffix) AS u;
		-- After the insert, so that a fold moving a parked record with one
		-- of these ids (the insert waited for it) is seen here.
		IF EXISTS (SELECT 1 FROM audit_records WHERE id = ANY(p_id)) THEN
			RAISE unique_violation USING MESSAGE = 'an audit record with one of these ids is stored already';
		END IF;
		RETURN -1;
	END IF;
	SELECT f.o_size, f.o_edge INTO v_size, v_edge FROM lockbox_audit_unpark(p_log, v_size, v_edge) f;
	v_first := v_size;
	SELECT e.o_size, e.o_edge INTO v_size, v_edge
	FROM lockbox_audit_extend(p_log, v_size, v_edge, p_prefix, p_suffix, p_id, p_time, p_type, p_op, p_user,
		p_actor, p_request) e;
	UPDATE audit_logs SET size = v_size, edge = v_edge WHERE log = p_log;
	RETURN v_first;
END
$$;
-- +goose StatementEnd

-- +goose StatementBegin
-- lockbox_audit_fold waits for p_log's head, moves every parked record it
-- then sees committed into the log, and returns the index of each record
-- of p_ids in the log (whoever moved it).
CREATE FUNCTION lockbox_audit_fold(p_log text, p_ids text[]) RETURNS TABLE (id text, idx bigint)
LANGUAGE plpgsql AS $$
DECLARE
	v_size bigint;
	v_edge bytea;
	v_new  bigint;
BEGIN
	-- Most often another fold or append has moved them: then the head is
	-- not waited for.
	IF EXISTS (SELECT 1 FROM audit_pending p WHERE p.log = p_log) THEN
		SELECT h.o_size, h.o_edge INTO v_size, v_edge FROM lockbox_audit_head(p_log, true) h;
		SELECT f.o_size, f.o_edge INTO v_new, v_edge FROM lockbox_audit_unpark(p_log, v_size, v_edge) f;
		IF v_new > v_size THEN
			UPDATE audit_logs SET size = v_new, edge = v_edge WHERE log = p_log;
		END IF;
	END IF;
	RETURN QUERY SELECT r.id, r.idx FROM audit_records r WHERE r.id = ANY(p_ids) AND r.log = p_log;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- 00021's append; parked records, if any, are folded first, so that none
-- is lost.
SELECT lockbox_audit_fold(log, '{}') FROM (SELECT DISTINCT log FROM audit_pending) p;
DROP FUNCTION lockbox_audit_append(text, bytea[], bytea[], text[], timestamptz[], text[], text[], text[], text[], text[], boolean);

-- +goose StatementBegin
CREATE FUNCTION lockbox_audit_append(p_log text, p_prefix bytea[], p_suffix bytea[], p_id text[],
	p_time timestamptz[], p_type text[], p_op text[], p_user text[], p_actor text[], p_request text[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	v_size  bigint;
	v_edge  bytea;
	v_first bigint;
BEGIN
	SELECT h.o_size, h.o_edge INTO v_size, v_edge FROM lockbox_audit_head(p_log, true) h;
	v_first := v_size;
	SELECT e.o_size, e.o_edge INTO v_size, v_edge
	FROM lockbox_audit_extend(p_log, v_size, v_edge, p_prefix, p_suffix, p_id, p_time, p_type, p_op, p_user,
		p_actor, p_request) e;
	UPDATE audit_logs SET size = v_size, edge = v_edge WHERE log = p_log;
	RETURN v_first;
END
$$;
-- +goose StatementEnd
-- The helpers stay: the append above calls two of them.
DROP FUNCTION lockbox_audit_fold(text, text[]);
DROP FUNCTION lockbox_audit_unpark(text, bigint, bytea);
DROP TABLE audit_pending;
