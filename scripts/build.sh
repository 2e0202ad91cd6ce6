#!/usr/bin/env bash
# Builds lockbox with what `lockbox version` prints stamped in at link time
# (-ldflags -X): the version (LOCKBOX_VERSION, else the git tag at HEAD,
# else "dev"), the commit, the commit's date and the date of this build.
# The go command stamps the commit itself only when it can (-buildvcs, a
# git binary, a checkout it trusts); this works also where it cannot.
#
#   scripts/build.sh [-o OUTPUT] [go build flags…]     (default OUTPUT: ./lockbox)
#
# SOURCE_DATE_EPOCH, when set, is the build date (reproducible builds).
set -euo pipefail
out="$PWD/lockbox"
if [ "${1:-}" = "-o" ]; then
  [ -n "${2:-}" ] || { echo "usage: $0 [-o OUTPUT] [go build flags…]" >&2; exit 2; }
  case "$2" in /*) out="$2" ;; *) out="$PWD/$2" ;; esac
  shift 2
fi
cd "$(dirname "$0")/.."
export GOTOOLCHAIN="${GOTOOLCHAIN:-local}"

version="${LOCKBOX_VERSION:-}"
commit="" commit_date=""
if git rev-parse --verify -q HEAD >/dev/null 2>&1; then
  commit=$(git rev-parse --short=12 HEAD)
  if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    commit="$commit-dirty" # built from edits not in that commit
  fi
  commit_date=$(date -u -d "@$(git show -s --format=%ct HEAD)" +%Y-%m-%dT%H:%M:%SZ)
  if [ -z "$version" ]; then
    version=$(git describe --tags --exact-match HEAD 2>/dev/null || true)
  fi
else
  echo "warning: not a git checkout: lockbox version will say commit unknown" >&2
fi
build_date=$(date -u ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"} +%Y-%m-%dT%H:%M:%SZ)

go build -o "$out" -ldflags "-X main.version=$version -X main.commit=$commit -X main.commitDate=$commit_date -X main.buildDate=$build_date" "$@" ./cmd/lockbox
"$out" version
