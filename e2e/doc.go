// Package e2e holds shenfen's browser end-to-end tests: the real server
// (the shenfen binary, built by the test, with the demo registry) driven
// through the real pages in headless Chromium (Debian's chromium, through
// chromedp) with a fake camera and a fake microphone.
//
// The camera is a .y4m video made at test time from a face photo of a demo
// resident (another photograph than the registry portrait), with the jaw
// moved frame by frame so that the liveness check sees a speaking mouth.
// The microphone is a WAV of espeak-ng reading the challenge digits; the
// digits are only known once the wallet shows them, so the test reads them
// from the page, makes the WAV, and restarts the browser on the same
// profile with that file as the microphone: the wallet keeps the pending
// enrollment in IndexedDB, so it picks up where it was. The synthetic
// citizen speaks clearly: of a few espeak-ng voices and speeds, the test
// uses the first that `shenfen speech check` hears right on its own. When
// the server still refuses the reading (the way through the browser lost
// something), the wallet says so and offers to try again with new digits;
// the test does, a bounded number of times, logging each miss and saving
// every recording the wallet sent (test-artifacts/e2e/recording-N.wav) with
// what the recogniser hears in it. The recording is kept by a script the
// test installs through the DevTools protocol; no test hook exists in the
// product.
//
// Screenshots of every step go to test-artifacts/e2e/ (git-ignored). Every
// img, video and canvas is blurred before a screenshot, so that no
// screenshot holds a recognisable copy of the test photos. With
// SHENFEN_E2E_DOCS=1 (scripts/screenshots.sh) a passing run also copies
// the steps docs/walkthrough.md shows to docs/screenshots/.
//
// Without Chromium the tests skip, saying so; the other tools they need
// (ffmpeg, espeak-ng, sox) and the face photos are required.
package e2e
