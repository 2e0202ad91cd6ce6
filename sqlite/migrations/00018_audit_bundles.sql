-- Full entry bundles (c2sp.org/tlog-tiles tile/entries/N), kept as one value
-- each: bundle n of a log is its records n*256 .. n*256+255, each record's
-- exact canonical bytes after their big-endian uint16 length
-- (auditlog.EntryBundle). A full bundle never changes, so it is written
-- once, in the transaction of the append that fills it, from the rows that
-- transaction holds; serving it is then one read instead of 256 rows.
-- Bundles of logs filled before this migration are stored when first read
-- (auditlog/bundlefill.go); until then they are built from the rows.
-- About as many bytes again as the records' canonical column.

-- +goose Up
CREATE TABLE audit_bundles (
    log  TEXT    NOT NULL,
    n    INTEGER NOT NULL,
    data BLOB    NOT NULL,
    PRIMARY KEY (log, n)
) STRICT;

-- +goose Down
DROP TABLE audit_bundles;
