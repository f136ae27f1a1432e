package speech

import (
	"math"
	"testing"
)

func TestVoicedSpan(t *testing.T) {
	const rate = 16000
	// 1 s of faint noise, 0.5 s of a loud tone, 1.5 s of faint noise.
	pcm := make([]int16, 3*rate)
	for i := range pcm {
		pcm[i] = int16(20 * math.Sin(float64(i)*1.3))
		if i >= rate && i < rate*3/2 {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*440*float64(i)/rate))
		}
	}
	from, to := voicedSpan(pcm, rate)
	m := int(trimMargin * rate)
	if from != rate-m || to != rate*3/2+m {
		t.Fatalf("span = %d..%d, want %d..%d", from, to, rate-m, rate*3/2+m)
	}
	// Nothing active: the whole recording is kept.
	quiet := make([]int16, rate)
	if from, to := voicedSpan(quiet, rate); from != 0 || to != len(quiet) {
		t.Fatalf("silent span = %d..%d, want all", from, to)
	}
	// Sound from the first sample: nothing before it to trim.
	if from, _ := voicedSpan(pcm[rate:], rate); from != 0 {
		t.Fatalf("span starts at %d, want 0", from)
	}
}
