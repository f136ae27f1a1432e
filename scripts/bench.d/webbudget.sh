#!/usr/bin/env bash
# webbudget.sh loads the wallet, the verifier page and the landing page for
# the first time on a throttled mid-phone profile (CPU 4x, 150 ms RTT,
# 1.6 Mbit/s) three times: transferred bytes and first contentful paint,
# docs/benchmarks.md, "Wallet and front desk: first load".
source "$(dirname "$0")/../lib.sh"
log "webbudget: first load, three runs"
for i in 1 2 3; do
  (cd e2e && go test -count=1 -run '^TestBudget$' -v .) | grep 'first load'
done
