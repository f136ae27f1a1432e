package speech

import (
	"context"
	"errors"
	"testing"
	"time"
)

// recorder is a Verifier that accepts everything and records its input.
type recorder struct {
	calls int
	rate  int
	n     int
}

func (r *recorder) Verify(_ context.Context, pcm []int16, rate int, challenge string, lang Lang) (Verification, error) {
	r.calls++
	r.rate, r.n = rate, len(pcm)
	return Verification{Accepted: true, Reason: "match", Lang: lang, Words: []Word{{Digit: challenge[0]}}}, nil
}

// FuzzVerifyWAV feeds arbitrary uploads to VerifyWAV: every refusal is a
// sentinel error or a "silent" verification, and the verifier only ever
// sees 16 kHz audio with the recording's duration.
func FuzzVerifyWAV(f *testing.F) {
	f.Add(wavFile(formatPCM, 1, 8000, 16, repeat(pcm16(1, -1), 4000)))
	f.Add(wavFile(formatPCM, 2, 44100, 16, repeat(pcm16(9000, -9000, 0, 3), 20000)))
	f.Add(wavFile(formatPCM, 1, 16000, 16, repeat(pcm16(32767, -32768), 8000)))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var rec recorder
		v, err := VerifyWAV(context.Background(), &rec, b, "1234", English)
		if err != nil {
			for _, s := range []error{ErrNotWAV, ErrUnsupportedFormat, ErrTooLong, ErrTooShort, ErrTooLarge, ErrClipped} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error without a sentinel: %v", err)
		}
		a, derr := Decode(b, Limits{})
		if derr != nil {
			t.Fatalf("accepted an upload Decode refuses: %v", derr)
		}
		if want := time.Duration(len(a.Samples)) * time.Second / time.Duration(a.Rate); v.Duration != want {
			t.Fatalf("duration %v, want %v", v.Duration, want)
		}
		switch {
		case v.Reason == "silent":
			if rec.calls != 0 || v.Accepted {
				t.Fatalf("silent recording verified: %+v", v)
			}
		case rec.calls != 1 || rec.rate != SampleRate || rec.n != len(Resample(a, SampleRate).Samples):
			t.Fatalf("verifier called %d times at %d Hz with %d samples", rec.calls, rec.rate, rec.n)
		}
	})
}

func TestCheckClipping(t *testing.T) {
	mk := func(clipped, n int) Audio {
		s := make([]int16, n)
		for i := range clipped {
			s[i*(n/clipped)] = 32767
		}
		return Audio{Samples: s, Rate: 16000}
	}
	if err := checkClipping(mk(100, 16000)); err != nil {
		t.Fatalf("0.6%% at full scale: %v", err)
	}
	if err := checkClipping(mk(200, 16000)); !errors.Is(err, ErrClipped) {
		t.Fatalf("1.25%% at full scale: %v", err)
	}
}
