-- The right edge of each log's Merkle tree, kept in its head row so an
-- append needs no hash read while it holds the head lock: for a log of size
-- n, the hash of node (n>>l)-1 of each level l with n>>l > 0, level 0 first,
-- 32 bytes each (the only nodes tlog.StoredHashes combines a new leaf with).
-- Empty for a log written before this migration: its next append reads the
-- hashes from the records, as before, and fills it. PostgreSQL only: the
-- sqlite store's single writer keeps the edge in memory instead.

-- +goose Up
ALTER TABLE audit_logs ADD COLUMN edge bytea NOT NULL DEFAULT '\x';

-- +goose Down
ALTER TABLE audit_logs DROP COLUMN edge;
