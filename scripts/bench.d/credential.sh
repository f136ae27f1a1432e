#!/usr/bin/env bash
# credential.sh measures card issuance and verification per core (SD-JWT VC
# and mdoc) and the ratio of a full presentation verification to the raw
# cost of the signature verifications it must do, measured in one loop
# (docs/benchmarks.md, "Credentials").
source "$(dirname "$0")/../lib.sh"
log "credential: issuance and verification, one core"
go test -run '^$' -bench . -benchtime "${SHENFEN_BENCH_CRED_TIME:-2s}" -cpu 1 ./credential/sdjwt/ ./credential/mdoc/
log "credential: full verification / raw signature cost (x-raw-median is the robust figure)"
go test -run '^$' -bench Ratio -benchtime 2s -count 3 -cpu 1 ./credential/sdjwt/ ./credential/mdoc/
