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
log "credential: a batch of 20 SD-JWT VC + 20 mdoc with their 40 key proofs / raw cost (40 signatures, 20 proof verifications, the portrait hashed 40 times)"
go test -run '^$' -bench 'IssueBatchRatio|IssueOneByOneRatio' -benchtime 40x -count 5 -cpu 1 ./credential/
