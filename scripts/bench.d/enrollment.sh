#!/usr/bin/env bash
# enrollment.sh measures the CPU time of one whole enrollment decision on one
# core (oid4vc BenchmarkDecision: proofing.Service.Submit with the real face
# engine and speech recogniser on a selfie, 4 video frames and 4.5 s of
# speech; see its doc comment for every step it includes), broken down into
# selfie analysis, speech, liveness and the rest. cpu-ms/op is the process's
# CPU time (getrusage), robust to a shared machine; ns/op is wall time.
# docs/biometrics.md records the results (goal: 250 ms per decision).
#
#   SHENFEN_BENCH_DECISIONS=20   decisions per run
#   SHENFEN_BENCH_COUNT=3        runs
source "$(dirname "$0")/../lib.sh"
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  for d in "$ROOT/../shared/testdata/faces" /work/shared/testdata/faces; do
    if [ -d "$d" ]; then SHENFEN_FACES_DIR="$(cd "$d" && pwd)"; break; fi
  done
fi
export SHENFEN_FACES_DIR
log "enrollment: CPU per whole decision on one core (load $(cut -d' ' -f1-3 /proc/loadavg))"
go test -run '^$' -bench '^BenchmarkDecision$' -cpu 1 \
  -benchtime "${SHENFEN_BENCH_DECISIONS:-20}x" -count "${SHENFEN_BENCH_COUNT:-3}" ./oid4vc/
log "enrollment: done (load $(cut -d' ' -f1-3 /proc/loadavg))"
