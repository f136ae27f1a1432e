package presence

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// RGB is a screen colour.
type RGB struct{ R, G, B uint8 }

// Hex is the colour as "#rrggbb".
func (c RGB) Hex() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// ParseHex parses "#rrggbb".
func ParseHex(s string) (RGB, error) {
	if len(s) != 7 || s[0] != '#' || strings.ToLower(s) != s {
		return RGB{}, fmt.Errorf("presence: colour %q is not #rrggbb", s)
	}
	v, err := strconv.ParseUint(s[1:], 16, 32)
	if err != nil {
		return RGB{}, fmt.Errorf("presence: colour %q is not #rrggbb", s)
	}
	return RGB{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

// Palette is the set of screen colours a light challenge draws from:
// saturated primaries and secondaries and white, which light a face in
// directions of chromaticity far apart from each other.
var Palette = []RGB{
	{0xff, 0x00, 0x00}, // red
	{0x00, 0xff, 0x00}, // green
	{0x00, 0x00, 0xff}, // blue
	{0xff, 0xff, 0x00}, // yellow
	{0xff, 0x00, 0xff}, // magenta
	{0x00, 0xff, 0xff}, // cyan
	{0xff, 0xff, 0xff}, // white
}

// Light challenge bounds. A step lasts 500 to 1000 ms (a multiple of
// StepGrain), so the screen changes at most twice a second: WCAG 2.3.1
// allows fewer than three flashes a second. There are at least MinSteps
// steps (the light check judges MinJudgedSteps of them), covering at least
// MinLightTotal, longer than the reading of four digits, and at most
// MaxLightTotal.
const (
	MinStep       = 500 * time.Millisecond
	MaxStep       = 1000 * time.Millisecond
	StepGrain     = 50 * time.Millisecond
	MinSteps      = 8
	MinLightTotal = 6000 * time.Millisecond
	MaxLightTotal = MinSteps * MaxStep
)

// Step is one colour of the light challenge, shown from Start for
// Duration (relative to the start of the recording).
type Step struct {
	Color    RGB
	Start    time.Duration
	Duration time.Duration
}

// Light is a light challenge: consecutive steps, the first from t = 0,
// each colour different from the one before.
type Light struct {
	Steps []Step
}

// Total is the time the steps cover.
func (l Light) Total() time.Duration {
	if len(l.Steps) == 0 {
		return 0
	}
	s := l.Steps[len(l.Steps)-1]
	return s.Start + s.Duration
}

// At returns the index of the step shown at t, or -1 outside the steps.
func (l Light) At(t time.Duration) int {
	for i, s := range l.Steps {
		if t >= s.Start && t < s.Start+s.Duration {
			return i
		}
	}
	return -1
}

// ErrBadLight: a light challenge breaks the bounds above.
var ErrBadLight = errors.New("presence: invalid light challenge")

// Validate checks the bounds: steps contiguous from 0, durations within
// MinStep..MaxStep, consecutive colours different, colours from the
// palette, total MinLightTotal..MaxLightTotal.
func (l Light) Validate() error {
	var t time.Duration
	for i, s := range l.Steps {
		if s.Start != t || s.Duration < MinStep || s.Duration > MaxStep {
			return fmt.Errorf("%w: step %d at %v for %v", ErrBadLight, i, s.Start, s.Duration)
		}
		if i > 0 && s.Color == l.Steps[i-1].Color {
			return fmt.Errorf("%w: step %d repeats its colour", ErrBadLight, i)
		}
		if paletteIndex(s.Color) < 0 {
			return fmt.Errorf("%w: step %d colour %s not in the palette", ErrBadLight, i, s.Color.Hex())
		}
		t += s.Duration
	}
	if t < MinLightTotal || t > MaxLightTotal || len(l.Steps) < MinSteps {
		return fmt.Errorf("%w: %d steps over %v", ErrBadLight, len(l.Steps), t)
	}
	return nil
}

func paletteIndex(c RGB) int {
	for i, p := range Palette {
		if p == c {
			return i
		}
	}
	return -1
}

// NewLight draws a light challenge from r (crypto/rand.Reader in
// production): steps of a uniform duration among MinStep..MaxStep in
// StepGrain units, each a uniform colour of the palette other than the
// previous one, until there are MinSteps and they cover MinLightTotal.
func NewLight(r io.Reader) (Light, error) {
	var l Light
	var t time.Duration
	prev := -1
	durations := int((MaxStep-MinStep)/StepGrain) + 1
	for t < MinLightTotal || len(l.Steps) < MinSteps {
		d, err := uniform(r, durations)
		if err != nil {
			return Light{}, err
		}
		n := len(Palette)
		if prev >= 0 {
			n--
		}
		c, err := uniform(r, n)
		if err != nil {
			return Light{}, err
		}
		if prev >= 0 && c >= prev {
			c++ // skip the previous colour
		}
		dur := MinStep + time.Duration(d)*StepGrain
		l.Steps = append(l.Steps, Step{Color: Palette[c], Start: t, Duration: dur})
		t += dur
		prev = c
	}
	return l, nil
}

// uniform draws an integer in [0, n) from r without modulo bias.
func uniform(r io.Reader, n int) (int, error) {
	var b [4]byte
	limit := (1 << 32) / uint64(n) * uint64(n)
	for {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("presence: random: %w", err)
		}
		v := uint64(binary.BigEndian.Uint32(b[:]))
		if v < limit {
			return int(v % uint64(n)), nil
		}
	}
}
