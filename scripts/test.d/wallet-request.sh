#!/usr/bin/env bash
# The wallet's check of who asks (web/static/wallet/request.js, in Node)
# against the Go verifier.Checker on the same request objects: registered
# desk and online verifier accepted; unsigned, altered, foreign-chained,
# document-signer, client_id/SAN/hash mismatch, foreign response_uri,
# removed, over-asking, expired and replayed requests refused with the same
# reason by both (interop/vprequest).
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./interop/vprequest -dir "$work"
node interop/vprequest/run.mjs "$work"
