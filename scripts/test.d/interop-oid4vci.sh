#!/usr/bin/env bash
# OpenID4VCI interop: the OpenWallet Foundation's @openid4vc/openid4vci client
# collects a card enrolled on a test server (package oid4vc's test doubles
# for the biometric engines): offer, metadata, pre-authorized code, c_nonce,
# proof JWT with the device key, all three configurations; @sd-jwt/core
# verifies the SD-JWT VC (interop/oid4vci/collect.mjs, TestOID4VCIInterop).
source "$(dirname "$0")/../lib.sh"
need_npm
SHENFEN_INTEROP_OID4VCI=1 go test -count=1 -run '^TestOID4VCIInterop$' -v ./oid4vc | grep -E '^(ok|FAIL|---)|passed|FAIL' 
test "${PIPESTATUS[0]}" -eq 0
