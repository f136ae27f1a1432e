// Package presence holds the server-side checks that a video of an
// enrollment shows a live person reading the challenge at that moment: the
// server-chosen light challenge (a random sequence of screen colours), the
// light check (the face's colour follows that sequence, frame by frame), the
// audio-visual synchrony check (the mouth opens with the speech, and moves
// inside every recognised digit's time span) and perceptual hashes for
// replay detection.
//
// The package is pure domain code: it works on series the face and speech
// engines computed (per-frame mouth opening and skin colour, the audio's
// energy envelope, the digits' time spans) and imports no HTTP, no SQL and
// no model. Every time is relative to the start of the recording (sample 0
// of the audio is t = 0 of the frames).
package presence

// Version names the checks' rules and thresholds (recorded with each
// decision).
const Version = "presence-1"
