#!/usr/bin/env bash
# OpenID4VP interop with the OpenWallet Foundation's oid4vc-ts
# (@openid4vc/openid4vp) and dcql, both directions (interop/oid4vp/run.mjs):
# their wallet answers shenfen's front desk and signs in to shenfen's
# OpenID Provider; their verifier's signed request is checked and answered
# by shenfen's wallet modules, and the answer verified by their libraries;
# refusals on both sides. The server is interop/oidc/server.
source "$(dirname "$0")/../lib.sh"
need_npm
work=$(mktemp -d)
go build -o "$work/server" ./interop/oidc/server
"$work/server" -dir "$work" -out "$work/settings.json" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
	[ -f "$work/settings.json" ] && break
	kill -0 $pid 2>/dev/null || { echo "oid4vp interop server exited" >&2; exit 1; }
	sleep 0.1
done
node interop/oid4vp/run.mjs "$work/settings.json"
