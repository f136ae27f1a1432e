#!/usr/bin/env bash
# qrscan.sh renders the wallet's offline code in Chromium at four phone
# sizes, photographs it with the simulated desk camera (e2e/camera.go) at
# four degradation levels and reads each frame with zxing-cpp, gozxing and
# the verifier page's own scanner: docs/benchmarks.md, "Offline code".
# QRSCAN_TRIALS frames per phone size and level (default 25).
source "$(dirname "$0")/../lib.sh"
log "qrscan: offline code decode rates"
(cd e2e && go test -count=1 -run '^TestQRScan$' -v -timeout 60m . -qrscan.trials "${QRSCAN_TRIALS:-25}") | grep -A12 'decode rates'
