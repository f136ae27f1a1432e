//go:build cgo

package speech

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// TestAccuracy measures digit accuracy and refusals on generated clips. It
// runs only when SHENFEN_SPEECH_CLIPS is set (scripts/bench.d/speech.sh);
// docs/biometrics.md reports its output.
func TestAccuracy(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_CLIPS"))
	if n <= 0 {
		t.Skip("set SHENFEN_SPEECH_CLIPS=N to measure accuracy on N generated clips")
	}
	needTools(t)
	rec := recognizer(t)
	r := rand.New(rand.NewPCG(2026, 5))
	dir := t.TempDir()
	type tally struct{ n, exact, accepted int }
	byVoice := map[string]*tally{}
	var all tally
	var cpu time.Duration
	// Confidences for the threshold table: digit clips heard right, digit
	// clips heard wrong, non-digit clips (0 when no four digits were heard).
	var confRight, confWrong, confOther []float64
	for i := range n {
		d := randomDigits(r)
		c := clip{text: spoken(d), voice: voices[i%len(voices)], speed: speeds[r.IntN(len(speeds))],
			noise: []float64{0, 0, 0.005, 0.01}[r.IntN(4)], rate: []int{16000, 22050, 44100, 48000}[r.IntN(4)]}
		b := generate(t, dir, c)
		start := cpuTime()
		v, err := Check(context.Background(), rec, b, d)
		cpu += cpuTime() - start
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		tv := byVoice[c.voice]
		if tv == nil {
			tv = &tally{}
			byVoice[c.voice] = tv
		}
		for _, x := range []*tally{tv, &all} {
			x.n++
			if v.Heard == d {
				x.exact++
			}
			if v.Match {
				x.accepted++
			}
		}
		switch {
		case v.Reason == "silent":
		case v.Heard == d:
			confRight = append(confRight, v.Confidence)
		default:
			confWrong = append(confWrong, v.Confidence)
		}
		if !v.Match {
			t.Logf("miss %v: heard %s, %s, confidence %.3f", c, v.Heard, v.Reason, v.Confidence)
		}
	}
	for _, v := range voices {
		if x := byVoice[v]; x != nil {
			t.Logf("voice %-14s clips %3d  exact %3d (%.1f%%)  accepted %3d (%.1f%%)", v, x.n, x.exact, 100*float64(x.exact)/float64(x.n), x.accepted, 100*float64(x.accepted)/float64(x.n))
		}
	}
	t.Logf("ALL digits clips %d  exact %d (%.1f%%)  accepted %d (%.1f%%)  cpu/decision %.0f ms", all.n, all.exact, 100*float64(all.exact)/float64(all.n), all.accepted, 100*float64(all.accepted)/float64(all.n), float64(cpu.Milliseconds())/float64(all.n))
	// Refusals: non-digit speech read by the same voices must not pass for
	// the digits the grammar heard in it (the best case for an attacker).
	texts := []string{
		"the quick brown fox jumps over the lazy dog", "hello, my name is john", "please open the door",
		"I would like a cup of tea", "what time does the train leave", "my card number is on the back",
		"good morning, how are you", "ninety one, twenty three", "wait for it, then go", "thank you very much",
	}
	var falseAccept, trials int
	for i, text := range texts {
		for j, v := range voices {
			c := clip{text: text, voice: v, speed: speeds[(i+j)%len(speeds)], noise: []float64{0, 0.01}[(i+j)%2]}
			b := generate(t, dir, c)
			a, _ := Decode(b, Limits{})
			a = Resample(a, SampleRate)
			res, err := rec.Digits(context.Background(), a.Samples, a.Rate)
			if err != nil {
				t.Fatal(err)
			}
			trials++
			confOther = append(confOther, res.Confidence)
			if res.Accepted {
				falseAccept++
				t.Logf("accepted non-digit speech %v as %s (confidence %.3f)", c, res.Digits, res.Confidence)
			}
		}
	}
	t.Logf("ALL non-digit clips %d  accepted as their own best digits %d (%.1f%%)", trials, falseAccept, 100*float64(falseAccept)/float64(trials))
	t.Logf("threshold table (confidence = exp(score/10)):\n%s", thresholdTable(confRight, confWrong, confOther, n))
}

// thresholdTable shows, for several confidence thresholds, how many digit
// clips would be accepted with the right digits (of all n clips), how many
// would be accepted with wrong digits (a "mismatch" refusal rather than a
// "rejected" one), and how many non-digit clips would pass as four digits.
func thresholdTable(right, wrong, other []float64, n int) string {
	count := func(v []float64, th float64) int {
		k := 0
		for _, c := range v {
			if c >= th {
				k++
			}
		}
		return k
	}
	var b strings.Builder
	b.WriteString("| score | confidence | right digits accepted | wrong digits accepted | non-digit speech accepted |\n|---|---|---|---|---|\n")
	for _, score := range []float64{-10, -6, -4, -3, -2, -1, 0} {
		th := math.Exp(score / 10)
		mark := ""
		if math.Abs(th-DefaultThreshold) < 1e-9 {
			mark = " (chosen)"
		}
		r, w, o := count(right, th), count(wrong, th), count(other, th)
		fmt.Fprintf(&b, "| %.0f%s | %.3f | %d/%d = %.1f%% | %d/%d = %.1f%% | %d/%d = %.1f%% |\n", score, mark, th,
			r, n, 100*float64(r)/float64(n), w, n, 100*float64(w)/float64(n), o, len(other), 100*float64(o)/float64(len(other)))
	}
	return b.String()
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
