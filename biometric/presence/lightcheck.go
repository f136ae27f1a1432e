package presence

import (
	"math"
	"time"
)

// Light check thresholds.
const (
	// MaxLatency is the largest delay between a colour's scheduled start
	// and its effect in the frames that the check searches (screen
	// refresh, camera exposure and pipeline).
	MaxLatency = 400 * time.Millisecond
	// MinLightCorr is the least correlation between the face's observed
	// chromaticity changes and those the steps predict, at the best
	// latency.
	MinLightCorr = 0.5
	// MaxDisagree is the most judged steps whose colour the face's mean
	// chromaticity may fail to identify among the palette.
	MaxDisagree = 1
	// MinJudgedSteps is the least number of steps the frames must judge
	// (a recording over the whole sequence judges 8 to 11). A sequence
	// guessed without knowing the challenge agrees with more steps than
	// one in seven, since the gains and the latency are fitted to it:
	// TestLightGuessRate measured 8 passes in 90 000 guessed draws (about
	// 1 in 11 000), against 433 refusals of 90 000 genuine ones, most at
	// the highest noise. Requiring 8 identified steps would let 1 guess in
	// 90 000 through but refuse 0.3% to 8% of genuine readings; more, shorter
	// steps are the better cure (docs/biometrics.md).
	MinJudgedSteps = 7
	// MaxUnjudged is the most steps of the sequence the frames may leave
	// unjudged (a step lost to a frame gap, the last one cut by the
	// latency), and one of the last two steps must be judged: a recording
	// must cover the light, not only the reading. Before, 40 frames over
	// the first 4 s of a sequence of many short steps could judge 7 and
	// pass.
	MaxUnjudged = 2
	// transitionGuard: frames this close to a colour change (after the
	// latency) are left out, since a frame's exposure may span it.
	transitionGuard = 60 * time.Millisecond
	latencyStep     = 10 * time.Millisecond
)

// LightResult is the light check's outcome.
type LightResult struct {
	// Corr is the correlation between observed and predicted chromaticity
	// changes at Latency.
	Corr    float64
	Latency time.Duration
	// Judged is the number of steps with at least two usable frames,
	// Agree of them the number whose colour the face identifies.
	Judged, Agree int
	// Gain is the fitted response of the face's chromaticity (red, green,
	// blue) to the screen's.
	Gain [3]float64
	Pass bool
	Why  string
}

// chroma is a colour's share of each channel (sums to 1).
func chroma(c [3]float64) [3]float64 {
	s := c[0] + c[1] + c[2]
	if s <= 0 {
		return [3]float64{1.0 / 3, 1.0 / 3, 1.0 / 3}
	}
	return [3]float64{c[0] / s, c[1] / s, c[2] / s}
}

func screenChroma(c RGB) [3]float64 {
	return chroma([3]float64{float64(c.R), float64(c.G), float64(c.B)})
}

// lightFit is the model of the face's chromaticity at one latency.
type lightFit struct {
	corr   float64
	gain   [3]float64
	step   []int // the step lit at each used frame
	obs    [][3]float64
	meanE  [3]float64
	meanO  [3]float64
	judged int
	agree  int
	last   int // the last judged step, -1 if none
}

// CheckLight checks that the face's colour follows the light challenge
// frame by frame. Each frame's skin chromaticity, less its mean over the
// recording, is modelled as a per-channel gain times the chromaticity of
// the colour on screen at (frame time - latency), less its mean; the
// latency is searched over 0..MaxLatency. At the best latency the
// correlation of model and observation must reach MinLightCorr, and the
// mean observation of each step (with at least two frames away from the
// colour changes) must be nearest to the model of the step's own colour
// among all the palette's colours, for all but MaxDisagree of at least
// MinJudgedSteps steps; and the frames must judge all steps but
// MaxUnjudged. A video made without knowing the sequence agrees with a few
// steps by chance (see MinJudgedSteps for how often it passes).
func CheckLight(frames []Frame, l Light) LightResult {
	var r LightResult
	best := lightFit{corr: math.Inf(-1)}
	for lat := time.Duration(0); lat <= MaxLatency; lat += latencyStep {
		f := fitLight(frames, l, lat)
		if f.corr > best.corr {
			best = f
			r.Latency = lat
		}
	}
	if math.IsInf(best.corr, -1) {
		r.Why = "no frames under the light challenge"
		return r
	}
	best.classify(l)
	r.Corr, r.Gain, r.Judged, r.Agree = best.corr, best.gain, best.judged, best.agree
	switch {
	case r.Corr < MinLightCorr:
		r.Why = "face colour does not follow the light"
	case r.Judged < MinJudgedSteps || r.Judged < len(l.Steps)-MaxUnjudged:
		r.Why = "too few light steps seen"
	case best.last < len(l.Steps)-2:
		r.Why = "the frames end before the light does"
	case r.Judged-r.Agree > MaxDisagree:
		r.Why = "face colour disagrees with the light steps"
	default:
		r.Pass = true
	}
	return r
}

// fitLight fits the per-channel gains at one latency.
func fitLight(frames []Frame, l Light, lat time.Duration) lightFit {
	f := lightFit{corr: math.Inf(-1)}
	var exp [][3]float64
	for _, fr := range frames {
		if !fr.Found {
			continue
		}
		t := fr.At - lat
		i := l.At(t)
		if i < 0 {
			continue
		}
		s := l.Steps[i]
		if t-s.Start < transitionGuard || s.Start+s.Duration-t < transitionGuard {
			continue
		}
		f.step = append(f.step, i)
		f.obs = append(f.obs, chroma(fr.Skin))
		exp = append(exp, screenChroma(s.Color))
	}
	n := len(f.obs)
	if n < 8 {
		return f
	}
	for _, o := range f.obs {
		for k := range 3 {
			f.meanO[k] += o[k] / float64(n)
		}
	}
	for _, e := range exp {
		for k := range 3 {
			f.meanE[k] += e[k] / float64(n)
		}
	}
	var pred, obs []float64
	for k := range 3 {
		var sxy, sxx float64
		for i := range f.obs {
			x, y := exp[i][k]-f.meanE[k], f.obs[i][k]-f.meanO[k]
			sxy += x * y
			sxx += x * x
		}
		if sxx > 0 {
			f.gain[k] = math.Max(0, sxy/sxx) // light adds; a negative response is no response
		}
	}
	for i := range f.obs {
		for k := range 3 {
			pred = append(pred, f.gain[k]*(exp[i][k]-f.meanE[k]))
			obs = append(obs, f.obs[i][k]-f.meanO[k])
		}
	}
	f.corr = pearson(pred, obs)
	return f
}

// classify judges every step with at least two used frames: its mean
// observed change must be nearest to the model of its own colour.
func (f *lightFit) classify(l Light) {
	f.last = -1
	sum := make([][3]float64, len(l.Steps))
	cnt := make([]int, len(l.Steps))
	for i, s := range f.step {
		for k := range 3 {
			sum[s][k] += f.obs[i][k] - f.meanO[k]
		}
		cnt[s]++
	}
	for s := range l.Steps {
		if cnt[s] < 2 {
			continue
		}
		f.judged++
		f.last = s
		bestP, bestD := -1, math.Inf(1)
		for p, c := range Palette {
			e := screenChroma(c)
			var d float64
			for k := range 3 {
				m := f.gain[k] * (e[k] - f.meanE[k])
				v := sum[s][k]/float64(cnt[s]) - m
				d += v * v
			}
			if d < bestD {
				bestP, bestD = p, d
			}
		}
		if Palette[bestP] == l.Steps[s].Color {
			f.agree++
		}
	}
}
