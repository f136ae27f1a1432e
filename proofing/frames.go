package proofing

import "fmt"

// Frame timing bounds (milliseconds since the start of the recording, the
// audio's sample 0): the first frame within FirstFrameMS, no gap over
// MaxFrameGapMS (at least 4 frames a second everywhere, 10 a second on
// average), the last no later than MaxRecordingMS.
const (
	FirstFrameMS   = 300
	MaxFrameGapMS  = 250
	MaxRecordingMS = 16_000
	// MinFrameRate is the least mean frame rate over the recording.
	MinFrameRate = 10
)

// CheckFrameTimes checks the signed frame times of n frames: as many as
// frames, the first at 0..FirstFrameMS, strictly increasing, no gap over
// MaxFrameGapMS, the last by MaxRecordingMS and at least MinFrameRate
// frames a second on average. That they cover the speech is checked once
// the audio is decoded. Every failure wraps ErrBadRequest.
func CheckFrameTimes(times []int64, n int) error {
	switch {
	case len(times) == 0:
		return fmt.Errorf("%w: frame_times_ms missing", ErrBadRequest)
	case len(times) != n:
		return fmt.Errorf("%w: %d frame times for %d frames", ErrBadRequest, len(times), n)
	case times[0] < 0 || times[0] > FirstFrameMS:
		return fmt.Errorf("%w: first frame at %d ms, want 0..%d", ErrBadRequest, times[0], FirstFrameMS)
	}
	for i := 1; i < len(times); i++ {
		switch gap := times[i] - times[i-1]; {
		case gap <= 0:
			return fmt.Errorf("%w: frame times not increasing at frame %d (%d ms after %d ms)", ErrBadRequest, i+1, times[i], times[i-1])
		case gap > MaxFrameGapMS:
			return fmt.Errorf("%w: gap of %d ms before frame %d, at most %d", ErrBadRequest, gap, i+1, MaxFrameGapMS)
		}
	}
	last := times[len(times)-1]
	if last > MaxRecordingMS {
		return fmt.Errorf("%w: last frame at %d ms, at most %d", ErrBadRequest, last, MaxRecordingMS)
	}
	if int64(len(times))*1000 < MinFrameRate*last {
		return fmt.Errorf("%w: %d frames over %d ms, want at least %d a second", ErrBadRequest, len(times), last, MinFrameRate)
	}
	return nil
}
