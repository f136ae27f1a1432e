#!/usr/bin/env bash
# screenshots.sh refreshes docs/screenshots/*.png (shown by
# docs/walkthrough.md) from one run of the browser journey e2e/TestJourney:
# every picture that can show a face is blurred before each screenshot
# (the test photos are never published), and the copies are re-encoded at
# the best PNG compression. The run's full set stays in test-artifacts/e2e/.
# Needs what scripts/setup.sh installs (chromium, ffmpeg, espeak-ng, sox)
# and the face photos (../shared/testdata/faces or SHENFEN_FACES_DIR).
source "$(dirname "$0")/lib.sh"
if [ -z "${SHENFEN_FACES_DIR:-}" ]; then
  for d in "$ROOT/../shared/testdata/faces" /work/shared/testdata/faces; do
    if [ -d "$d" ]; then SHENFEN_FACES_DIR="$(cd "$d" && pwd)"; break; fi
  done
fi
export SHENFEN_FACES_DIR
command -v chromium >/dev/null || [ -n "${SHENFEN_CHROMIUM:-}" ] || { echo "chromium is needed: run scripts/setup.sh" >&2; exit 1; }
log "running e2e/TestJourney with SHENFEN_E2E_DOCS=1"
SHENFEN_E2E_DOCS=1 go test -count=1 -v -run '^TestJourney$' ./e2e/ | grep -v '^        {' || { echo "the journey failed: docs/screenshots left as they were" >&2; exit 1; }
log "docs/screenshots: $(ls docs/screenshots/*.png | wc -l) files, $(du -ch docs/screenshots/*.png | tail -1 | cut -f1)"
