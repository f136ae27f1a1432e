#!/usr/bin/env bash
# test.sh sets up and runs every test: formatting and vet, the Go tests (with
# the storage conformance suite against SQLite and PostgreSQL), and the
# suites in scripts/test.d (interop with independent implementations,
# browser end-to-end tests). CI runs exactly this.
source "$(dirname "$0")/lib.sh"
start=$(date +%s)
scripts/setup.sh
scripts/postgres.sh
export SHENFEN_TEST_POSTGRES="${SHENFEN_TEST_POSTGRES:-$(cat "$ROOT/.postgres-url" 2>/dev/null || echo postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable)}"
# Labelled face photos live outside the repository (never committed): next
# to the checkout in ../shared, or where SHENFEN_FACES_DIR says.
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  for d in "$ROOT/../shared/testdata/faces" /work/shared/testdata/faces; do
    if [ -d "$d" ]; then SHENFEN_FACES_DIR="$(cd "$d" && pwd)"; break; fi
  done
fi
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  echo "the labelled face photos (shared/testdata/faces) are needed; set SHENFEN_FACES_DIR" >&2; exit 1
fi
export SHENFEN_FACES_DIR
log "gofmt and go vet"
bad=$(gofmt -l $(git ls-files '*.go') 2>/dev/null || true)
if [ -n "$bad" ]; then echo "gofmt needed on: $bad" >&2; exit 1; fi
go vet ./...
# go.mod and go.sum must be what go mod tidy makes, and staticcheck (pinned
# here; go run fetches that exact version, checked against the checksum
# database) must find nothing: docs/security.md lists what it covers.
log "go mod tidy and staticcheck"
go mod tidy -diff
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
log "go test"
# The browser journey runs after the other packages, not beside them, so
# that Chromium's fake microphone and the page's audio worklet, which run in
# real time, do not share the cores with the other packages' tests.
go test -count=1 -timeout 20m $(go list ./... | grep -v '/e2e$')
log "go test: browser end-to-end"
go test -count=1 -timeout 15m ./e2e
for f in scripts/test.d/*.sh; do
  [ -e "$f" ] || continue
  log "suite: $(basename "$f")"
  bash "$f"
done
log "all tests passed in $(( $(date +%s) - start ))s"
