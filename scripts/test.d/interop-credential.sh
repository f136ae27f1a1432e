#!/usr/bin/env bash
# Credential interop with independent implementations, both directions:
# shenfen's SD-JWT VC and mdoc verified by @sd-jwt/sd-jwt-vc, @auth0/mdl and
# @animo-id/mdoc (mdoc only, that direction),
# and theirs verified by shenfen's Go library (credential/sdjwt, credential/mdoc).
source "$(dirname "$0")/../lib.sh"
need_npm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go run ./interop/credential/gen -dir "$work" -make
node interop/credential/verify-ours.mjs "$work"
node interop/credential/issue-theirs.mjs "$work"
go run ./interop/credential/gen -dir "$work" -check
