package presence

import (
	"bytes"
	"crypto/rand"
	"errors"
	"image"
	"image/color"
	"math"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestNewLight(t *testing.T) {
	seen := map[RGB]int{}
	for i := 0; i < 200; i++ {
		l, err := NewLight(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Validate(); err != nil {
			t.Fatalf("draw %d: %v (%+v)", i, err, l)
		}
		for _, s := range l.Steps {
			seen[s.Color]++
			if s.Duration%StepGrain != 0 {
				t.Fatalf("step of %v", s.Duration)
			}
		}
	}
	if len(seen) != len(Palette) {
		t.Fatalf("colours drawn: %v", seen)
	}
	// A broken random source is an error, not a predictable challenge.
	if _, err := NewLight(bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Fatal("short random source accepted")
	}
	bad := []Light{
		{},
		{Steps: []Step{{Palette[0], 0, 400 * time.Millisecond}}},
		{Steps: []Step{{Palette[0], 0, time.Second}, {Palette[0], time.Second, time.Second}}},
		{Steps: []Step{{RGB{1, 2, 3}, 0, time.Second}}},
		{Steps: []Step{{Palette[0], 100 * time.Millisecond, time.Second}}},
	}
	for i, l := range bad {
		if err := l.Validate(); !errors.Is(err, ErrBadLight) {
			t.Errorf("bad light %d accepted: %v", i, err)
		}
	}
	for _, c := range Palette {
		if got, err := ParseHex(c.Hex()); err != nil || got != c {
			t.Fatalf("hex %s: %v %v", c.Hex(), got, err)
		}
	}
	for _, s := range []string{"", "#fff", "ff0000", "#FF0000", "#gg0000", "#ff00000"} {
		if _, err := ParseHex(s); err == nil {
			t.Errorf("colour %q accepted", s)
		}
	}
}

// words is a reading of four digits: 400 ms each, 300 ms apart, from 1 s.
var words = []Word{{'1', 1000 * time.Millisecond, 1400 * time.Millisecond}, {'2', 1700 * time.Millisecond, 2100 * time.Millisecond},
	{'3', 2400 * time.Millisecond, 2800 * time.Millisecond}, {'4', 3100 * time.Millisecond, 3500 * time.Millisecond}}

func speaking(ws []Word, t time.Duration) float64 {
	for _, w := range ws {
		if t >= w.Start && t < w.End {
			// the mouth opens and closes over the word
			x := float64(t-w.Start) / float64(w.End-w.Start)
			return math.Sin(math.Pi * x)
		}
	}
	return 0
}

// envelope of a reading of ws over 5 s, with room noise.
func envelope(ws []Word, rng *mrand.Rand) Envelope {
	env := make(Envelope, 500)
	for i := range env {
		t := time.Duration(i) * EnvelopeHop
		env[i] = 0.002*(1+rng.Float64()) + 0.2*speaking(ws, t)
	}
	return env
}

// series is a video's frames every 83 ms: the mouth follows mouth(t),
// the skin the colour lit at light(t).
func series(rng *mrand.Rand, mouth func(time.Duration) float64, lit func(time.Duration) (RGB, bool), noise float64) []Frame {
	var out []Frame
	for t := 20 * time.Millisecond; t < MaxLightTotal; t += 83 * time.Millisecond { // the recording covers the light
		f := Frame{At: t, Found: true, Mouth: 0.15 + 0.3*mouth(t) + noise*rng.NormFloat64()}
		skin := [3]float64{150, 110, 90}
		if c, ok := lit(t); ok {
			skin[0] += 25 * float64(c.R) / 255
			skin[1] += 25 * float64(c.G) / 255
			skin[2] += 25 * float64(c.B) / 255
		}
		for k := range skin {
			skin[k] += 1.5 * rng.NormFloat64()
		}
		f.Skin = skin
		out = append(out, f)
	}
	return out
}

func TestSync(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(1, 2))
	dark := func(time.Duration) (RGB, bool) { return RGB{}, false }
	tests := []struct {
		name  string
		mouth func(time.Duration) float64
		words []Word // given to Sync (nil: found in the envelope)
		pass  bool
	}{
		{"in sync", func(t time.Duration) float64 { return speaking(words, t) }, words, true},
		{"in sync, spans from the envelope", func(t time.Duration) float64 { return speaking(words, t) }, nil, true},
		{"camera 150 ms late", func(t time.Duration) float64 { return speaking(words, t-150*time.Millisecond) }, words, true},
		{"lagged by 700 ms", func(t time.Duration) float64 { return speaking(words, t-700*time.Millisecond) }, words, false},
		{"static photo", func(time.Duration) float64 { return 0 }, words, false},
		{"mouth moving at random", func(time.Duration) float64 { return rng.Float64() }, words, false},
		{"other words", func(t time.Duration) float64 {
			return speaking([]Word{{'9', 400 * time.Millisecond, 900 * time.Millisecond}, {'9', 3600 * time.Millisecond, 4400 * time.Millisecond}}, t)
		}, words, false},
		{"three digits said, four heard", func(t time.Duration) float64 { return speaking(words[:3], t) }, words, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for run := 0; run < 20; run++ {
				env := envelope(words, rng)
				r := Sync(series(rng, tc.mouth, dark, 0.01), env, tc.words)
				if r.Pass != tc.pass {
					t.Fatalf("run %d: %+v, want pass %v", run, r, tc.pass)
				}
			}
		})
	}
	// Lost faces: fewer than 90% of the frames tracked.
	fr := series(rng, func(t time.Duration) float64 { return speaking(words, t) }, dark, 0.01)
	for i := 0; i < len(fr); i += 5 {
		fr[i].Found = false
	}
	if r := Sync(fr, envelope(words, rng), words); r.Pass || r.Found > 0.81 {
		t.Fatalf("20%% of frames lost: %+v", r)
	}
	// Silence: nothing to compare with.
	if r := Sync(fr, make(Envelope, 500), nil); r.Pass {
		t.Fatalf("silent audio: %+v", r)
	}
}

