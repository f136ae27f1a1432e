// Package e2e holds shenfen's browser end-to-end tests: the real server
// (the shenfen binary, built by the test, with the demo registry) driven
// through the real pages in headless Chromium (Debian's chromium, through
// chromedp) with a fake camera and a fake microphone.
//
// The camera and the microphone are files (.y4m and .wav) that Chromium
// reads from their start each time a page opens the device. The challenge
// (digits and the server's screen colours) is only known once the wallet
// shows it, so the test reads it from the wallet's IndexedDB and writes
// both files before pressing record: package internal/synth's genuine
// simulation, made from a photo of a demo resident (another photograph
// than the registry portrait), reading the digits in a synthetic voice
// with the jaw moving with the voice and the skin lit by the screen's
// colours. The synthetic citizen speaks clearly: of a few voices, the test
// uses the first that `shenfen speech check` hears right on its own. When
// the server still refuses the reading (the way through the browser lost
// something), the wallet says so and offers to try again with new digits;
// the test does, a bounded number of times, logging each miss and saving
// everything the wallet sent (test-artifacts/e2e/recording-N.wav and
// recording-N-frames/, each frame named by its time) with
// what the recogniser hears in it. The form is kept by a script the test
// installs through the DevTools protocol; no test hook exists in the
// product.
//
// Screenshots of every step go to test-artifacts/e2e/ (git-ignored). Every
// img, video and canvas is blurred before a screenshot, so that no
// screenshot holds a recognisable copy of the test photos. With
// SHENFEN_E2E_DOCS=1 (scripts/screenshots.sh) a passing run also copies
// the steps docs/walkthrough.md shows to docs/screenshots/.
//
// Without Chromium the tests skip, saying so; the other tools they need
// (espeak-ng, sox) and the face photos are required.
package e2e
