package synth

import (
	"context"
	"fmt"
	"image"
	"math"
	"time"
)

// Species is the kind of a session: Genuine or a presentation-attack
// species (ISO/IEC 30107-3 terms).
type Species string

// The session kinds. Each attack is the strongest version of its kind that
// does not render this challenge's light sequence onto a face that reads
// the digits in sync (docs/biometrics.md says what that leaves out).
const (
	// Genuine: another photo of the person (not the registry portrait)
	// reading aloud: the jaw follows the speech, the screen lights the
	// skin (screen-to-camera latency 60..220 ms), the head moves a
	// little, camera noise.
	Genuine Species = "genuine"
	// StillPhoto: a printed photo of the person held to the camera (the
	// screen lights the print too; a hand's tremor), and a synthetic
	// voice reading the digits.
	StillPhoto Species = "still-photo"
	// MovedPhoto: the printed photo moved, turned and scaled in front of
	// the camera while the synthetic voice reads.
	MovedPhoto Species = "moved-photo"
	// JawUnsynced: the photo's jaw warped open and shut at a speaking
	// rhythm that ignores the audio (lit as by the screen).
	JawUnsynced Species = "jaw-warp-unsynced"
	// JawLightBlind: the jaw warped in sync with the audio's loudness,
	// lit by a light sequence guessed without knowing the server's.
	JawLightBlind Species = "jaw-warp-synced-light-blind"
	// Replay: the frames of an earlier genuine session (another
	// challenge's light) with the new digits read in the same voice.
	Replay Species = "replay"
	// Portrait: the registry portrait itself as the selfie and, warped in
	// sync with the audio and lit by this challenge's light, as the
	// frames.
	Portrait Species = "registry-portrait"
	// OtherPerson: another person reading this challenge's digits, in
	// sync and lit (a live accomplice), with a photo of the claimed
	// person as the selfie.
	OtherPerson Species = "other-person"
	// TTSStill: a synthetic voice and a still picture of the person
	// injected as the camera (no motion, no light).
	TTSStill Species = "tts-no-motion"
)

// Attacks are the attack species of the suite, in report order.
var Attacks = []Species{StillPhoto, MovedPhoto, JawUnsynced, JawLightBlind, Replay, Portrait, OtherPerson, TTSStill}

// Cast is the material of a session.
type Cast struct {
	// Photo is a photo of the claimed person that is not the registry
	// portrait (the genuine citizen's camera; what an attacker found).
	Photo *Photo
	// Portrait is the registry portrait (species Portrait).
	Portrait *Photo
	// Other is another person (species OtherPerson).
	Other *Photo
	// Earlier is an earlier genuine session of the person (species
	// Replay).
	Earlier *Session
}

// Generator makes sessions. The zero value is not usable: set Voice.
type Generator struct {
	// Voice reads the digits.
	Voice Voice
	// FPS is the frame rate (12 when zero); W x H the frame size
	// (320 x 240 when zero, the server's largest), the selfie is 640 x 480.
	FPS  float64
	W, H int
	// MaxFrameBytes bounds each JPEG (96 KiB when zero).
	MaxFrameBytes int
	// Latency is the screen-to-camera latency of the light (drawn from
	// 60..220 ms when zero).
	Latency time.Duration
	// Camera, when set, makes a fake camera's video instead of the
	// wallet's frames: frames every 1/FPS from time 0, no jitter, handed
	// to Camera uncompressed (the session's Frames stay empty).
	Camera func(at time.Duration, img *image.RGBA) error
}

func (g *Generator) defaults() (fps float64, w, h, limit int) {
	fps, w, h, limit = g.FPS, g.W, g.H, g.MaxFrameBytes
	if fps == 0 {
		fps = 12
	}
	if w == 0 || h == 0 {
		w, h = 320, 240
	}
	if limit == 0 {
		limit = 96 << 10
	}
	return
}

