package e2e

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	_ "image/jpeg" // face photos

	xdraw "golang.org/x/image/draw"

	"github.com/shenfen/shenfen/biometric/face"
)

// Video frame size and rate of the fake camera.
const (
	camW, camH = 640, 480
	camFPS     = 10
)

// jaw is the mouth opening of each frame of the fake camera's loop, in
// mouth widths: a person reading digits (closed, open, half-open...).
var jaw = []float64{0, 0.2, 0.4, 0.3, 0.1, 0, 0.25, 0.45, 0.2, 0.05, 0.35, 0.15}

// speakingVideo writes a .y4m video (ffmpeg) of the face in photo reading
// aloud: the photo fitted into 640x480, and in each frame the part of the
// face below the mouth pulled down by the jaw opening of that frame. The
// mouth is located with shenfen's face engine.
func speakingVideo(ctx context.Context, engine *face.Engine, photo, out string) error {
	f, err := os.Open(photo)
	if err != nil {
		return err
	}
	src, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("e2e: decode %s: %w", photo, err)
	}
	frame := fit(src)
	fc, err := engine.Analyze(ctx, frame)
	if err != nil {
		return fmt.Errorf("e2e: no usable face in %s: %w", photo, err)
	}
	dir, err := os.MkdirTemp(filepath.Dir(out), "frames")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, open := range jaw {
		img := openJaw(frame, fc.Landmarks, open)
		p := filepath.Join(dir, fmt.Sprintf("f%03d.png", i))
		w, err := os.Create(p)
		if err != nil {
			return err
		}
		if err := png.Encode(w, img); err != nil {
			w.Close()
			return err
		}
		w.Close()
	}
	cmd := exec.CommandContext(ctx, "ffmpeg", "-y", "-loglevel", "error", "-framerate", fmt.Sprint(camFPS),
		"-i", filepath.Join(dir, "f%03d.png"), "-pix_fmt", "yuv420p", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("e2e: ffmpeg: %v: %s", err, b)
	}
	return nil
}

// fit scales img into a grey 640x480 frame, keeping its aspect ratio.
func fit(img image.Image) *image.RGBA {
	out := image.NewRGBA(image.Rect(0, 0, camW, camH))
	draw.Draw(out, out.Bounds(), &image.Uniform{color.RGBA{90, 90, 90, 255}}, image.Point{}, draw.Src)
	b := img.Bounds()
	s := math.Min(float64(camW)/float64(b.Dx()), float64(camH)/float64(b.Dy()))
	w, h := int(float64(b.Dx())*s), int(float64(b.Dy())*s)
	r := image.Rect((camW-w)/2, (camH-h)/2, (camW-w)/2+w, (camH-h)/2+h)
	xdraw.CatmullRom.Scale(out, r, img, b, xdraw.Src, nil)
	return out
}

// openJaw returns img with the chin region below the mouth centre shifted
// down by open mouth-widths, fading out towards the region's edge, and the
// gap darkened like an open mouth.
func openJaw(img *image.RGBA, lm face.Landmarks, open float64) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	copy(out.Pix, img.Pix)
	if open == 0 {
		return out
	}
	mc := lm.MouthCenter()
	mw := math.Hypot(lm.MouthRight.X-lm.MouthLeft.X, lm.MouthRight.Y-lm.MouthLeft.Y)
	shift := open * mw
	b := img.Bounds()
	for y := int(mc.Y); y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			dx := (float64(x) - mc.X) / (0.85 * mw)
			dy := (float64(y) - mc.Y) / (1.4 * mw)
			r := dx*dx + dy*dy
			if r >= 1 {
				continue
			}
			k := shift * (1 - r) * (1 - r)
			sy := float64(y) - k
			var c color.RGBA
			if sy < mc.Y {
				// Inside the opened mouth: dark.
				c = color.RGBA{40, 20, 20, 255}
			} else {
				c = img.RGBAAt(x, int(sy))
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

var digitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// readings are the ways the synthetic citizen can read the digits:
// espeak-ng Klatt voices and speeds, klatt3 at 140 words a minute first.
// espeak-ng's default voice is read poorly by the recogniser's CMU model
// (docs/biometrics.md), and klatt3 read with commas was misheard more often
// than without them when this was written.
var readings = []struct {
	voice string
	speed int
}{{"en-us+klatt3", 140}, {"en-us+klatt3", 120}, {"en-us+klatt", 160}, {"en-us+klatt3", 160}, {"en-us+klatt2", 120}}

// spokenDigits writes a 16 kHz mono WAV of espeak-ng reading digits, with
// 0.8 s of silence before and enough after that Chromium's looping of the
// fake microphone file does not repeat the digits inside one recording.
// It is the first of readings that `shenfen speech check` (the binary bin,
// the server's recogniser) hears right on its own: a citizen who speaks
// clearly. Some digit strings in some synthetic voices are misheard (about
// one in thirteen in the first voice); the journey tests the way from the
// microphone to the decision, and docs/biometrics.md measures the
// recogniser. When no reading is heard right the first is used, and the
// journey retries with new digits as a citizen would. It returns the
// reading used.
func spokenDigits(ctx context.Context, bin, digits, out string) (string, error) {
	var words []string
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("e2e: challenge %q is not digits", digits)
		}
		words = append(words, digitWords[c-'0'])
	}
	raw := out + ".raw.wav"
	defer os.Remove(raw)
	render := func(voice string, speed int) error {
		for _, c := range [][]string{
			{"espeak-ng", "-v", voice, "-s", fmt.Sprint(speed), "-w", raw, strings.Join(words, " ")},
			{"sox", raw, "-r", "16000", "-c", "1", "-b", "16", out, "pad", "0.8", "6"},
		} {
			if b, err := exec.CommandContext(ctx, c[0], c[1:]...).CombinedOutput(); err != nil {
				return fmt.Errorf("e2e: %s: %v: %s", c[0], err, b)
			}
		}
		return nil
	}
	for _, r := range readings {
		if err := render(r.voice, r.speed); err != nil {
			return "", err
		}
		if exec.CommandContext(ctx, bin, "speech", "check", out, digits).Run() == nil {
			return fmt.Sprintf("%s at %d wpm", r.voice, r.speed), nil
		}
	}
	r := readings[0]
	if err := render(r.voice, r.speed); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s at %d wpm (no reading heard right on its own)", r.voice, r.speed), nil
}

// keepAudioJS keeps the last recording the wallet sends (the "audio" part
// of its enrollment form) in window.__e2eAudio, so that a test can see what
// the server heard when it refuses the digits. It is installed through the
// DevTools protocol and is not part of the product's pages.
const keepAudioJS = `(() => {
  const send = window.fetch;
  window.fetch = function (url, opts) {
    try {
      if (opts && opts.body instanceof FormData && opts.body.get("audio")) window.__e2eAudio = opts.body.get("audio");
    } catch (e) {}
    return send.apply(this, arguments);
  };
})();`

// readAudioJS resolves to the kept recording as base64, "" if none.
const readAudioJS = `new Promise((resolve) => {
  if (!window.__e2eAudio) return resolve("");
  const r = new FileReader();
  r.onload = () => resolve(String(r.result).split(",")[1] || "");
  r.readAsDataURL(window.__e2eAudio);
})`
