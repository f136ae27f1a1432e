#!/usr/bin/env bash
# speech.sh measures the spoken-digit check (biometric/speech): exact-digit
# accuracy and acceptance on SHENFEN_SPEECH_CLIPS generated clips (espeak-ng
# voices, speeds 120-180 wpm, 16-48 kHz, light white noise), refusals of
# non-digit speech, and CPU per recognition and per whole speech decision on
# one core. It also prints, for several confidence thresholds, how many
# digit clips pass with the right and with wrong digits and how many
# non-digit clips pass (how DefaultThreshold was chosen).
# docs/biometrics.md records the results.
#
#   SHENFEN_SPEECH_CLIPS=120   number of digit clips
source "$(dirname "$0")/../lib.sh"
export SHENFEN_SPEECH_CLIPS="${SHENFEN_SPEECH_CLIPS:-120}"
log "speech accuracy on $SHENFEN_SPEECH_CLIPS generated clips"
go test ./biometric/speech/ -count=1 -run '^TestAccuracy$' -v -timeout 60m | grep -E 'voice |ALL |miss |accepted non-digit|threshold table|^\s+\||^(ok|FAIL|---)'
log "speech CPU per clip, one core (cpu-ms/op is the process's CPU time, robust to a shared machine)"
go test ./biometric/speech/ -count=1 -run XXX -bench 'Digits|Check|DecodeResample' -benchtime 20x -cpu 1