// Make builds a session of species sp for challenge ch from cast, drawing
// every random choice from rng.
func (g *Generator) Make(ctx context.Context, sp Species, ch Challenge, cast Cast, rng Rand) (Session, error) {
	need := func(p *Photo, what string) error {
		if p == nil {
			return fmt.Errorf("synth: species %s needs %s", sp, what)
		}
		return nil
	}
	if err := need(cast.Photo, "a photo of the person"); err != nil {
		return Session{}, err
	}
	if ch.Lang == "" {
		ch.Lang = English
	}
	if g.Voice.Lang != ch.Lang {
		return Session{}, fmt.Errorf("synth: voice %s does not read %s", g.Voice, ch.Lang)
	}
	var pcm []int16
	var err error
	if sp != Replay {
		if pcm, err = Speak(ctx, g.Voice, ch.Digits); err != nil {
			return Session{}, err
		}
	}
	lead := time.Duration(450+rng.IntN(400)) * time.Millisecond
	t := timeline{ch: ch, lead: lead, speech: pcm}
	tremor := motion{amp: 1.5, rot: 0.3, scale: 0.004}
	head := motion{amp: 5, rot: 1.5, scale: 0.015}
	latency := time.Duration(60+rng.IntN(161)) * time.Millisecond
	if g.Latency > 0 {
		latency = g.Latency
	}
	s := Session{Lang: ch.Lang, Said: ch.Digits, Voice: g.Voice.String(), Species: sp}
	switch sp {
	case Genuine:
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{mouth: synced, light: ch.Light, latency: latency, move: head}, rng)
	case StillPhoto:
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{light: ch.Light, latency: latency, move: tremor}, rng)
	case MovedPhoto:
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{light: ch.Light, latency: latency,
			move: motion{amp: 30, rot: 8, scale: 0.12}}, rng)
	case JawUnsynced:
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{mouth: rhythm, light: ch.Light, latency: latency, move: head}, rng)
	case JawLightBlind:
		guess := RandomLight(rng, ch.Length())
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{mouth: synced, light: guess, latency: latency, move: head}, rng)
	case Portrait:
		if err = need(cast.Portrait, "the registry portrait"); err == nil {
			err = g.video(&s, t, cast.Portrait, cast.Portrait, videoSpec{mouth: synced, light: ch.Light, latency: latency, move: head, selfieAsIs: true}, rng)
		}
	case OtherPerson:
		if err = need(cast.Other, "another person"); err == nil {
			err = g.video(&s, t, cast.Photo, cast.Other, videoSpec{mouth: synced, light: ch.Light, latency: latency, move: head}, rng)
		}
	case TTSStill:
		err = g.video(&s, t, cast.Photo, cast.Photo, videoSpec{unlit: true}, rng)
	case Replay:
		if cast.Earlier == nil {
			return Session{}, fmt.Errorf("synth: species %s needs an earlier genuine session", sp)
		}
		err = g.replay(ctx, &s, ch, *cast.Earlier, rng)
	default:
		return Session{}, fmt.Errorf("synth: unknown species %q", sp)
	}
	if err != nil {
		return Session{}, err
	}
	return s, nil
}

// timeline places the reading in the recording.
type timeline struct {
	ch     Challenge
	lead   time.Duration // silence before the first word
	speech []int16
}

func (t timeline) length() time.Duration {
	speechEnd := t.lead + time.Duration(len(t.speech))*time.Second/Rate + 400*time.Millisecond
	return max(t.ch.Length(), speechEnd)
}

// audio is the recording: a quiet room's noise throughout, the speech from
// lead on.
func (t timeline) audio(rng Rand) []int16 {
	n := int(t.length() * Rate / time.Second)
	out := make([]int16, n)
	at := int(t.lead * Rate / time.Second)
	// A phone held at arm's length records speech well below full scale:
	// the voice's peak at about -7 dBFS.
	var peak float64
	for _, v := range t.speech {
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	gain := 1.0
	if peak > 0 {
		gain = 0.45 * math.MaxInt16 / peak
	}
	for i := range out {
		v := 90 * rng.NormFloat64() // about -51 dBFS
		if j := i - at; j >= 0 && j < len(t.speech) {
			v += gain * float64(t.speech[j])
		}
		out[i] = int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, math.Round(v))))
	}
	return out
}

type mouthKind int

const (
	closed mouthKind = iota
	synced           // follows the loudness of the speech
	rhythm           // opens and shuts at a speaking rate, ignoring the audio
)

// motion bounds how the picture moves: shift amplitude (pixels), rotation
// (degrees), scale (fraction).
type motion struct{ amp, rot, scale float64 }

type videoSpec struct {
	mouth      mouthKind
	light      []Step        // the light reaching the face; nil with unlit
	unlit      bool          // no screen light (an injected picture)
	latency    time.Duration // screen to camera
	move       motion
	selfieAsIs bool // the selfie is the photo file itself, re-encoded (the registry portrait)
}

