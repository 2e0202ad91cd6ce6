-- Full entry bundles compressed with lz4 instead of pglz (issue 16), where
-- the server has lz4 (PostgreSQL 14 and later, built with it, as Debian's,
-- the official images and the large clouds are). A bundle (256 records,
-- about 130 KB) is written by the append that fills it, inside the log's
-- head-row lock (00018, 00021), and pglz compressing it held the lock for
-- about 2.5 ms more: every other writer of the tenant waited through it.
-- lz4 took about 0.35 ms for the same bundles, and stored them a little
-- smaller (docs/benchmarks.md, "Fourteenth session"). Bundles already
-- stored keep pglz; both read back the same. Elsewhere nothing changes.

-- +goose Up
-- +goose StatementBegin
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN
		ALTER TABLE audit_bundles ALTER COLUMN data SET COMPRESSION lz4;
	END IF;
END
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
DO $$
BEGIN
	IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression') THEN
		ALTER TABLE audit_bundles ALTER COLUMN data SET COMPRESSION default;
	END IF;
END
$$;
-- +goose StatementEnd
