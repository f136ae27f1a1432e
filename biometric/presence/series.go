package presence

import (
	"math"
	"sort"
	"time"
)

// Frame is what the face engine saw in one video frame.
type Frame struct {
	// At is the frame's time since the start of the recording.
	At time.Duration
	// Found is true when the frame shows the tracked face (Mouth and Skin
	// are meaningless otherwise).
	Found bool
	// Mouth is the mouth opening: the inner-lip distance over a face size
	// (any fixed normalisation; only its changes over time matter).
	Mouth float64
	// Skin is the mean red, green and blue (0..255) of the face's skin
	// (cheeks, forehead), as the camera recorded it.
	Skin [3]float64
}

// Word is one recognised digit's time span in the recording.
type Word struct {
	Digit      byte
	Start, End time.Duration
}

// EnvelopeHop is the time between two values of an Envelope.
const EnvelopeHop = 10 * time.Millisecond

// Envelope is the audio's energy over time: the RMS amplitude (full scale
// = 1) of 20 ms windows every EnvelopeHop from sample 0.
type Envelope []float64

// NewEnvelope computes the envelope of 16-bit PCM at rate samples a second.
func NewEnvelope(pcm []int16, rate int) Envelope {
	if rate <= 0 {
		return nil
	}
	hop := rate / 100
	win := 2 * hop
	if hop == 0 {
		return nil
	}
	n := (len(pcm) + hop - 1) / hop
	env := make(Envelope, n)
	for i := range env {
		lo, hi := i*hop-win/4, i*hop+3*win/4
		lo, hi = max(lo, 0), min(hi, len(pcm))
		var s float64
		for _, v := range pcm[lo:hi] {
			f := float64(v) / 32768
			s += f * f
		}
		if hi > lo {
			env[i] = math.Sqrt(s / float64(hi-lo))
		}
	}
	return env
}

// Duration is how long the recording lasts.
func (e Envelope) Duration() time.Duration { return time.Duration(len(e)) * EnvelopeHop }

// loudness is the mean log energy over [t-half, t+half]: a compressed
// loudness in which speech stands well above room noise.
func (e Envelope) loudness(t, half time.Duration) float64 {
	lo := int((t - half) / EnvelopeHop)
	hi := int((t + half) / EnvelopeHop)
	lo, hi = max(lo, 0), min(hi, len(e)-1)
	if hi < lo {
		return math.Log10(1e-5)
	}
	var s float64
	for _, v := range e[lo : hi+1] {
		s += math.Log10(v + 1e-5)
	}
	return s / float64(hi-lo+1)
}

// pearson is the correlation of x and y (0 when either is constant).
func pearson(x, y []float64) float64 {
	n := float64(len(x))
	if n < 2 {
		return 0
	}
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= n
	my /= n
	var sxy, sxx, syy float64
	for i := range x {
		a, b := x[i]-mx, y[i]-my
		sxy += a * b
		sxx += a * a
		syy += b * b
	}
	if sxx <= 1e-18 || syy <= 1e-18 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}

// median returns the median of v (0 when empty); v is reordered.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// quantile returns the q-quantile (0..1, nearest rank) of v (0 when
// empty); v is reordered.
func quantile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	sort.Float64s(v)
	return v[min(len(v)-1, int(q*float64(len(v))))]
}
