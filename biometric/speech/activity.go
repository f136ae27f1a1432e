package speech

import (
	"fmt"
	"math"
	"slices"
)

// Activity summarises the loudness of a recording in 20 ms frames.
type Activity struct {
	PeakDB  float64 // loudest frame, dB relative to full scale
	FloorDB float64 // 10th percentile frame: the background level
	// Active is the time, in seconds, of frames at least 12 dB above the
	// floor and above -50 dBFS.
	Active float64
}

// Thresholds for [CheckActivity]: speech has a loud peak, a range between
// its loud frames and the pauses around them, and some duration. Silence
// fails the first, steady noise the second.
const (
	minPeakDB    = -50.0
	minRangeDB   = 15.0
	minActiveSec = 0.3
	activeOverDB = 12.0
)

// MeasureActivity computes the frame energies of a.
func MeasureActivity(a Audio) Activity {
	frame := a.Rate / 50
	if frame <= 0 || len(a.Samples) < frame {
		return Activity{PeakDB: -120, FloorDB: -120}
	}
	var dbs []float64
	for p := 0; p+frame <= len(a.Samples); p += frame {
		var e float64
		for _, s := range a.Samples[p : p+frame] {
			e += float64(s) * float64(s)
		}
		rms := math.Sqrt(e/float64(frame)) / 32768
		dbs = append(dbs, 20*math.Log10(max(rms, 1e-6)))
	}
	sorted := slices.Clone(dbs)
	slices.Sort(sorted)
	act := Activity{PeakDB: sorted[len(sorted)-1], FloorDB: sorted[len(sorted)/10]}
	for _, d := range dbs {
		if d >= act.FloorDB+activeOverDB && d >= minPeakDB {
			act.Active += 1.0 / 50
		}
	}
	return act
}

// CheckActivity returns an error wrapping [ErrSilent] when a holds no
// speech: nothing louder than -50 dBFS, less than 15 dB between the loudest
// frames and the background (steady noise), or less than 0.3 s of frames
// well above the background.
func CheckActivity(a Audio) (Activity, error) {
	act := MeasureActivity(a)
	switch {
	case act.PeakDB < minPeakDB:
		return act, fmt.Errorf("%w: peak level %.0f dBFS", ErrSilent, act.PeakDB)
	case act.PeakDB-act.FloorDB < minRangeDB:
		return act, fmt.Errorf("%w: only %.0f dB above the background", ErrSilent, act.PeakDB-act.FloorDB)
	case act.Active < minActiveSec:
		return act, fmt.Errorf("%w: %.2f s of sound", ErrSilent, act.Active)
	}
	return act, nil
}

// Trimming before recognition: the recogniser is given the span from the
// first to the last frame that [MeasureActivity] counts as active, widened
// by trimMargin on each side, so that it does not spend its time on leading
// and trailing silence.
const trimMargin = 0.3 // seconds

// voicedSpan returns the sample range [from, to) of pcm (at rate Hz) from
// the first to the last active 20 ms frame (at least activeOverDB above the
// 10th-percentile frame and above minPeakDB), widened by trimMargin and
// clipped to the recording. Without an active frame it returns the whole
// recording.
func voicedSpan(pcm []int16, rate int) (from, to int) {
	frame := rate / 50
	if frame <= 0 || len(pcm) < frame {
		return 0, len(pcm)
	}
	n := len(pcm) / frame
	dbs := make([]float64, n)
	for i := range n {
		var e float64
		for _, s := range pcm[i*frame : (i+1)*frame] {
			e += float64(s) * float64(s)
		}
		dbs[i] = 20 * math.Log10(max(math.Sqrt(e/float64(frame))/32768, 1e-6))
	}
	sorted := slices.Clone(dbs)
	slices.Sort(sorted)
	floor := sorted[n/10]
	first, last := -1, -1
	for i, d := range dbs {
		if d >= floor+activeOverDB && d >= minPeakDB {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return 0, len(pcm)
	}
	m := int(trimMargin * float64(rate))
	return max(0, first*frame-m), min(len(pcm), (last+1)*frame+m)
}