// TestCheckLight judges fixed draws (a seeded generator, so that a run
// fails only when the code changes): a guessed sequence passes about one
// draw in 8 000 (TestLightGuessRate measures it), which at 300 draws from
// crypto/rand made this test fail in about one run in 25.
func TestCheckLight(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(3, 4))
	draws := mrand.NewChaCha8([32]byte{'l', 'i', 'g', 'h', 't'})
	moving := func(t time.Duration) float64 { return speaking(words, t) }
	lit := func(l Light, lat time.Duration) func(time.Duration) (RGB, bool) {
		return func(t time.Duration) (RGB, bool) {
			if i := l.At(t - lat); i >= 0 {
				return l.Steps[i].Color, true
			}
			return RGB{}, false
		}
	}
	tests := []struct {
		name string
		lit  func(l Light) func(time.Duration) (RGB, bool)
		pass bool
	}{
		{"follows the light, 120 ms latency", func(l Light) func(time.Duration) (RGB, bool) { return lit(l, 120*time.Millisecond) }, true},
		{"follows the light, no latency", func(l Light) func(time.Duration) (RGB, bool) { return lit(l, 0) }, true},
		{"follows the light, 380 ms latency", func(l Light) func(time.Duration) (RGB, bool) { return lit(l, 380*time.Millisecond) }, true},
		{"blind to the light", func(Light) func(time.Duration) (RGB, bool) {
			return func(time.Duration) (RGB, bool) { return RGB{}, false }
		}, false},
		{"constant white light", func(Light) func(time.Duration) (RGB, bool) {
			return func(time.Duration) (RGB, bool) { return RGB{255, 255, 255}, true }
		}, false},
		{"a guessed sequence", func(Light) func(time.Duration) (RGB, bool) {
			g, _ := NewLight(draws)
			return lit(g, 100*time.Millisecond)
		}, false},
		{"the right colours 1.5 s late", func(l Light) func(time.Duration) (RGB, bool) { return lit(l, 1500*time.Millisecond) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for run := 0; run < 300; run++ {
				l, err := NewLight(draws)
				if err != nil {
					t.Fatal(err)
				}
				r := CheckLight(series(rng, moving, tc.lit(l), 0.01), l)
				if r.Pass != tc.pass {
					t.Fatalf("run %d: %+v, want pass %v", run, r, tc.pass)
				}
			}
		})
	}
	if r := CheckLight(nil, Light{}); r.Pass {
		t.Fatalf("no frames: %+v", r)
	}
	// The right colours, but frames over the first 4 s only: the reading
	// without the light. Sequences of many short steps are the ones whose
	// first 4 s can hold 7 judged steps, so draw until 20 of them are seen.
	var many int
	for run := 0; run < 2000 && many < 20; run++ {
		l, err := NewLight(draws)
		if err != nil {
			t.Fatal(err)
		}
		fr := series(rng, moving, lit(l, 120*time.Millisecond), 0.01)
		var short []Frame
		for _, f := range fr {
			if f.At < 4*time.Second {
				short = append(short, f)
			}
		}
		if l.At(4*time.Second-120*time.Millisecond) >= 6 {
			many++
		}
		if r := CheckLight(short, l); r.Pass {
			t.Fatalf("run %d: frames over the first 4 s of %d steps passed: %+v", run, len(l.Steps), r)
		}
	}
	if many == 0 {
		t.Fatal("no sequence with 7 steps in its first 4 s was drawn: the case above proves nothing")
	}
}

