-- Deadlines as data (issue 11): each request stores when it next changes by
-- itself (next_deadline) and when its approvers get an expiry reminder
-- (remind_at), both NULL when there is none. The workflow computes them in
-- Go (lockbox's Schedule) with every change; the worker only range-scans
-- them. 00006 is PostgreSQL's (the audit edge): numbers match across stores.

-- +goose Up
ALTER TABLE requests ADD COLUMN next_deadline INTEGER;
ALTER TABLE requests ADD COLUMN remind_at INTEGER;

-- Backfill of the requests written before this migration. The two UPDATEs
-- mirror, once and frozen here, the Go rules as they stand at this version:
-- lockbox.(*AccessRequest).NextDeadline (the event table's deadlines: the
-- decision deadline while pending_review or pending, the access start while
-- approved, the access end while active) and lockbox.RemindAt (pending, the
-- tenant's reminder on, and the reminder time after reviewed_at). The
-- stores' TestMigrationBackfill checks them against the Go rules.
UPDATE requests SET next_deadline = CASE status
    WHEN 'pending_review' THEN expires_at
    WHEN 'pending'        THEN expires_at
    WHEN 'approved'       THEN access_starts_at
    WHEN 'active'         THEN access_ends_at
END;
UPDATE requests SET remind_at = (
    SELECT requests.expires_at - t.reminder_minutes_before_expiry * 60000000
    FROM tenants t
    WHERE t.name = requests.tenant AND t.reminder_minutes_before_expiry > 0
    AND requests.expires_at - t.reminder_minutes_before_expiry * 60000000 > requests.reviewed_at)
WHERE status = 'pending';

-- Only live requests have a deadline and only pending ones a reminder, so
-- these partial indexes stay small. They replace the three per-status
-- deadline indexes, which no query uses any more.
CREATE INDEX requests_next_deadline ON requests (next_deadline) WHERE next_deadline IS NOT NULL;
CREATE INDEX requests_remind_at ON requests (remind_at) WHERE remind_at IS NOT NULL;
DROP INDEX requests_decision_due;
DROP INDEX requests_start_due;
DROP INDEX requests_end_due;

-- +goose Down
CREATE INDEX requests_decision_due ON requests (status, expires_at) WHERE status IN ('pending_review', 'pending');
CREATE INDEX requests_start_due ON requests (status, access_starts_at) WHERE status = 'approved';
CREATE INDEX requests_end_due ON requests (status, access_ends_at) WHERE status = 'active';
DROP INDEX requests_remind_at;
DROP INDEX requests_next_deadline;
ALTER TABLE requests DROP COLUMN remind_at;
ALTER TABLE requests DROP COLUMN next_deadline;
