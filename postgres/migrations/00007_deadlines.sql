-- Deadlines as data (issue 11): each request stores when it next changes by
-- itself (next_deadline) and when its approvers get an expiry reminder
-- (remind_at), both NULL when there is none. The workflow computes them in
-- Go (lockbox's Schedule) with every change; the worker only range-scans
-- them. The same change as sqlite's 00007.

-- +goose Up
ALTER TABLE requests ADD COLUMN next_deadline timestamptz, ADD COLUMN remind_at timestamptz;

-- Backfill of the requests written before this migration, in the same
-- transaction, so no replica ever runs on unfilled columns. The UPDATE
-- mirrors, once and frozen here, the Go rules as they stand at this
-- version: lockbox.(*AccessRequest).NextDeadline (the event table's
-- deadlines: the decision deadline while pending_review or pending, the
-- access start while approved, the access end while active) and
-- lockbox.RemindAt (pending, the tenant's reminder on, and the reminder
-- time after reviewed_at). The stores' TestMigrationBackfill checks it
-- against the Go rules.
UPDATE requests r SET
    next_deadline = CASE r.status
        WHEN 'pending_review' THEN r.expires_at
        WHEN 'pending'        THEN r.expires_at
        WHEN 'approved'       THEN r.access_starts_at
        WHEN 'active'         THEN r.access_ends_at
    END,
    remind_at = (
        SELECT r.expires_at - make_interval(mins => t.reminder_minutes_before_expiry)
        FROM tenants t
        WHERE t.name = r.tenant AND r.status = 'pending' AND t.reminder_minutes_before_expiry > 0
        AND r.expires_at - make_interval(mins => t.reminder_minutes_before_expiry) > r.reviewed_at)
WHERE r.status IN ('pending_review', 'pending', 'approved', 'active');

-- Only live requests have a deadline and only pending ones a reminder, so
-- these partial indexes stay small. They replace the three per-status
-- deadline indexes, which no query uses any more.
CREATE INDEX requests_next_deadline ON requests (next_deadline) WHERE next_deadline IS NOT NULL;
CREATE INDEX requests_remind_at ON requests (remind_at) WHERE remind_at IS NOT NULL;
DROP INDEX requests_decision_due, requests_start_due, requests_end_due;

-- +goose Down
CREATE INDEX requests_decision_due ON requests (expires_at, id) WHERE status IN ('pending_review', 'pending');
CREATE INDEX requests_start_due ON requests (access_starts_at, id) WHERE status = 'approved';
CREATE INDEX requests_end_due ON requests (access_ends_at, id) WHERE status = 'active';
DROP INDEX requests_remind_at, requests_next_deadline;
ALTER TABLE requests DROP COLUMN remind_at, DROP COLUMN next_deadline;
