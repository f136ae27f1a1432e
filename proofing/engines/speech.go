package engines

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/biometric/speech"
	"github.com/shenfen/shenfen/proofing"
)

// Speech is a speech.Verifier as a proofing.DigitRecognizer: it verifies
// the WAV upload with speech.VerifyWAV (decoding bounded by
// speech.DefaultLimits and proofing's part size, clipping and silence
// refused, resampled to 16 kHz, the challenge force-aligned with word
// times), and adds the recording's energy envelope and the fingerprint of
// its samples.
type Speech struct {
	Verifier speech.Verifier
	// Model names the verifier (speech.VerifyModelVersion by default).
	Model string
}

var _ proofing.DigitRecognizer = Speech{}

// Verify implements proofing.DigitRecognizer.
func (s Speech) Verify(ctx context.Context, wav []byte, challenge string, lang proofing.Language) (proofing.Spoken, error) {
	a, err := speech.Decode(wav, speech.Limits{})
	if err != nil {
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	}
	v, err := speech.VerifyWAV(ctx, s.Verifier, wav, challenge, speech.Lang(lang))
	switch {
	case errors.Is(err, speech.ErrClipped):
		return proofing.Spoken{}, fmt.Errorf("%w: audio: %v", proofing.ErrMedia, err)
	case errors.Is(err, speech.ErrBadLang), errors.Is(err, speech.ErrBadChallenge):
		return proofing.Spoken{}, fmt.Errorf("%w: %v", proofing.ErrBadRequest, err)
	case err != nil:
		return proofing.Spoken{}, fmt.Errorf("engines: verify speech: %w", err)
	}
	sp := proofing.Spoken{Accepted: v.Accepted, Score: v.Score, Reason: v.Reason, Envelope: presence.NewEnvelope(a.Samples, a.Rate),
		Fingerprint: fingerprint(a.Samples), Duration: v.Duration}
	for _, w := range v.Words {
		sp.Words = append(sp.Words, presence.Word{Digit: w.Digit, Start: w.Start, End: w.End})
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
	return speech.VerifyModelVersion
}
