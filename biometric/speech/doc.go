// Package speech checks that a recording holds a citizen reading the four
// challenge digits aloud.
//
// It holds three parts:
//
//   - a bounded WAV decoder ([Decode]) with a resampler to 16 kHz mono
//     ([Resample]); it is written by hand because the standard library has
//     no RIFF/WAVE reader and the upload path needs exact control over
//     size, duration and format limits before any sample is allocated;
//   - an energy-based activity check ([Activity]) that refuses silence and
//     steady noise before any recognition is attempted;
//   - the [Recognizer] interface and its implementation [Sphinx], CMU
//     PocketSphinx (through cgo) constrained by a JSGF grammar of exactly
//     four digits, with a rejection step: the grammar path is scored against
//     an unconstrained phone loop over the same audio, and the per-frame
//     acoustic likelihood ratio is the confidence. Speech that is not four
//     digits fits the phone loop much better than the grammar and is
//     refused.
//
// [VerifyWAV] asks the question the enrollment needs, "was this challenge
// read?", through the [Verifier] interface: [Sphinx.Verify] force-aligns
// the challenge and weighs it against competing hypotheses. English is
// decoded by PocketSphinx's US English model; Mandarin, for which no
// acoustic model is packaged, by a small whole-word digit model trained
// here on generated speech (zh-digits.gob, scripts/train-speech-zh.sh) and
// decoded in pure Go (features, digitModel, network).
//
// [Check] ties the older recognition together for the enrollment decision:
// WAV bytes and a challenge in, a [Verdict] out.
package speech
