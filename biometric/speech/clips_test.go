package speech

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var digitNames = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// spoken returns how the digits are read aloud, gap words apart.
func spoken(digits string) string {
	var w []string
	for _, c := range digits {
		w = append(w, digitNames[c-'0'])
	}
	return strings.Join(w, ", ")
}

// clip describes one generated recording.
type clip struct {
	text  string
	voice string
	speed int
	noise float64 // white noise amplitude mixed in (0 for none)
	rate  int     // output sample rate
}

func (c clip) String() string {
	return fmt.Sprintf("%q/%s/%d/noise%.3f/%dHz", c.text, c.voice, c.speed, c.noise, c.rate)
}

func needTools(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to generate test speech (scripts/setup.d/speech.debs): %v", tool, err)
		}
	}
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// generate renders c to a WAV file in dir and returns its bytes.
func generate(t testing.TB, dir string, c clip) []byte {
	t.Helper()
	raw := filepath.Join(dir, "raw.wav")
	out := filepath.Join(dir, "out.wav")
	run(t, "espeak-ng", "-v", c.voice, "-s", fmt.Sprint(c.speed), "-w", raw, c.text)
	rate := c.rate
	if rate == 0 {
		rate = 16000
	}
	// Half a second of room before and after, as a phone recording has.
	padded := filepath.Join(dir, "padded.wav")
	run(t, "sox", "-R", raw, "-r", fmt.Sprint(rate), "-c", "1", "-b", "16", padded, "pad", "0.5", "0.5")
	if c.noise > 0 {
		noise := filepath.Join(dir, "noise.wav")
		run(t, "sox", "-R", padded, noise, "synth", "whitenoise", "vol", fmt.Sprint(c.noise))
		run(t, "sox", "-R", "-m", padded, noise, "-b", "16", out)
	} else {
		out = padded
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// randomDigits returns n digits from r.
func randomDigits(r *rand.Rand) string {
	var b [ChallengeLen]byte
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b[:])
}
