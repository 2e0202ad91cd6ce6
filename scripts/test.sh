#!/usr/bin/env bash
# The test command of the README: every test, with the race detector.
# Extra arguments go to `go test` (e.g. -run TestName, -count=1).
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
go test -race -count=1 -timeout 20m "$@" ./...
