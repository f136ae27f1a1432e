package speech

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Lang is the language a citizen reads the challenge digits in, chosen by
// the wallet and recorded in the decision.
type Lang string

// The languages [Sphinx] verifies.
const (
	English  Lang = "en"
	Mandarin Lang = "zh"
)

// ErrBadLang means the language given to [VerifyWAV] or a [Verifier] is
// not one of [English] and [Mandarin]: a caller bug.
var ErrBadLang = errors.New("speech: unsupported language")

// ErrClipped means the recording is saturated: too many samples at full
// scale, so the speech in it is distorted (the microphone gain is too
// high or the phone is too close to the mouth).
var ErrClipped = errors.New("speech: recording clipped")

// Valid reports whether l is a supported language.
func (l Lang) Valid() bool { return l == English || l == Mandarin }

// Word is one challenge digit in a recording: its time span relative to
// sample 0 of the original (untrimmed, not resampled) recording.
type Word struct {
	Digit      byte // '0'..'9'
	Start, End time.Duration
}

// Verification is the outcome of verifying that a recording holds the
// challenge read aloud.
type Verification struct {
	// Accepted is true when the challenge was read: the forced alignment
	// of its digits explains the audio nearly as well as the best
	// competing hypothesis (other digits, other speech, silence).
	Accepted bool
	// Score is the decision margin, in PocketSphinx log units per frame
	// (about 0.1 nat): the smallest of the log-likelihood ratios of the
	// challenge's forced alignment against the competing hypotheses (any
	// digits, free phones; over the whole reading and over its worst
	// word), each minus its calibrated threshold, so that Accepted is
	// Score >= 0. It is 0 when no alignment could be made.
	Score float64
	// Reason is a short stable word: "match" (accepted), "mismatch" (the
	// recording holds digits, but not the challenge), "rejected" (it does
	// not sound like the challenge digits: other speech, noise, music) or
	// "silent" (no speech at all).
	Reason string
	// Words are the challenge digits' time spans from the forced
	// alignment, in challenge order; empty when not accepted.
	Words []Word
	Lang  Lang
	// Model names the recogniser, its acoustic model, the dictionary of
	// the language and the decision settings.
	Model string
	// Duration is the length of the recording.
	Duration time.Duration

	scores scores    // the parts of Score, for calibration (English)
	hmm    hmmScores // the same for the digit model (Mandarin)
}

// frameDur is the frame step of both recognisers (PocketSphinx's -frate
// 100 and the digit model's features).
const frameDur = 10 * time.Millisecond

// scores are the two log-likelihood ratios behind a Verification and the
// digits the free digit loop heard.
type scores struct {
	// Per frame of the challenge's words: forced path against the free
	// digit loop, against the phone loop, the forced words' own score
	// (relative to the best senone of each frame), and the worst word's;
	// the worst word's ratio against the digit loop and against the phone
	// loop over the same frames.
	digits, phones, mean, word float64
	wordD, wordP               float64
	short, filler              int // shortest word, frames in noise fillers
	heard                      string
}

// Verifier decides whether pcm (mono 16-bit, rate samples per second)
// holds challenge read aloud in lang. Implementations are safe for
// concurrent use. Refusals are a Verification with Accepted false; an
// error means a bad argument or that the verifier could not run.
type Verifier interface {
	Verify(ctx context.Context, pcm []int16, rate int, challenge string, lang Lang) (Verification, error)
}

// Clipping: a recording is refused as clipped when more than clipShare of
// its samples are within clipLevel of full scale. Speech peaks touch full
// scale now and then in a loud but usable recording; a saturated one sits
// there for whole syllables.
const (
	clipLevel = 32000
	clipShare = 0.01
)

// checkClipping returns an error wrapping [ErrClipped] for a saturated
// recording.
func checkClipping(a Audio) error {
	n := 0
	for _, s := range a.Samples {
		if s >= clipLevel || s <= -clipLevel {
			n++
		}
	}
	if len(a.Samples) > 0 && float64(n) > clipShare*float64(len(a.Samples)) {
		return fmt.Errorf("%w: %.1f%% of samples at full scale", ErrClipped, 100*float64(n)/float64(len(a.Samples)))
	}
	return nil
}

// VerifyWAV decodes the WAV upload, refuses saturated audio, refuses
// silence (a Verification with Reason "silent", not an error), resamples to
// [SampleRate] and asks v whether challenge was read in lang. Malformed
// uploads give the errors of [Decode] (ErrNotWAV, ErrUnsupportedFormat,
// ErrTooLarge, ErrTooLong, ErrTooShort) or [ErrClipped]; a bad challenge
// gives [ErrBadChallenge], a bad language [ErrBadLang].
func VerifyWAV(ctx context.Context, v Verifier, wav []byte, challenge string, lang Lang) (Verification, error) {
	if !validChallenge(challenge) {
		return Verification{}, ErrBadChallenge
	}
	if !lang.Valid() {
		return Verification{}, fmt.Errorf("%w: %q", ErrBadLang, lang)
	}
	a, err := Decode(wav, Limits{})
	if err != nil {
		return Verification{}, err
	}
	if err := checkClipping(a); err != nil {
		return Verification{}, err
	}
	dur := time.Duration(len(a.Samples)) * time.Second / time.Duration(a.Rate)
	if _, err := CheckActivity(a); err != nil {
		return Verification{Reason: "silent", Lang: lang, Duration: dur}, nil
	}
	a = Resample(a, SampleRate)
	res, err := v.Verify(ctx, a.Samples, a.Rate, challenge, lang)
	if err != nil {
		return Verification{}, fmt.Errorf("speech: verify: %w", err)
	}
	res.Duration = dur
	return res, nil
}

// Conditioning of the audio before recognition: the level is normalised
// (as a phone's automatic gain would) so that the loudest samples sit at
// conditionPeak, then white noise at conditionFloor is added, from a fixed
// seed so that a decision is reproducible. The acoustic model was trained
// on recorded speech, which always has a noise floor: digital silence and
// perfectly clean synthetic or noise-suppressed speech score poorly, and a
// known floor makes quiet rooms and rooms with some noise look alike.
const (
	conditionPeak  = -3.0  // dBFS
	conditionFloor = -45.0 // dBFS, RMS
	maxGainDB      = 30.0
)

// condition returns a normalised copy of s with the noise floor added.
func condition(s []int16) []int16 {
	if len(s) == 0 {
		return nil
	}
	// The peak is the 99.9th percentile of the magnitudes, so that a few
	// clicks do not set the gain.
	var hist [32769]int
	for _, v := range s {
		hist[abs16(v)]++
	}
	peak, seen := 0, 0
	for m := len(hist) - 1; m >= 0; m-- {
		seen += hist[m]
		if seen*1000 >= len(s) {
			peak = m
			break
		}
	}
	gain := 1.0
	if peak > 0 {
		gain = math.Min(32768*math.Pow(10, conditionPeak/20)/float64(peak), math.Pow(10, maxGainDB/20))
	}
	noise := 32768 * math.Pow(10, conditionFloor/20)
	r := rand.New(rand.NewPCG(0x5eed, uint64(len(s))))
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = toInt16(float64(v)*gain + r.NormFloat64()*noise)
	}
	return out
}

func abs16(v int16) int {
	if v < 0 {
		return -int(v)
	}
	return int(v)
}
