#!/usr/bin/env bash
# The test command of the README: every test, with the race detector.
# Extra arguments go to `go test` (e.g. -run TestName, -count=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
# go test shows nothing of a passing package, so say here, once, what the
# run leaves out (each test also skips with this reason under -v).
if [ -z "${LOCKBOX_TEST_POSTGRES:-}" ]; then
  echo "note: PostgreSQL tests will skip; to run them: LOCKBOX_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable $0" >&2
fi
go test -race -count=1 -timeout 20m "$@" ./...