// video fills the session's audio, selfie and frames: the selfie from
// selfiePhoto, the frames from framePhoto.
func (g *Generator) video(s *Session, t timeline, selfiePhoto, framePhoto *Photo, v videoSpec, rng Rand) error {
	fps, w, h, limit := g.defaults()
	pcm := t.audio(rng)
	s.Audio = EncodeWAV(pcm, Rate)
	const hop = Rate / 100 // 10 ms
	env := envelope(pcm, Rate, hop)
	envAt := func(d time.Duration) float64 {
		i := int(d / (10 * time.Millisecond))
		if i < 0 || i >= len(env) {
			return 0
		}
		return env[i]
	}
	maxOpen := 0.38 + 0.15*rng.Float64()
	mouthLead := time.Duration(rng.IntN(50)) * time.Millisecond
	rhythmHz, rhythmPhase := 2.5+1.5*rng.Float64(), 2*math.Pi*rng.Float64()
	// Slow head (or hand) motion: two sines per axis at random phases.
	ph := [6]float64{}
	for i := range ph {
		ph[i] = 2 * math.Pi * rng.Float64()
	}
	moveAt := func(sec float64) (dx, dy, sc, rot float64) {
		m := v.move
		dx = m.amp * (0.7*math.Sin(2*math.Pi*0.31*sec+ph[0]) + 0.3*math.Sin(2*math.Pi*1.1*sec+ph[1]))
		dy = m.amp * 0.7 * (0.7*math.Sin(2*math.Pi*0.23*sec+ph[2]) + 0.3*math.Sin(2*math.Pi*0.9*sec+ph[3]))
		sc = 1 + m.scale*math.Sin(2*math.Pi*0.17*sec+ph[4])
		rot = m.rot * math.Sin(2*math.Pi*0.27*sec+ph[5])
		return
	}
	lightAt := func(d time.Duration) (c [3]float64) {
		// The exposure integrates about 30 ms of light.
		for k := 0; k < 4; k++ {
			col := Challenge{Light: v.light}.ColorAt(d - v.latency - time.Duration(k)*10*time.Millisecond)
			c[0] += float64(col.R) / 255 / 4
			c[1] += float64(col.G) / 255 / 4
			c[2] += float64(col.B) / 255 / 4
		}
		return
	}
	noise := 2 + 1.5*rng.Float64()

	// The selfie: taken before the recording (the screen showing the
	// preview), the face still, a little turned.
	if v.selfieAsIs {
		sel, err := encodeJPEG(selfiePhoto.img, 92, 4<<20)
		if err != nil {
			return err
		}
		s.Selfie = sel
	} else {
		sc := selfiePhoto.scene(640, 480)
		dx, dy, scl, rot := moveAt(-1.3)
		img := sc.render(pose{dx: dx, dy: dy, scale: scl, rot: rot, noise: noise}, rng)
		sel, err := encodeJPEG(img, 90, 512<<10)
		if err != nil {
			return err
		}
		s.Selfie = sel
	}

	poseAt := func(at time.Duration) pose {
		p := pose{noise: noise, lit: !v.unlit, gain: 1}
		switch v.mouth {
		case synced:
			// A jaw opens for every syllable, the quiet ones too: the
			// opening grows with the loudness, compressed.
			p.open = maxOpen * math.Sqrt(envAt(at+mouthLead))
		case rhythm:
			p.open = maxOpen * math.Max(0, math.Sin(2*math.Pi*rhythmHz*at.Seconds()+rhythmPhase))
		}
		if p.lit {
			p.light = lightAt(at)
		}
		p.dx, p.dy, p.scale, p.rot = moveAt(at.Seconds())
		return p
	}
	sc := framePhoto.scene(w, h)
	end := t.length()
	step := time.Duration(float64(time.Second) / fps)
	at := time.Duration(20+rng.IntN(100)) * time.Millisecond
	if g.Camera != nil {
		at = 0
	}
	var still []byte
	for at < end {
		if g.Camera != nil {
			if err := g.Camera(at, sc.render(poseAt(at), rng)); err != nil {
				return err
			}
			at += step
			continue
		}
		if v.unlit && v.mouth == closed && v.move == (motion{}) && still != nil {
			// An injected still picture: the same image every frame,
			// encoded anew (the camera pipeline re-encodes it).
			s.Frames = append(s.Frames, still)
		} else {
			p := poseAt(at)
			jp, err := encodeJPEG(sc.render(p, rng), 85, limit)
			if err != nil {
				return err
			}
			s.Frames = append(s.Frames, jp)
			if v.unlit && v.mouth == closed && v.move == (motion{}) {
				still = jp
			}
		}
		s.FrameTimes = append(s.FrameTimes, at)
		// A phone's frame clock jitters by a few milliseconds.
		at += step + time.Duration(rng.NormFloat64()*4*float64(time.Millisecond))
	}
	if n := len(s.FrameTimes); n > 0 && s.FrameTimes[n-1] < end-2*step {
		return fmt.Errorf("synth: frames end at %v, the recording at %v", s.FrameTimes[n-1], end)
	}
	return nil
}

// replay is the earlier session's selfie and frames (another challenge's
// light, the mouth in time with other digits) with this challenge's digits
// read in the same voice, timed like the earlier reading.
func (g *Generator) replay(ctx context.Context, s *Session, ch Challenge, earlier Session, rng Rand) error {
	pcm, err := Speak(ctx, g.Voice, ch.Digits)
	if err != nil {
		return err
	}
	old, rate, err := DecodeWAV(earlier.Audio)
	if err != nil {
		return err
	}
	// Start the new reading where the old one started (the first sample
	// well above the room's noise).
	start := 0
	for i, v := range old {
		if v > 2000 || v < -2000 {
			start = max(0, i-rate/50)
			break
		}
	}
	var peak float64
	for _, v := range pcm {
		peak = math.Max(peak, math.Abs(float64(v)))
	}
	for i, v := range pcm {
		pcm[i] = int16(float64(v) * 0.45 * math.MaxInt16 / max(peak, 1))
	}
	out := make([]int16, max(len(old), start+len(pcm)+rate*3/10))
	for i := range out {
		v := 90 * rng.NormFloat64() // the room
		if j := i - start; j >= 0 && j < len(pcm) {
			v += float64(pcm[j])
		}
		out[i] = int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, math.Round(v))))
	}
	s.Audio = EncodeWAV(out, rate)
	s.Selfie = earlier.Selfie
	s.Frames = earlier.Frames
	s.FrameTimes = earlier.FrameTimes
	return nil
}
