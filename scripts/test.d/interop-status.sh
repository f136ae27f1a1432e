#!/usr/bin/env bash
# Token Status List interop with the independent @sd-jwt/jwt-status-list
# (npm), both directions: shenfen's signed lists read by it, its lists
# verified and read by shenfen's status package.
source "$(dirname "$0")/../lib.sh"
need_npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./interop/status -dir "$work" -make
node interop/status/verify-ours.mjs "$work"
node interop/status/issue-theirs.mjs "$work"
go run ./interop/status -dir "$work" -check
