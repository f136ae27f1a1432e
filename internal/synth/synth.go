// Package synth makes synthetic enrollment sessions for tests: the selfie,
// the recording of the digits read aloud (WAV) and the video frames of the
// reading (JPEG, with timestamps on the recording's clock) that a wallet
// sends, for a genuine citizen and for each presentation-attack species of
// the enrollment's attack suite (docs/biometrics.md).
//
// A genuine session is simulated from a photo of the person (never the
// registry portrait): the jaw opens and closes with the loudness of the
// speech, the skin is lit by the screen's light steps with a small
// screen-to-camera latency, the head moves a little and the camera adds
// noise. The voice is text-to-speech (espeak-ng, flite). Attack sessions
// leave out or falsify what the attacker cannot have: the synchrony of the
// mouth with the speech, the light sequence of this challenge, a face other
// than the registry portrait, a face of the claimed person.
//
// Photos are read at test time from the shared face set (never committed).
package synth

import (
	"errors"
	"fmt"
	"image/color"
	"strconv"
	"time"
)

// Lang is the language the digits are read in.
type Lang string

// The reading languages.
const (
	English  Lang = "en"
	Mandarin Lang = "zh"
)

// Step is one colour of the screen's light sequence, from Start (relative
// to the start of the recording) for Duration.
type Step struct {
	Color           color.RGBA
	Start, Duration time.Duration
}

// Challenge is what the server asked for: the digits, the reading
// language and the light sequence.
type Challenge struct {
	Digits string
	Lang   Lang
	Light  []Step
}

// Length is the end of the light sequence (the recording lasts at least
// this long).
func (c Challenge) Length() time.Duration {
	var end time.Duration
	for _, s := range c.Light {
		end = max(end, s.Start+s.Duration)
	}
	return end
}

// ColorAt is the screen colour at t (the first step's before the
// sequence, the last's after it).
func (c Challenge) ColorAt(t time.Duration) color.RGBA {
	if len(c.Light) == 0 {
		return color.RGBA{255, 255, 255, 255}
	}
	for _, s := range c.Light {
		if t < s.Start+s.Duration {
			return s.Color
		}
	}
	return c.Light[len(c.Light)-1].Color
}

// ParseColor reads "#rrggbb".
func ParseColor(s string) (color.RGBA, error) {
	if len(s) != 7 || s[0] != '#' {
		return color.RGBA{}, fmt.Errorf("synth: colour %q is not #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return color.RGBA{}, fmt.Errorf("synth: colour %q: %w", s, err)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 255}, nil
}

// Palette is the light challenge's palette (the server's, per the
// enrollment contract): saturated colours and white.
var Palette = []color.RGBA{
	{255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {255, 255, 0, 255},
	{255, 0, 255, 255}, {0, 255, 255, 255}, {255, 255, 255, 255},
}

// RandomLight draws a light sequence like the server's from rng: steps of
// 500..1000 ms, consecutive colours different, at least total long.
func RandomLight(rng Rand, total time.Duration) []Step {
	var steps []Step
	var at time.Duration
	prev := -1
	for at < total {
		c := rng.IntN(len(Palette))
		if c == prev {
			c = (c + 1 + rng.IntN(len(Palette)-1)) % len(Palette)
		}
		d := time.Duration(500+rng.IntN(501)) * time.Millisecond
		steps = append(steps, Step{Color: Palette[c], Start: at, Duration: d})
		at += d
		prev = c
	}
	return steps
}

// Rand is the random source the generator draws from (math/rand/v2's
// *rand.Rand satisfies it), so that a seed reproduces a session.
type Rand interface {
	IntN(n int) int
	Float64() float64
	NormFloat64() float64
}

// Session is what a wallet submits for one challenge.
type Session struct {
	Selfie []byte // JPEG
	Audio  []byte // WAV, 16-bit PCM mono 16 kHz
	Frames [][]byte
	// FrameTimes are the frames' capture times since the first sample of
	// the recording (strictly increasing).
	FrameTimes []time.Duration
	Lang       Lang
	// Said is what the voice reads (the challenge's digits, except in a
	// replay of another challenge).
	Said string
	// Voice names the synthetic voice.
	Voice string
	// Species is the kind of session (Genuine or an attack).
	Species Species
}

// FrameTimesMS are the frame times in whole milliseconds, as the wallet
// sends them (frame_times_ms).
func (s Session) FrameTimesMS() []int64 {
	out := make([]int64, len(s.FrameTimes))
	for i, t := range s.FrameTimes {
		out[i] = t.Milliseconds()
	}
	return out
}

// ErrNoFace is returned when a photo has no face the locator can place.
var ErrNoFace = errors.New("synth: no usable face in the photo")
