package e2e

import (
	"bufio"
	"context"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/shenfen/shenfen/internal/synth"
)

// The fake camera: Chromium reads the camera file (.y4m) and the microphone
// file (.wav) named on its command line each time a page opens the device,
// from their start. The journey writes them when the challenge is known
// (the light steps are drawn by the server), before the wallet opens the
// camera and microphone for the reading: the citizen, simulated by
// package internal/synth from another photo of the person (never the
// registry portrait), reads the digits aloud with the jaw moving with the
// voice and the face lit by the screen's colours.
const (
	camW, camH = 640, 480
	camFPS     = 15
	// screenLatency is when, after a colour is due on the screen, the
	// simulated camera sees it on the face. The wallet opens the camera,
	// waits for its pictures, then opens the microphone: the recording
	// (audio sample 0) starts a little after the camera file does, which
	// shortens the latency the server sees (its search spans 0..400 ms).
	screenLatency = 300 * time.Millisecond
)

// y4m writes uncompressed 4:2:0 video (YUV4MPEG2, BT.601 limited range, as
// ffmpeg writes yuv420p), the format of Chromium's fake camera file.
type y4m struct {
	f *os.File
	w *bufio.Writer
}

func newY4M(path string, w, h, fps int) (*y4m, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	y := &y4m{f: f, w: bufio.NewWriterSize(f, 1<<20)}
	fmt.Fprintf(y.w, "YUV4MPEG2 W%d H%d F%d:1 Ip A1:1 C420jpeg\n", w, h, fps)
	return y, nil
}

func (y *y4m) frame(img *image.RGBA) error {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	y.w.WriteString("FRAME\n")
	px := func(x, yy int) (float64, float64, float64) {
		o := img.PixOffset(b.Min.X+x, b.Min.Y+yy)
		return float64(img.Pix[o]) / 255, float64(img.Pix[o+1]) / 255, float64(img.Pix[o+2]) / 255
	}
	for yy := 0; yy < h; yy++ {
		for x := 0; x < w; x++ {
			r, g, bl := px(x, yy)
			y.w.WriteByte(uint8(16 + 65.481*r + 128.553*g + 24.966*bl + 0.5))
		}
	}
	for plane := 0; plane < 2; plane++ {
		for yy := 0; yy < h; yy += 2 {
			for x := 0; x < w; x += 2 {
				var r, g, bl float64
				for _, d := range [4][2]int{{0, 0}, {1, 0}, {0, 1}, {1, 1}} {
					r1, g1, b1 := px(min(x+d[0], w-1), min(yy+d[1], h-1))
					r, g, bl = r+r1/4, g+g1/4, bl+b1/4
				}
				if plane == 0 {
					y.w.WriteByte(uint8(128 - 37.797*r - 74.203*g + 112*bl + 0.5))
				} else {
					y.w.WriteByte(uint8(128 + 112*r - 93.786*g - 18.214*bl + 0.5))
				}
			}
		}
	}
	return nil
}

func (y *y4m) close() error {
	if err := y.w.Flush(); err != nil {
		y.f.Close()
		return err
	}
	return y.f.Close()
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 10)) }

