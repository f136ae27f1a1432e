#!/usr/bin/env bash
# OpenID Connect interop: full logins against shenfen's provider with the
# independent openid-client (npm): discovery, code + PKCE, PAR,
# client_secret_basic and private_key_jwt, ID token, userinfo, refresh.
# The Go side (coreos/go-oidc + x/oauth2) runs in go test ./oidc/.
source "$(dirname "$0")/../lib.sh"
need_npm
work=$(mktemp -d)
go build -o "$work/server" ./interop/oidc/server
"$work/server" -dir "$work" -out "$work/settings.json" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
	[ -f "$work/settings.json" ] && break
	kill -0 $pid 2>/dev/null || { echo "oidc interop server exited" >&2; exit 1; }
	sleep 0.1
done
node interop/oidc/login.mjs "$work/settings.json"
