#!/usr/bin/env bash
# trust.sh measures status lists (signing and parsing a 2^20-entry shard,
# status changes on both drivers, the 100 M-card size budget) and the audit
# log (append, inclusion and consistency proofs): docs/benchmarks.md, "Trust".
source "$(dirname "$0")/../lib.sh"
log "trust: status lists"
go test -run '^$' -bench 'TokenSign|TokenFromStore|SetStatus|Allocate|Cached|ParseToken' -benchtime 2s ./status/
go test -run '^$' -bench Size100M -benchtime 1x ./status/
log "trust: audit log"
go test -run '^$' -bench . -benchtime 2s ./audit/
