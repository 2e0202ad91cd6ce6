#!/usr/bin/env bash
# The test command of the README: every test, with the race detector.
# Extra arguments go to `go test` (e.g. -run TestName, -count=1).
#
# go test shows nothing of a passing package, not even its skips, so the
# run goes through scripts/testsummary: the usual line per package and the
# output of failed tests, then, only when tests skipped for want of
# PostgreSQL, Chromium, nginx, … on this machine, one line naming them and
# how to enable them. (CI's LOCKBOX_REQUIRE_* turn those skips into
# failures.) With -v or -json the output is go test's own.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
for arg in "$@"; do
  case "$arg" in
    -v | -v=* | -test.v* | -json) exec go test -race -count=1 -timeout 20m "$@" ./... ;;
  esac
done
go build -o "${TMPDIR:-/tmp}/lockbox-testsummary.$$" ./scripts/testsummary
trap 'rm -f "${TMPDIR:-/tmp}/lockbox-testsummary.$$"' EXIT
go test -json -race -count=1 -timeout 20m "$@" ./... | "${TMPDIR:-/tmp}/lockbox-testsummary.$$"
