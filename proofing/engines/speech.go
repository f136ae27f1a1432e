package engines

import (
	"context"
	"errors"
	"fmt"

	"github.com/shenfen/shenfen/biometric/speech"
	"github.com/shenfen/shenfen/proofing"
)

// Speech is a speech.Recognizer as a proofing.DigitRecognizer: it decodes
// the WAV upload (bounded by speech.DefaultLimits and proofing's part
// size), refuses silence, resamples to 16 kHz and recognises the digits.
type Speech struct {
	Recognizer speech.Recognizer
	// Model names the recogniser (speech.ModelVersion by default).
	Model string
}

var _ proofing.DigitRecognizer = Speech{}

// Recognize implements proofing.DigitRecognizer.
func (s Speech) Recognize(ctx context.Context, wav []byte) (proofing.Spoken, error) {
	a, err := speech.Decode(wav, speech.Limits{})
	if err != nil {
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	}
	if _, err := speech.CheckActivity(a); err != nil {
		if errors.Is(err, speech.ErrSilent) {
			return proofing.Spoken{Rejected: true}, nil
		}
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	}
	a = speech.Resample(a, speech.SampleRate)
	res, err := s.Recognizer.Digits(ctx, a.Samples, a.Rate)
	if err != nil {
		return proofing.Spoken{}, fmt.Errorf("engines: recognise: %w", err)
	}
	return proofing.Spoken{Digits: res.Digits, Confidence: res.Confidence, Rejected: !res.Accepted}, nil
}

// Version implements proofing.DigitRecognizer.
func (s Speech) Version() string {
	if s.Model != "" {
		return s.Model
	}
	return speech.ModelVersion
}
