//go:build cgo

package speech

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	sharedOnce sync.Once
	shared     *Sphinx
	sharedErr  error
)

func recognizer(t testing.TB) *Sphinx {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = NewSphinx(SphinxConfig{}) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

// synth renders raw audio with sox into a WAV file and returns its bytes.
func synth(t testing.TB, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "synth.wav")
	run(t, "sox", append([]string{"-R", "-n", "-r", "16000", "-c", "1", "-b", "16", out, "synth"}, args...)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheck covers acceptance and each refusal the enrollment relies on.
// The clips are generated (espeak-ng, sox) and deterministic.
func TestCheck(t *testing.T) {
	needTools(t)
	rec := recognizer(t)
	dir := t.TempDir()
	tests := []struct {
		name      string
		audio     []byte
		challenge string
		reason    string
	}{
		{"right digits", generate(t, dir, clip{text: spoken("7503"), voice: "en-us+klatt2", speed: 120, noise: 0.01}), "7503", "match"},
		{"right digits, 22 kHz, noise", generate(t, dir, clip{text: spoken("2044"), voice: "en-us+klatt3", speed: 140, noise: 0.01, rate: 22050}), "2044", "match"},
		{"right digits, 44 kHz", generate(t, dir, clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100}), "3778", "match"},
		{"right digits, 44 kHz, noise", generate(t, dir, clip{text: spoken("8360"), voice: "en-us+klatt", speed: 160, noise: 0.01, rate: 44100}), "8360", "match"},
		{"wrong digits", generate(t, dir, clip{text: spoken("7503"), voice: "en-us+klatt2", speed: 120, noise: 0.01}), "1234", "mismatch"},
		{"one digit changed", generate(t, dir, clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100}), "3779", "mismatch"},
		{"digits in another order", generate(t, dir, clip{text: spoken("8360"), voice: "en-us+klatt", speed: 160}), "8306", "mismatch"},
		{"sentence", generate(t, dir, clip{text: "the quick brown fox jumps over the lazy dog", voice: "en-us+klatt2", speed: 150}), "0507", "rejected"},
		{"greeting", generate(t, dir, clip{text: "hello, my name is john", voice: "en-us+klatt3", speed: 150, noise: 0.01}), "0989", "rejected"},
		{"request", generate(t, dir, clip{text: "I would like a cup of tea", voice: "en-us+m1", speed: 150, noise: 0.01}), "1280", "rejected"},
		{"silence", synth(t, "3", "sine", "0", "vol", "0"), "1234", "silent"},
		{"white noise", synth(t, "3", "whitenoise", "vol", "0.1"), "1234", "silent"},
		{"hum", synth(t, "3", "sine", "50", "vol", "0.3"), "1234", "silent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Check(context.Background(), rec, tc.audio, tc.challenge)
			if err != nil {
				t.Fatal(err)
			}
			if v.Reason != tc.reason || v.Match != (tc.reason == "match") {
				t.Fatalf("got %+v, want reason %s", v, tc.reason)
			}
		})
	}
}

func TestCheckErrors(t *testing.T) {
	rec := recognizer(t)
	good := EncodeWAV(Audio{Samples: make([]int16, 16000), Rate: 16000})
	for _, tc := range []struct {
		name      string
		wav       []byte
		challenge string
		want      error
	}{
		{"three digits", good, "123", ErrBadChallenge},
		{"letters", good, "12a4", ErrBadChallenge},
		{"not wav", []byte("OggS not a wav file at all"), "1234", ErrNotWAV},
		{"too short", EncodeWAV(Audio{Samples: make([]int16, 100), Rate: 16000}), "1234", ErrTooShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Check(context.Background(), rec, tc.wav, tc.challenge); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := rec.Digits(context.Background(), make([]int16, 8000), 8000); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("8 kHz to the recogniser: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rec.Digits(ctx, make([]int16, 16000), 16000); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}

// TestConcurrent runs recognitions on more goroutines than decoders; the
// race detector and the results check the pool.
func TestConcurrent(t *testing.T) {
	needTools(t)
	rec, err := NewSphinx(SphinxConfig{Decoders: 2})
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(generate(t, t.TempDir(), clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			res, err := rec.Digits(context.Background(), a.Samples, a.Rate)
			if err == nil && res.Digits != "3778" {
				err = fmt.Errorf("heard %q", res.Digits)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	rec.Close()
	if _, err := rec.Digits(context.Background(), a.Samples, a.Rate); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

// reportCPU starts measuring the process's CPU time; the returned function
// reports it per op as "cpu-ms/op" (robust to a shared machine, where the
// wall time per op depends on the other processes).
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
		}
	}
}

func cpuTime() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// BenchmarkDigits measures the recogniser on one 4-digit clip (both
// passes); run with -cpu 1 for single-core figures.
func BenchmarkDigits(b *testing.B) {
	needTools(b)
	rec := recognizer(b)
	a, err := Decode(generate(b, b.TempDir(), clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100}), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	a = Resample(a, SampleRate)
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := rec.Digits(context.Background(), a.Samples, a.Rate); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheck measures the whole speech decision from WAV bytes at
// 44.1 kHz: decode, activity check, resample, recognise, compare.
func BenchmarkCheck(b *testing.B) {
	needTools(b)
	rec := recognizer(b)
	wav := generate(b, b.TempDir(), clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100})
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := Check(context.Background(), rec, wav, "3778"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeResample is the audio preparation alone.
func BenchmarkDecodeResample(b *testing.B) {
	needTools(b)
	wav := generate(b, b.TempDir(), clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100})
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		a, err := Decode(wav, Limits{})
		if err != nil {
			b.Fatal(err)
		}
		Resample(a, SampleRate)
	}
}

// BenchmarkVerify measures the whole enrollment speech check of the clip
// of BenchmarkCheck (a 44.1 kHz WAV of four digits): decode, checks,
// resample, forced alignment and the two competing searches.
func BenchmarkVerify(b *testing.B) {
	needTools(b)
	rec := recognizer(b)
	wav := generate(b, b.TempDir(), clip{text: spoken("3778"), voice: "en-us+klatt", speed: 160, rate: 44100})
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := VerifyWAV(context.Background(), rec, wav, "3778", English); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMandarin is BenchmarkVerify for a Mandarin reading (the
// digit model): a 44.1 kHz WAV of four digits read by espeak-ng.
func BenchmarkVerifyMandarin(b *testing.B) {
	needTools(b)
	rec := recognizer(b)
	wav := generate(b, b.TempDir(), clip{text: pinyinText("3778"), voice: "cmn-latn-pinyin", speed: 140, rate: 44100})
	b.ResetTimer()
	defer reportCPU(b)()
	for b.Loop() {
		v, err := VerifyWAV(context.Background(), rec, wav, "3778", Mandarin)
		if err != nil || !v.Accepted {
			b.Fatal(v, err)
		}
	}
}
