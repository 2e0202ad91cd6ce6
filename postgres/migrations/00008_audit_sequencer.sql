-- Sequencing the audit log apart from the transactions that write it
-- (sequencer.go). A transaction stores its records at once, durably, but
-- without their index: the k-th record of transaction xid at idx
-- -(xid << 16 | k), so that pending records sort (idx DESC) in the order
-- they were written: a transaction that begins after another committed
-- writes with a larger id (pg_current_xact_id, 64 bits, never reused). The
-- sequencer then moves them, in that order and a batch at a time under the
-- log's head lock, to the next indexes, with their Merkle hashes. Readers
-- see only idx >= 0. This index finds the pending records, usually none.
-- PostgreSQL only: SQLite's single writer already appends in batches; the
-- numbers match across stores, so sqlite has no 00008.

-- +goose Up
CREATE INDEX audit_records_pending ON audit_records (log, idx) WHERE idx < 0;

-- +goose Down
DROP INDEX audit_records_pending;