// writeAtomically makes a file with fill at a temporary name and renames
// it over path, so that the browser never reads half a file.
func writeAtomically(path string, fill func(tmp string) error) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := fill(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// cameraVideo writes the camera file for session species sp of challenge
// ch from photo, and returns the session (its Audio is the microphone's).
func cameraVideo(ctx context.Context, sp synth.Species, ch synth.Challenge, photo *synth.Photo, v synth.Voice, seed uint64, video string) (synth.Session, error) {
	var s synth.Session
	err := writeAtomically(video, func(tmp string) error {
		y, err := newY4M(tmp, camW, camH, camFPS)
		if err != nil {
			return err
		}
		g := &synth.Generator{Voice: v, FPS: camFPS, W: camW, H: camH, Latency: screenLatency,
			Camera: func(_ time.Duration, img *image.RGBA) error { return y.frame(img) }}
		s, err = g.Make(ctx, sp, ch, synth.Cast{Photo: photo}, newRand(seed))
		if cerr := y.close(); err == nil {
			err = cerr
		}
		return err
	})
	return s, err
}

// previewFiles writes the camera and microphone files the wallet's
// preview (and the selfie taken from it) sees before a challenge is known:
// the person looking at the phone, no screen light, the room quiet.
func previewFiles(ctx context.Context, photo *synth.Photo, video, audio string) error {
	s, err := cameraVideo(ctx, synth.TTSStill, synth.Challenge{Digits: "0", Lang: synth.English}, photo, synth.Voices[synth.English][0], 1, video)
	if err != nil {
		return err
	}
	pcm, rate, err := synth.DecodeWAV(s.Audio)
	if err != nil {
		return err
	}
	for i := range pcm {
		pcm[i] /= 64 // the room, not the word
	}
	return writeAtomically(audio, func(tmp string) error { return os.WriteFile(tmp, synth.EncodeWAV(pcm, rate), 0o644) })
}

// readingFiles writes the camera and microphone files of the citizen
// reading challenge ch: the first synthetic voice that `shenfen speech
// check` (the binary bin, the server's recogniser) hears right on its own
// (a citizen who speaks clearly; when none is, the first), and the
// genuine simulation of package synth. It returns the voice used.
func readingFiles(ctx context.Context, bin string, ch synth.Challenge, photo *synth.Photo, seed uint64, video, audio string) (string, error) {
	voices := synth.Voices[ch.Lang]
	if len(voices) == 0 {
		return "", fmt.Errorf("e2e: no synthetic voice reads %q", ch.Lang)
	}
	voice := voices[0]
	note := " (no voice heard right on its own)"
	probe := filepath.Join(filepath.Dir(audio), "probe.wav")
	defer os.Remove(probe)
	for _, v := range voices {
		pcm, err := synth.Speak(ctx, v, ch.Digits)
		if err != nil {
			return "", err
		}
		pad := make([]int16, synth.Rate/2)
		if err := os.WriteFile(probe, synth.EncodeWAV(append(append(append([]int16(nil), pad...), pcm...), pad...), synth.Rate), 0o644); err != nil {
			return "", err
		}
		if exec.CommandContext(ctx, bin, "speech", "check", probe, ch.Digits).Run() == nil {
			voice, note = v, ""
			break
		}
	}
	s, err := cameraVideo(ctx, synth.Genuine, ch, photo, voice, seed, video)
	if err != nil {
		return "", err
	}
	if err := writeAtomically(audio, func(tmp string) error { return os.WriteFile(tmp, s.Audio, 0o644) }); err != nil {
		return "", err
	}
	return voice.String() + note, nil
}

// keepFormJS keeps the last enrollment form the wallet sends (the one with
// an "audio" part) in window.__e2eForm, so that a test can see what the
// server got (the recording, the frames and their times) when it refuses,
// and lists the colours the wallet's light screen took, in order, in
// window.__e2eLight. It is installed through the DevTools protocol and is
// not part of the product's pages.
const keepFormJS = `(() => {
  window.__e2eLight = [];
  document.addEventListener("DOMContentLoaded", () => {
    const el = document.getElementById("light");
    if (!el) return;
    new MutationObserver(() => {
      const c = el.dataset.color;
      if (c && window.__e2eLight[window.__e2eLight.length - 1] !== c) window.__e2eLight.push(c);
    }).observe(el, { attributes: true, attributeFilter: ["data-color"] });
  });
  const send = window.fetch;
  window.fetch = function (url, opts) {
    try {
      if (opts && opts.body instanceof FormData && opts.body.get("audio")) window.__e2eForm = opts.body;
    } catch (e) {}
    return send.apply(this, arguments);
  };
})();`

// readFormJS resolves to the kept form as JSON: {audio: base64 WAV,
// frames: [base64 JPEG], times: frame_times_ms of the signed request}, or
// "" if none.
const readFormJS = `(async () => {
  const f = window.__e2eForm;
  if (!f) return "";
  const b64 = (blob) => new Promise((resolve) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).split(",")[1] || "");
    r.readAsDataURL(blob);
  });
  const payload = JSON.parse(atob(f.get("request").split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  return JSON.stringify({ audio: await b64(f.get("audio")), frames: await Promise.all(f.getAll("frame").map(b64)),
    times: payload.frame_times_ms || [] });
})()`
