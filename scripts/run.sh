#!/usr/bin/env bash
# run.sh sets up, builds and starts shenfen with an embedded SQLite database
# and a demo registry in ./shenfen-data. Open the printed URL.
source "$(dirname "$0")/lib.sh"
scripts/setup.sh
log "building bin/shenfen"
go build -o bin/shenfen ./cmd/shenfen
# Demo portraits come from the shared labelled photos when they are present.
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  for d in "$ROOT/../shared/testdata/faces" /work/shared/testdata/faces; do
    if [ -d "$d" ]; then export SHENFEN_FACES_DIR="$(cd "$d" && pwd)"; break; fi
  done
fi
ADDR="${SHENFEN_ADDR:-127.0.0.1:8080}"
DATA="${SHENFEN_DATA:-shenfen-data}"
log "starting shenfen on http://$ADDR (wallet: http://$ADDR/wallet/, verifier: http://$ADDR/verifier/, admin: http://$ADDR/admin/ with the token in $DATA/admin-token)"
exec bin/shenfen serve --addr "$ADDR" --data "$DATA" --demo "$@"
