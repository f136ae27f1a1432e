package synth

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/credential/credtest"
)

var (
	engineOnce sync.Once
	engine     *face.Engine
	engineErr  error
)

func testEngine(tb testing.TB) *face.Engine {
	tb.Helper()
	engineOnce.Do(func() {
		dir, err := face.DefaultModelDir()
		if err != nil {
			engineErr = err
			return
		}
		engine, engineErr = face.Load(dir)
	})
	if engineErr != nil {
		tb.Fatalf("face engine (npm face-api model; scripts/setup.sh installs it): %v", engineErr)
	}
	return engine
}

func facesDir() string { return credtest.FacesDir() }

func loadPhoto(tb testing.TB, rel string) *Photo {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(facesDir(), rel))
	if err != nil {
		tb.Fatalf("face photos (SHENFEN_FACES_DIR): %v", err)
	}
	p, err := LoadPhoto(context.Background(), EngineLocator{testEngine(tb)}, rel, b)
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func needTools(tb testing.TB) {
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s is needed (scripts/setup.d/enrollment.debs): %v", tool, err)
		}
	}
}

// checkBounds checks a session against the submission's bounds
// (docs/api.md section 1).
func checkBounds(t *testing.T, s Session, speechEnd time.Duration) {
	t.Helper()
	if n := len(s.Frames); n < 40 || n > 160 || n != len(s.FrameTimes) {
		t.Fatalf("%d frames, %d times", n, len(s.FrameTimes))
	}
	if s.FrameTimes[0] > 300*time.Millisecond || s.FrameTimes[0] < 0 {
		t.Errorf("first frame at %v", s.FrameTimes[0])
	}
	for i := 1; i < len(s.FrameTimes); i++ {
		if d := s.FrameTimes[i] - s.FrameTimes[i-1]; d <= 0 || d > 250*time.Millisecond {
			t.Fatalf("frame %d: gap %v", i, d)
		}
	}
	if last := s.FrameTimes[len(s.FrameTimes)-1]; last < speechEnd {
		t.Errorf("frames end at %v, before the speech ends (%v)", last, speechEnd)
	}
	for i, f := range s.Frames {
		if len(f) > 96<<10 {
			t.Errorf("frame %d: %d bytes", i, len(f))
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(f))
		if err != nil || cfg.Width > 320 || cfg.Height > 320 {
			t.Fatalf("frame %d: %v %dx%d", i, err, cfg.Width, cfg.Height)
		}
	}
	pcm, rate, err := DecodeWAV(s.Audio)
	if err != nil || rate != Rate {
		t.Fatalf("audio: %v, %d Hz", err, rate)
	}
	if got := time.Duration(len(pcm)) * time.Second / Rate; got < speechEnd {
		t.Errorf("audio %v long, speech ends at %v", got, speechEnd)
	}
}

// speechEnd is the last time the audio is loud.
func speechEnd(t *testing.T, wav []byte) time.Duration {
	pcm, rate, err := DecodeWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	last := 0
	for i, v := range pcm {
		if v > 1500 || v < -1500 {
			last = i
		}
	}
	return time.Duration(last) * time.Second / time.Duration(rate)
}

func testChallenge(rng Rand, digits string) Challenge {
	return Challenge{Digits: digits, Lang: English, Light: RandomLight(rng, 6*time.Second)}
}

func TestRandomLight(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		steps := RandomLight(rng, 6*time.Second)
		var at time.Duration
		for i, s := range steps {
			if s.Start != at || s.Duration < 500*time.Millisecond || s.Duration > time.Second {
				t.Fatalf("step %d: %+v at %v", i, s, at)
			}
			if i > 0 && s.Color == steps[i-1].Color {
				t.Fatalf("step %d repeats its colour", i)
			}
			at += s.Duration
		}
		if at < 6*time.Second {
			t.Fatalf("sequence ends at %v", at)
		}
	}
}

