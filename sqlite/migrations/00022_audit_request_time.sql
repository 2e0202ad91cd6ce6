-- A search by request (the access report of every completed request, the
-- request page's activity, `audit search --request-id`) wants a request's
-- records newest first. With only (log, request_id), SQLite walked
-- audit_records_time for the order and tested every record of the tenant's
-- log on the way: a completion read the whole log (issue 16's workflow
-- benchmark found it two thirds of the writer's time on SQLite). This index
-- gives the rows and their order at once; it replaces (log, request_id),
-- its prefix. PostgreSQL's planner already picks the request index and
-- sorts the few rows, so it needs no such change.

-- +goose Up
CREATE INDEX audit_records_request_time ON audit_records (log, request_id, time DESC, idx DESC);
DROP INDEX audit_records_request;

-- +goose Down
CREATE INDEX audit_records_request ON audit_records (log, request_id);
DROP INDEX audit_records_request_time;
