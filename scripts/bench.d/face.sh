#!/usr/bin/env bash
# face.sh measures biometric/face: the calibration on the shared labelled
# photos (genuine/impostor distances, FNMR and FMR at several thresholds,
# confidence bounds) and the CPU time per decision on one core (descriptor
# alone, a whole Analyze of a photo, a 6-frame liveness decision), with the
# GEMM kernel against gonum's Sgemm in the same run, and the landmark stack of
# biometric/face/mesh (BlazeFace detection, FaceMesh tracking per video frame)
# against the descriptor in the same run. The landmark search is
# deterministic (fixed perturbation sets), so the calibration is repeated to
# show it: every run prints a digest of all its pair distances, which must be
# the same from run to run. The reference check against face-api
# (scripts/test.d/face-reference.sh) is run too, for its max difference.
#
#   SHENFEN_FACES_DIR        the labelled photos (default ../shared/testdata/faces)
#   SHENFEN_FACE_RUNS=3      calibration runs (the first is printed in full)
#   SHENFEN_FACE_PIPELINE=1  also run face-api's own whole pipeline (SSD, 68
#                            landmarks) in Node on the photos and print its
#                            distances (slow: minutes on tfjs's cpu backend)
source "$(dirname "$0")/../lib.sh"
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  for d in "$ROOT/../shared/testdata/faces" /work/shared/testdata/faces; do
    if [ -d "$d" ]; then SHENFEN_FACES_DIR="$(cd "$d" && pwd)"; break; fi
  done
fi
export SHENFEN_FACES_DIR
log "face: calibration on $SHENFEN_FACES_DIR"
out=$(go test -count=1 -run 'TestCalibration' -v ./biometric/face/ || true)
grep -vE '^=== (RUN|PAUSE|CONT)' <<<"$out"
digest() { grep -E '^\s+[0-9.]+ (genuine|impostor) ' | md5sum | cut -c1-12; }
log "face: calibration run 1: digest of the listed pair distances $(digest <<<"$out")"
runs="${SHENFEN_FACE_RUNS:-3}"
for ((i = 2; i <= runs; i++)); do
  out=$(go test -count=1 -run 'TestCalibration' -v ./biometric/face/ || true)
  grep -E 'pairs [0-9]+:|\(chosen\)|^(--- |ok|FAIL)' <<<"$out" || true
  log "face: calibration run $i of $runs: digest of the listed pair distances $(digest <<<"$out")"
done
log "face: descriptor reference check against face-api (tfjs cpu backend)"
bash "$ROOT/scripts/test.d/face-reference.sh" || true
if [ "${SHENFEN_FACE_PIPELINE:-}" = 1 ]; then
  log "face: face-api's own pipeline (Node, tfjs cpu)"
  SHENFEN_FACE_PIPELINE=1 go test -count=1 -timeout 60m -run 'TestPipelineFaceAPI' -v ./biometric/face/ | grep -vE '^=== RUN' || true
fi
log "face: CPU time per op on one core (cpu-ms/op is the process's CPU time, robust to a shared machine)"
go test -run '^$' -bench 'Descriptor|Analyze|Liveness' -cpu 1 -benchtime "${SHENFEN_BENCH_FACE_TIME:-20x}" ./biometric/face/
go test -run '^$' -bench 'GEMM' -cpu 1 -benchtime "${SHENFEN_BENCH_FACE_TIME:-20x}" ./biometric/face/internal/gemm/
log "face: landmark stack (biometric/face/mesh): detection counts (mesh and face.Analyze) on photo variants, CPU per detect and per track"
go test -count=1 -run 'TestCompareDetectors' -v ./biometric/face/mesh/ | grep -vE '^=== RUN' || true
go test -run '^$' -bench . -cpu 1 -benchtime "${SHENFEN_BENCH_FACE_TIME:-20x}" ./biometric/face/mesh/
log "face: landmark graph reference check against tfjs (cpu backend)"
bash "$ROOT/scripts/test.d/mesh-reference.sh" || true
