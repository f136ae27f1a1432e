#!/usr/bin/env bash
# Offline QR interop between package credential/qr (Go) and the browser
# modules of the wallet and the verifier page (web/static/web/mdocqr.js,
# run in Node): Go's payloads verified by the page's module, the wallet
# module's payloads verified by Go, tampered, stale, expired, revoked,
# replayed and foreign ones refused by both.
source "$(dirname "$0")/../lib.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node interop/qr/run.mjs keygen "$work"
go run ./interop/qr -dir "$work" -make
node interop/qr/run.mjs run "$work"
go run ./interop/qr -dir "$work" -check
