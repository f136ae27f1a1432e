package speech

import "math"

// SampleRate is the rate the recogniser works at.
const SampleRate = 16000

// Resample converts a to rate samples per second with a band-limited
// (windowed-sinc) interpolator: the low-pass cut-off sits at 92% of the
// lower of the two Nyquist frequencies, so downsampling from 44.1 or 48 kHz
// does not fold high frequencies into the speech band. The kernel spans 16
// zero crossings on each side under a Blackman window and is tabulated once
// per call, then linearly interpolated. Audio already at rate is returned as
// is.
func Resample(a Audio, rate int) Audio {
	if a.Rate == rate || len(a.Samples) == 0 || a.Rate <= 0 || rate <= 0 {
		return Audio{Samples: a.Samples, Rate: rate}
	}
	const (
		zeros   = 16 // zero crossings each side
		rolloff = 0.92
		steps   = 256 // table entries per input sample
	)
	ratio := float64(rate) / float64(a.Rate)
	fc := 0.5 * rolloff * math.Min(1, ratio) // cycles per input sample
	half := zeros / (2 * fc)                 // kernel half-width, input samples
	table := make([]float64, int(half*steps)+2)
	for i := range table {
		t := float64(i) / steps
		if t > half {
			break
		}
		x := 2 * fc * t
		sinc := 1.0
		if x != 0 {
			sinc = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		w := 0.42 + 0.5*math.Cos(math.Pi*t/half) + 0.08*math.Cos(2*math.Pi*t/half)
		table[i] = 2 * fc * sinc * w
	}
	kernel := func(t float64) float64 {
		t = math.Abs(t) * steps
		i := int(t)
		if i+1 >= len(table) {
			return 0
		}
		f := t - float64(i)
		return table[i]*(1-f) + table[i+1]*f
	}
	in := a.Samples
	n := int(float64(len(in)) * ratio)
	out := make([]int16, n)
	for j := range out {
		t := float64(j) / ratio
		lo := int(math.Ceil(t - half))
		hi := int(math.Floor(t + half))
		lo = max(lo, 0)
		hi = min(hi, len(in)-1)
		var sum float64
		for i := lo; i <= hi; i++ {
			sum += float64(in[i]) * kernel(t-float64(i))
		}
		out[j] = toInt16(sum)
	}
	return Audio{Samples: out, Rate: rate}
}