func TestEnvelope(t *testing.T) {
	pcm := make([]int16, 16000) // 1 s at 16 kHz: a tone in the second half
	for i := 8000; i < len(pcm); i++ {
		pcm[i] = int16(8000 * math.Sin(float64(i)*0.3))
	}
	env := NewEnvelope(pcm, 16000)
	if len(env) != 100 || env.Duration() != time.Second {
		t.Fatalf("%d values", len(env))
	}
	if env[20] != 0 || math.Abs(env[80]-8000.0/32768/math.Sqrt2) > 0.01 {
		t.Fatalf("envelope %v %v", env[20], env[80])
	}
	if NewEnvelope(pcm, 0) != nil || NewEnvelope(pcm, 50) != nil {
		t.Fatal("envelope at a nonsense rate")
	}
	if got := SpeechEnd(env); got < 990*time.Millisecond {
		t.Fatalf("speech end %v", got)
	}
}

func TestDHash(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 90, 80))
	for y := 0; y < 80; y++ {
		for x := 0; x < 90; x++ {
			img.Set(x, y, color.RGBA{uint8(x * y % 251), uint8(x * 3), uint8(y * 2), 255})
		}
	}
	h := DHash(img)
	// Brighter copy: same hash. Another picture: far.
	bright := image.NewRGBA(img.Bounds())
	for i := range img.Pix {
		bright.Pix[i] = uint8(min(255, int(img.Pix[i])+10))
	}
	if d := HashDistance(h, DHash(bright)); d > 4 {
		t.Fatalf("brighter copy at %d bits", d)
	}
	other := image.NewRGBA(img.Bounds())
	for y := 0; y < 80; y++ {
		for x := 0; x < 90; x++ {
			other.Set(x, y, color.RGBA{uint8((90 - x) * 2), uint8(y * y % 253), 9, 255})
		}
	}
	if d := HashDistance(h, DHash(other)); d < 16 {
		t.Fatalf("another picture at %d bits", d)
	}
	if DHash(image.NewRGBA(image.Rectangle{})) != 0 {
		t.Fatal("empty image")
	}
}

// TestLightGuessRate measures how often a video lit by a sequence guessed
// without knowing the challenge (drawn as the server draws them, 100 ms
// late) passes CheckLight, and how often a genuine one (the challenge's
// own colours 0..400 ms late) is refused, at three levels of camera noise
// on the skin colour (standard deviation per channel, the light's effect
// being 25). It runs only with SHENFEN_LIGHT_DRAWS=N (draws per noise
// level); docs/biometrics.md gives its figures.
func TestLightGuessRate(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_LIGHT_DRAWS"))
	if n <= 0 {
		t.Skip("set SHENFEN_LIGHT_DRAWS to measure")
	}
	rng := mrand.New(mrand.NewPCG(5, 6))
	draws := mrand.NewChaCha8([32]byte{'r', 'a', 't', 'e'})
	moving := func(t time.Duration) float64 { return speaking(words, t) }
	lit := func(l Light, lat time.Duration) func(time.Duration) (RGB, bool) {
		return func(t time.Duration) (RGB, bool) {
			if i := l.At(t - lat); i >= 0 {
				return l.Steps[i].Color, true
			}
			return RGB{}, false
		}
	}
	noisy := func(fr []Frame, sd float64) []Frame {
		for i := range fr {
			for k := range fr[i].Skin {
				fr[i].Skin[k] += sd * rng.NormFloat64()
			}
		}
		return fr
	}
	for _, sd := range []float64{1.5, 4, 8} {
		var guessed, refused, guessed8, refused8 int
		for range n {
			l, _ := NewLight(draws)
			g, _ := NewLight(draws)
			// series adds noise of 1.5; the rest makes up sd.
			extra := math.Sqrt(max(0, sd*sd-1.5*1.5))
			// The figures also of a stricter rule, for comparison: at
			// least 8 steps identified.
			if r := CheckLight(noisy(series(rng, moving, lit(g, 100*time.Millisecond), 0.01), extra), l); r.Pass {
				guessed++
				if r.Agree >= 8 {
					guessed8++
				}
			}
			lat := time.Duration(rng.IntN(400)) * time.Millisecond
			if r := CheckLight(noisy(series(rng, moving, lit(l, lat), 0.01), extra), l); !r.Pass || r.Agree < 8 {
				refused8++
				if !r.Pass {
					refused++
				}
			}
		}
		t.Logf("skin noise %.1f: guessed sequence passed %d of %d (%.1e, 95%% upper bound %.1e); genuine refused %d of %d (%.2f%%)",
			sd, guessed, n, float64(guessed)/float64(n), upper95(guessed, n), refused, n, 100*float64(refused)/float64(n))
		t.Logf("  if at least 8 steps had to be identified: guessed passed %d (95%% upper bound %.1e), genuine refused %d (%.2f%%)",
			guessed8, upper95(guessed8, n), refused8, 100*float64(refused8)/float64(n))
	}
}

// upper95 is the one-sided 95% upper bound of a rate seen k times in n
// (rule of three when k is 0, else the Wilson score bound).
func upper95(k, n int) float64 {
	if k == 0 {
		return 3 / float64(n)
	}
	const z = 1.645
	p, nn := float64(k)/float64(n), float64(n)
	return (p + z*z/(2*nn) + z*math.Sqrt(p*(1-p)/nn+z*z/(4*nn*nn))) / (1 + z*z/nn)
}
