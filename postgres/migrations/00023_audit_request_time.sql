-- A search by request (the access report written at every completion, the
-- request page's activity, `audit search --request-id`) wants a request's
-- records newest first. With only (log, request_id) the planner may walk
-- audit_records_time for the order and test every record of the tenant's
-- log on the way — and it did, in issue 16's workflow benchmark, whenever
-- the table's statistics were young: a completion of a request with no
-- operator actions read its whole tenant log. SQLite had the same walk and
-- got this index in its 00022. With the request's rows and their order in
-- one index there is no plan to choose between; it replaces
-- (log, request_id), its prefix.

-- +goose Up
CREATE INDEX audit_records_request_time ON audit_records (log, request_id, time DESC, idx DESC);
DROP INDEX audit_records_request;

-- +goose Down
CREATE INDEX audit_records_request ON audit_records (log, request_id);
DROP INDEX audit_records_request_time;