func TestWAVRoundTrip(t *testing.T) {
	pcm := []int16{0, 1, -1, 32767, -32768, 1234}
	got, rate, err := DecodeWAV(EncodeWAV(pcm, 16000))
	if err != nil || rate != 16000 || fmt.Sprint(got) != fmt.Sprint(pcm) {
		t.Fatalf("%v %d %v", got, rate, err)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF"), []byte("RIFF0000WAVEjunk0000")} {
		if _, _, err := DecodeWAV(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

// TestSessions makes one session of every species and checks it against
// the submission's bounds; the genuine one is also checked for what the
// server's presence checks look at: the mouth opening (by the face
// engine's landmarks) follows the audio, and the face's colour follows the
// light steps.
func TestSessions(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	photo, portrait, other := loadPhoto(t, "obama/obama2.jpg"), loadPhoto(t, "obama/obama.jpg"), loadPhoto(t, "biden/biden.jpg")
	g := &Generator{Voice: Voices[English][0]}
	rng := rand.New(rand.NewPCG(7, 7))
	ch := testChallenge(rng, "4071")
	genuine, err := g.Make(ctx, Genuine, ch, Cast{Photo: photo}, rng)
	if err != nil {
		t.Fatal(err)
	}
	checkBounds(t, genuine, speechEnd(t, genuine.Audio))
	checkGenuine(t, genuine, ch)
	out := os.Getenv("SHENFEN_SYNTH_OUT")
	if out != "" {
		dump(t, filepath.Join(out, string(Genuine)), genuine)
	}
	ch2 := testChallenge(rng, "5839")
	for _, sp := range Attacks {
		t.Run(string(sp), func(t *testing.T) {
			s, err := g.Make(ctx, sp, ch2, Cast{Photo: photo, Portrait: portrait, Other: other, Earlier: &genuine}, rng)
			if err != nil {
				t.Fatal(err)
			}
			if s.Species != sp {
				t.Errorf("species %s", s.Species)
			}
			checkBounds(t, s, speechEnd(t, s.Audio))
			if out != "" {
				dump(t, filepath.Join(out, string(sp)), s)
			}
		})
	}
	if _, err := g.Make(ctx, Portrait, ch2, Cast{Photo: photo}, rng); err == nil {
		t.Error("a portrait session without the portrait")
	}
	if _, err := g.Make(ctx, Genuine, Challenge{Digits: "12a4", Lang: English}, Cast{Photo: photo}, rng); err == nil {
		t.Error("a challenge of non-digits")
	}
}

// checkGenuine measures the genuine session as the server would.
func checkGenuine(t *testing.T, s Session, ch Challenge) {
	t.Helper()
	eng := testEngine(t)
	pcm, _, _ := DecodeWAV(s.Audio)
	env := envelope(pcm, Rate, Rate/100)
	var opens, louds, reds, wantReds []float64
	for i, f := range s.Frames {
		img, err := jpeg.Decode(bytes.NewReader(f))
		if err != nil {
			t.Fatal(err)
		}
		fc, err := eng.Analyze(context.Background(), img)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		opens = append(opens, darkness(img, fc.Box))
		k := int(s.FrameTimes[i] / (10 * time.Millisecond))
		louds = append(louds, env[min(k, len(env)-1)])
		r, g, b := meanRGB(img, fc.Box)
		reds = append(reds, r/(r+g+b))
		c := ch.ColorAt(s.FrameTimes[i] - 150*time.Millisecond)
		wantReds = append(wantReds, float64(c.R)/(float64(c.R)+float64(c.G)+float64(c.B)+1))
	}
	if c := corr(opens, louds); c < 0.6 {
		t.Errorf("mouth opening vs loudness: correlation %.2f", c)
	} else {
		t.Logf("mouth opening vs loudness: correlation %.2f", c)
	}
	if c := corr(reds, wantReds); c < 0.6 {
		t.Errorf("face redness vs the light's: correlation %.2f", c)
	} else {
		t.Logf("face redness vs the light's: correlation %.2f", c)
	}
}

// darkness is the share of dark pixels in the lower middle of a face box,
// where the open mouth is: the face engine's lip points are too coarse to
// follow it (the server's checks use the 468-point mesh).
func darkness(img image.Image, box image.Rectangle) float64 {
	r := image.Rect(box.Min.X+box.Dx()*3/10, box.Min.Y+box.Dy()*6/10, box.Min.X+box.Dx()*7/10, box.Max.Y+box.Dy()/10).Intersect(img.Bounds())
	var dark, n float64
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if (cr+cg+cb)/3>>8 < 70 {
				dark++
			}
			n++
		}
	}
	return dark / n
}

func meanRGB(img image.Image, r image.Rectangle) (float64, float64, float64) {
	r = r.Intersect(img.Bounds())
	var sr, sg, sb, n float64
	for y := r.Min.Y; y < r.Max.Y; y += 2 {
		for x := r.Min.X; x < r.Max.X; x += 2 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			sr, sg, sb, n = sr+float64(cr), sg+float64(cg), sb+float64(cb), n+1
		}
	}
	return sr / n, sg / n, sb / n
}

func corr(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var sab, saa, sbb float64
	for i := range a {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

func dump(t *testing.T, dir string, s Session) {
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "selfie.jpg"), s.Selfie, 0o644)
	os.WriteFile(filepath.Join(dir, "audio.wav"), s.Audio, 0o644)
	for i, f := range s.Frames {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.jpg", i)), f, 0o644)
	}
}

func BenchmarkGenuine(b *testing.B) {
	photo := loadPhoto(b, "obama/obama2.jpg")
	g := &Generator{Voice: Voices[English][0]}
	rng := rand.New(rand.NewPCG(7, 7))
	ch := testChallenge(rng, "4071")
	for b.Loop() {
		if _, err := g.Make(context.Background(), Genuine, ch, Cast{Photo: photo}, rng); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSpeak(t *testing.T) {
	needTools(t)
	if w, err := Words("4071", Mandarin); err != nil || w != "四 零 七 一" {
		t.Errorf("Words zh: %q %v", w, err)
	}
	if w, err := Words("4071", English); err != nil || w != "four zero seven one" {
		t.Errorf("Words en: %q %v", w, err)
	}
	for _, v := range []Voice{Voices[English][0], Voices[Mandarin][0], {"flite", "slt", 0, English}} {
		if _, err := exec.LookPath(v.Engine); err != nil {
			t.Logf("%s: not installed", v.Engine)
			continue
		}
		pcm, err := Speak(context.Background(), v, "4071")
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if d := time.Duration(len(pcm)) * time.Second / Rate; d < 800*time.Millisecond || d > 5*time.Second {
			t.Errorf("%s: %v of speech for four digits", v, d)
		}
	}
	if _, err := Speak(context.Background(), Voice{Engine: "nope"}, "1"); err == nil {
		t.Error("an unknown engine spoke")
	}
}
