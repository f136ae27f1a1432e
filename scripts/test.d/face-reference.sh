#!/usr/bin/env bash
# Face descriptor reference check: the Go port in biometric/face against
# @vladmandic/face-api's own FaceRecognitionNet on tfjs (cpu backend, run by
# interop/face/reference.mjs) on the same face crops, element-wise within 1e-5.
source "$(dirname "$0")/../lib.sh"
need_npm
SHENFEN_FACE_REFERENCE=1 go test -count=1 -run 'TestReferenceFaceAPI' -v ./biometric/face/ 2>&1 | grep -E '^(=== RUN|--- |PASS|FAIL|ok|\s+reference_test)' 
exit "${PIPESTATUS[0]}"
