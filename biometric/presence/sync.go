package presence

import (
	"math"
	"time"
)

// Synchrony thresholds.
const (
	// MaxSyncLag is the largest offset between the audio and the frames
	// the synchrony search allows either way (camera and microphone
	// pipelines of a phone differ by up to about 100-200 ms; the mouth
	// also opens slightly before the sound).
	MaxSyncLag = 240 * time.Millisecond
	// MinSyncCorr is the least correlation of the mouth opening with the
	// audio loudness, at the best lag. On the presentation-attack suite
	// (internal/pad, 02:50 UTC) still and moved photos and a TTS voice over
	// a still face reached -0.24 to 0.31, unsynced jaw warps 0.07 to 0.17;
	// simulated genuine readings 0.85 to 0.98.
	MinSyncCorr = 0.4
	// MinWordActivity is how far, in noise deviations, the mouth's opening
	// inside a digit's span (its upper quartile) must lie above its median
	// opening outside speech. On the same run still faces gave -2.7 to 0.0 for their
	// weakest digit, simulated genuine readings 4.0 to 16.
	MinWordActivity = 3.0
	// MinFoundShare is the least share of frames with the face tracked.
	MinFoundShare = 0.9
	// wordMargin widens each digit's span on both sides (the lips move
	// just before and after the sound).
	wordMargin = 40 * time.Millisecond
	// loudnessHalf is half the window the loudness is averaged over per
	// frame (about one frame interval at 12 fps).
	loudnessHalf = 40 * time.Millisecond
	lagStep      = 20 * time.Millisecond
)

// SyncResult is the audio-visual synchrony check's outcome.
type SyncResult struct {
	// Corr is the correlation of mouth opening and audio loudness at Lag
	// (audio time = frame time + Lag).
	Corr float64
	Lag  time.Duration
	// Words is how many speech spans were judged (the recognised digits,
	// or the envelope's voiced segments when none were given), Active how
	// many showed the mouth moving; MinActivity is the weakest span's
	// activity in noise deviations.
	Words, Active int
	MinActivity   float64
	// Found is the share of frames in which the face was tracked.
	Found float64
	Pass  bool
	// Why says what failed ("" when Pass).
	Why string
}

// Sync checks that the mouth opening over the frames follows the speech:
// its correlation with the audio loudness at the best lag within
// ±MaxSyncLag must reach MinSyncCorr, and inside every word's span (from
// words, or from the envelope's voiced segments when words is empty) the
// mouth's opening must exceed its opening outside speech by MinWordActivity
// noise deviations (the noise is the robust deviation of the frame-to-frame
// change).
func Sync(frames []Frame, env Envelope, words []Word) SyncResult {
	var r SyncResult
	var found []Frame
	for _, f := range frames {
		if f.Found {
			found = append(found, f)
		}
	}
	if len(frames) > 0 {
		r.Found = float64(len(found)) / float64(len(frames))
	}
	if r.Found < MinFoundShare || len(found) < 8 {
		r.Why = "face not tracked in enough frames"
		return r
	}
	mouth := make([]float64, len(found))
	for i, f := range found {
		mouth[i] = f.Mouth
	}
	loud := make([]float64, len(found))
	r.Corr = math.Inf(-1)
	for lag := -MaxSyncLag; lag <= MaxSyncLag; lag += lagStep {
		for i, f := range found {
			loud[i] = env.loudness(f.At+lag, loudnessHalf)
		}
		if c := pearson(mouth, loud); c > r.Corr {
			r.Corr, r.Lag = c, lag
		}
	}
	if len(words) == 0 {
		words = voiced(env)
	}
	r.Words = len(words)
	r.MinActivity = math.Inf(1)
	inside := func(t time.Duration) int {
		for i, w := range words {
			if t+r.Lag >= w.Start-wordMargin && t+r.Lag <= w.End+wordMargin {
				return i
			}
		}
		return -1
	}
	// Baseline: the mouth outside speech; noise: the frame-to-frame
	// change there (a robust deviation; over all frames when there are
	// too few outside speech).
	var out, diffs, all []float64
	for i, f := range found {
		if inside(f.At) < 0 {
			out = append(out, f.Mouth)
		}
		if i > 0 {
			d := math.Abs(f.Mouth - found[i-1].Mouth)
			all = append(all, d)
			if inside(f.At) < 0 && inside(found[i-1].At) < 0 {
				diffs = append(diffs, d)
			}
		}
	}
	if len(diffs) < 5 {
		diffs = all
	}
	if len(out) < 3 {
		// No silence to compare with: every frame is speech. Fall back to
		// the whole series' lower quartile as the closed mouth.
		out = append(out[:0], mouth...)
		med := median(out)
		out = out[:0]
		for _, m := range mouth {
			if m <= med {
				out = append(out, m)
			}
		}
	}
	base := median(append([]float64(nil), out...))
	noise := 1.4826 * median(diffs) / math.Sqrt2
	if noise < 1e-3 {
		noise = 1e-3
	}
	for i := range words {
		var in []float64
		for _, f := range found {
			if inside(f.At) == i {
				in = append(in, f.Mouth)
			}
		}
		act := 0.0
		if len(in) > 0 {
			// The word's opening: the upper quartile over its span (the
			// mouth opens on the vowel, a short part of "six" or "eight"),
			// which a single stray frame does not move.
			act = (quantile(in, 0.75) - base) / noise
		}
		r.MinActivity = math.Min(r.MinActivity, act)
		if act >= MinWordActivity {
			r.Active++
		}
	}
	switch {
	case r.Words == 0:
		r.Why = "no speech to compare with"
	case r.Corr < MinSyncCorr:
		r.Why = "mouth does not follow the audio"
	case r.Active < r.Words:
		r.Why = "mouth still during a spoken digit"
	default:
		r.Pass = true
	}
	return r
}

// voiced finds the envelope's speech segments: runs whose loudness lies
// above the middle of the room noise (10th percentile) and the speech level
// (95th percentile), joined across pauses under minPause, at least
// minVoiced long.
func voiced(env Envelope) []Word {
	if len(env) == 0 {
		return nil
	}
	l := make([]float64, len(env))
	for i, v := range env {
		l[i] = math.Log10(v + 1e-5)
	}
	s := append([]float64(nil), l...)
	median(s) // sorts
	p10, p95 := s[len(s)/10], s[len(s)*95/100]
	if p95-p10 < 0.5 { // under 10 dB of dynamics: no speech stands out
		return nil
	}
	th := (p10 + p95) / 2
	var out []Word
	start := -1
	for i := 0; i <= len(l); i++ {
		on := i < len(l) && l[i] >= th
		switch {
		case on && start < 0:
			start = i
		case !on && start >= 0:
			w := Word{Start: time.Duration(start) * EnvelopeHop, End: time.Duration(i) * EnvelopeHop}
			if n := len(out); n > 0 && w.Start-out[n-1].End < minPause {
				out[n-1].End = w.End // a short pause inside a word or between digits
			} else {
				out = append(out, w)
			}
			start = -1
		}
	}
	kept := out[:0]
	for _, w := range out {
		if w.End-w.Start >= minVoiced {
			kept = append(kept, w)
		}
	}
	return kept
}

// Voiced segments: runs closer than minPause are one; shorter than
// minVoiced are dropped.
const (
	minPause  = 200 * time.Millisecond
	minVoiced = 150 * time.Millisecond
)

// SpeechEnd is the end of the envelope's last voiced segment (0 when none).
func SpeechEnd(env Envelope) time.Duration {
	v := voiced(env)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1].End
}
