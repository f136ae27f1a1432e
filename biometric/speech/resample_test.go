package speech

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func sine(rate int, freq, amp, seconds float64) Audio {
	n := int(float64(rate) * seconds)
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return Audio{Samples: s, Rate: rate}
}

// rms of the middle half, away from the edges where the kernel is cut.
func rms(a Audio) float64 {
	s := a.Samples[len(a.Samples)/4 : 3*len(a.Samples)/4]
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(s)))
}

func TestResample(t *testing.T) {
	tests := []struct {
		name    string
		from    int
		freq    float64
		minGain float64 // output rms / input rms
		maxGain float64
	}{
		{"44.1k passband", 44100, 1000, 0.97, 1.03},
		{"48k passband", 48000, 3000, 0.97, 1.03},
		{"22.05k passband", 22050, 5000, 0.97, 1.03},
		{"8k up passband", 8000, 1000, 0.97, 1.03},
		{"48k alias stopband", 48000, 11000, 0, 0.01},  // would fold to 5 kHz
		{"44.1k alias stopband", 44100, 9500, 0, 0.01}, // would fold to 6.5 kHz
		{"16k unchanged", 16000, 1000, 0.999, 1.001},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := sine(tc.from, tc.freq, 10000, 1)
			out := Resample(in, SampleRate)
			if out.Rate != SampleRate || len(out.Samples) != SampleRate {
				t.Fatalf("got %d samples at %d Hz", len(out.Samples), out.Rate)
			}
			g := rms(out) / rms(in)
			if g < tc.minGain || g > tc.maxGain {
				t.Fatalf("gain %.4f, want [%.3f, %.3f]", g, tc.minGain, tc.maxGain)
			}
		})
	}
}

func TestActivity(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	noise := func(amp float64, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(amp * r.NormFloat64())
		}
		return s
	}
	// Bursts of a loud tone between quiet noise, like words between pauses.
	var speechLike []int16
	for range 4 {
		speechLike = append(speechLike, noise(30, 4000)...)
		speechLike = append(speechLike, sine(16000, 300, 8000, 0.3).Samples...)
	}
	speechLike = append(speechLike, noise(30, 4000)...)
	tests := []struct {
		name   string
		pcm    []int16
		silent bool
	}{
		{"digital silence", make([]int16, 32000), true},
		{"quiet hiss", noise(20, 32000), true},
		{"steady loud noise", noise(3000, 32000), true},
		{"click", append(make([]int16, 32000), noise(20000, 160)...), true},
		{"bursts", speechLike, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			act, err := CheckActivity(Audio{Samples: tc.pcm, Rate: 16000})
			if got := errors.Is(err, ErrSilent); got != tc.silent {
				t.Fatalf("silent %v (%v, %+v), want %v", got, err, act, tc.silent)
			}
		})
	}
}
