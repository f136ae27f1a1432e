package engines

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/biometric/speech"
	"github.com/shenfen/shenfen/proofing"
)

// Speech is a speech.Recognizer as a proofing.DigitRecognizer: it decodes
// the WAV upload (bounded by speech.DefaultLimits and proofing's part
// size), refuses silence, computes the energy envelope and the samples'
// fingerprint, resamples to 16 kHz and recognises the digits. The
// recogniser reads English digits only and gives no word times (the
// presence checks then find the speech in the envelope).
type Speech struct {
	Recognizer speech.Recognizer
	// Model names the recogniser (speech.ModelVersion by default).
	Model string
}

var _ proofing.DigitRecognizer = Speech{}

// Verify implements proofing.DigitRecognizer.
func (s Speech) Verify(ctx context.Context, wav []byte, challenge string, lang proofing.Language) (proofing.Spoken, error) {
	if lang != proofing.English {
		return proofing.Spoken{}, fmt.Errorf("%w: this server's recogniser reads English digits only", proofing.ErrBadRequest)
	}
	a, err := speech.Decode(wav, speech.Limits{})
	if err != nil {
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	}
	sp := proofing.Spoken{Envelope: presence.NewEnvelope(a.Samples, a.Rate), Fingerprint: fingerprint(a.Samples),
		Duration: time.Duration(a.Duration() * float64(time.Second))}
	if _, err := speech.CheckActivity(a); err != nil {
		if errors.Is(err, speech.ErrSilent) {
			sp.Reason = "silent"
			return sp, nil
		}
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	}
	a = speech.Resample(a, speech.SampleRate)
	res, err := s.Recognizer.Digits(ctx, a.Samples, a.Rate)
	if err != nil {
		return proofing.Spoken{}, fmt.Errorf("engines: recognise: %w", err)
	}
	sp.Score = res.Confidence
	switch {
	case !res.Accepted:
		sp.Reason = "rejected"
	case res.Digits != challenge:
		sp.Reason = "mismatch"
	default:
		sp.Accepted, sp.Reason = true, "match"
	}
	return sp, nil
}

// fingerprint is SHA-256 of the samples (little-endian), the same for the
// same audio in any WAV container.
func fingerprint(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, v := range pcm {
		binary.LittleEndian.PutUint16(b[2*i:], uint16(v))
	}
	h := sha256.Sum256(b)
	return h[:]
}

// Version implements proofing.DigitRecognizer.
func (s Speech) Version() string {
	if s.Model != "" {
		return s.Model
	}
	return speech.ModelVersion
}
