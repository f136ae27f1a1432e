#!/usr/bin/env bash
# oidc.sh measures the OpenID Provider (docs/benchmarks.md, "OpenID
# Provider"): whole logins, the token endpoint (refresh_token grant with a
# private_key_jwt assertion), discovery and JWKS, on SQLite and PostgreSQL.
# The provider runs in its own process and its CPU time is read apart from
# the load generator's (and from PostgreSQL's backends): see
# BenchmarkProvider in oidc/process_bench_test.go. OIDC_BENCH_COUNT and
# OIDC_BENCH_TIME change the runs (default 3 runs of 3 s each);
# SHENFEN_OIDC_BENCH_PROFILE=dir writes a CPU profile of the provider per
# benchmark.
source "$(dirname "$0")/../lib.sh"
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
log "oidc: provider in a child process; load average before: $(loadavg)"
go test -run '^$' -bench '^BenchmarkProvider$' -benchtime "${OIDC_BENCH_TIME:-3s}" -count "${OIDC_BENCH_COUNT:-3}" ./oidc/
log "oidc: load average after: $(loadavg)"
