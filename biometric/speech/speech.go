package speech

import (
	"context"
	"errors"
	"fmt"
)

// ErrBadChallenge means the challenge given to [Check] is not four ASCII
// digits: a caller bug, not a citizen's failure.
var ErrBadChallenge = errors.New("speech: challenge must be four digits")

// ChallengeLen is the number of digits a citizen reads.
const ChallengeLen = 4

// Recognizer turns 16-bit mono PCM into the four digits it hears.
// Implementations are safe for concurrent use.
type Recognizer interface {
	// Digits recognises pcm sampled at sampleRate (16000 for the PocketSphinx
	// recogniser; callers resample first). Result.Accepted is false when
	// the audio does not sound like four digits; an error means the
	// recogniser could not run at all.
	Digits(ctx context.Context, pcm []int16, sampleRate int) (Result, error)
}

// Result is what a [Recognizer] heard.
type Result struct {
	// Digits are the best four digits under the grammar, "" if none.
	Digits string
	// Score is the acoustic log-likelihood ratio of the digit-grammar path
	// to an unconstrained phone loop over the same audio, divided by the
	// frames the grammar put in digits (PocketSphinx score units). Near or
	// above 0, the grammar explains the audio as well as free phones do;
	// arbitrary speech scores far lower.
	Score float64
	// Confidence in [0,1] is exp(Score/10), capped at 1.
	Confidence float64
	// Accepted is Confidence >= the recogniser's threshold with four digits
	// heard.
	Accepted bool
	// Frames is the number of 10 ms frames decoded (after leading and
	// trailing silence is trimmed); SpeechFrames those the
	// grammar path put in words rather than silence.
	Frames, SpeechFrames int
	// Model identifies the recogniser and its settings (see ModelVersion).
	Model string
}

// Verdict is the outcome of [Check].
type Verdict struct {
	// Match is true when the recording was accepted and its digits equal
	// the challenge.
	Match bool
	// Heard are the recognised digits (kept for the decision record;
	// they are not personal data).
	Heard      string
	Confidence float64
	// Reason is a short stable word for the outcome: "match", "mismatch",
	// "rejected" (not four clear digits) or "silent".
	Reason   string
	Duration float64 // seconds of audio
	Model    string
}

// Check decodes the WAV upload, refuses silence, resamples to 16 kHz,
// recognises the digits with rec and compares them with challenge.
// Malformed uploads give the errors of [Decode] (ErrNotWAV,
// ErrUnsupportedFormat, ErrTooLarge, ErrTooLong, ErrTooShort); a recording
// without speech gives a Verdict with Reason "silent" and no error, like any
// other refusal.
func Check(ctx context.Context, rec Recognizer, wav []byte, challenge string) (Verdict, error) {
	if !validChallenge(challenge) {
		return Verdict{}, ErrBadChallenge
	}
	a, err := Decode(wav, Limits{})
	if err != nil {
		return Verdict{}, err
	}
	v := Verdict{Duration: a.Duration()}
	if _, err := CheckActivity(a); err != nil {
		v.Reason = "silent"
		return v, nil
	}
	a = Resample(a, SampleRate)
	res, err := rec.Digits(ctx, a.Samples, a.Rate)
	if err != nil {
		return Verdict{}, fmt.Errorf("speech: recognise: %w", err)
	}
	v.Heard, v.Confidence, v.Model = res.Digits, res.Confidence, res.Model
	switch {
	case !res.Accepted:
		v.Reason = "rejected"
	case res.Digits != challenge:
		v.Reason = "mismatch"
	default:
		v.Match, v.Reason = true, "match"
	}
	return v, nil
}

func validChallenge(s string) bool {
	if len(s) != ChallengeLen {
		return false
	}
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
