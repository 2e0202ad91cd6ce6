-- The verifiable audit log (SPEC §7): each record row also keeps the RFC 6962
-- hashes its append completed (golang.org/x/mod/sumdb/tlog StoredHashes), so
-- a tree hash or proof for any size reads O(log n) rows and never rehashes
-- the log. Record n stores, concatenated, the 32-byte hashes at tlog storage
-- indexes StoredHashIndex(0, n) up to StoredHashIndex(0, n+1): the leaf hash
-- first, then one hash per subtree that n completes. Rows written before this
-- migration get theirs from Open's backfill, in index order.

-- +goose Up
ALTER TABLE audit_records ADD COLUMN hashes BLOB NOT NULL DEFAULT x'';

-- +goose Down
ALTER TABLE audit_records DROP COLUMN hashes;
