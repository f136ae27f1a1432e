// Package proofingtest holds test doubles for the engines and services
// behind package proofing's interfaces, for unit tests of proofing and of
// the HTTP layer: a "face" is the colour of an image's top-left pixel (gray:
// no usable face), the mouth is its bottom-right pixel, and an "audio"
// recording says in text what was spoken ("said:1234"; "broken" is not
// decodable; anything else is not digits).
package proofingtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status/entry"
)

// The doubles below stand in for the engines behind proofing's interfaces:
// a "face" is the colour of the image's top-left pixel (gray: no usable
// face), the mouth is the bottom-right pixel, and the "audio" says in text
// what was spoken.

// Face is a proofing.FaceChecker double.
type Face struct {
	mu sync.Mutex
	// Fail, when set, is returned by Probe (an engine breaking down).
	Fail error
	n    int
}

func person(img image.Image) (r, g, b uint8) {
	c := color.RGBAModel.Convert(img.At(0, 0)).(color.RGBA)
	return c.R, c.G, c.B
}

// Probe implements proofing.FaceChecker.
func (f *Face) Probe(_ context.Context, img image.Image) (proofing.Probe, error) {
	f.mu.Lock()
	f.n++
	fail := f.Fail
	f.mu.Unlock()
	if fail != nil {
		return proofing.Probe{}, fail
	}
	r, g, b := person(img)
	if r == g && g == b {
		return proofing.Probe{}, fmt.Errorf("proofingtest: %w", proofing.ErrFaceUnusable)
	}
	q := 1.0
	if img.Bounds().Dx() == 65 {
		q = 2 // the registry portrait itself (see PortraitCopy)
	}
	return proofing.Probe{Template: []byte{r, g, b}, Quality: q}, nil
}

// Match implements proofing.FaceChecker: the same colour is the same
// person; a selfie whose quality is exactly 2 (see Probe) is a copy of the
// portrait.
func (f *Face) Match(p proofing.Probe, template []byte) (proofing.Match, error) {
	if bytes.Equal(p.Template, template) {
		return proofing.Match{Distance: 0.2, Same: true, Copy: p.Quality == 2}, nil
	}
	return proofing.Match{Distance: 0.9}, nil
}

// Video implements proofing.FaceChecker: in a frame the person is the
// top-left pixel, the skin the centre pixel and the mouth opening the red
// of the bottom-right pixel (over 255); a frame whose person is gray has no
// face.
func (f *Face) Video(_ context.Context, frames []image.Image, p proofing.Probe, template []byte) (proofing.Video, error) {
	v := proofing.Video{Same: true, TemplateDistance: -1}
	for _, fr := range frames {
		r, g, b := person(fr)
		var pf presence.Frame
		if r != g || g != b {
			pf.Found = true
			bd := fr.Bounds()
			c := color.RGBAModel.Convert(fr.At((bd.Min.X+bd.Max.X)/2, (bd.Min.Y+bd.Max.Y)/2)).(color.RGBA)
			pf.Skin = [3]float64{float64(c.R), float64(c.G), float64(c.B)}
			m := color.RGBAModel.Convert(fr.At(bd.Max.X-1, bd.Max.Y-1)).(color.RGBA)
			pf.Mouth = float64(m.R) / 255
			v.Checked++
			if !bytes.Equal([]byte{r, g, b}, p.Template) {
				v.Same, v.ProbeDistance = false, 0.9
			} else {
				v.ProbeDistance = max(v.ProbeDistance, 0.2)
			}
		}
		v.Frames = append(v.Frames, pf)
	}
	if template != nil {
		v.TemplateDistance = 0.2
	}
	return v, nil
}

// Version implements proofing.FaceChecker.
func (f *Face) Version() string { return "fake-face" }

// Speech is a proofing.DigitRecognizer double: the "audio" is "said:"
// and the digits, optionally followed by "#" and anything (to make
// recordings unique); "broken" is undecodable. The words lie at WordTimes; the envelope is loud inside
// them and quiet elsewhere, over SpeechDuration.
type Speech struct{}

// SpeechDuration is the length of every fake recording.
const SpeechDuration = 5 * time.Second

// WordTimes are the spans of the four spoken digits in a fake recording.
func WordTimes(digits string) []presence.Word {
	var w []presence.Word
	for i := range len(digits) {
		start := time.Second + time.Duration(i)*700*time.Millisecond
		w = append(w, presence.Word{Digit: digits[i], Start: start, End: start + 450*time.Millisecond})
	}
	return w
}

// Speaking reports whether a fake recording of digits is loud at t.
func Speaking(digits string, t time.Duration) bool {
	for _, w := range WordTimes(digits) {
		if t >= w.Start && t < w.End {
			return true
		}
	}
	return false
}

// Verify implements proofing.DigitRecognizer.
func (Speech) Verify(_ context.Context, wav []byte, challenge string, lang proofing.Language) (proofing.Spoken, error) {
	s := string(wav)
	if s == "broken" {
		return proofing.Spoken{}, fmt.Errorf("proofingtest: %w", proofing.ErrMedia)
	}
	said, ok := strings.CutPrefix(s, "said:")
	said, _, _ = strings.Cut(said, "#") // "#..." makes recordings unique
	sum := sha256.Sum256(wav)
	sp := proofing.Spoken{Fingerprint: sum[:], Duration: SpeechDuration, Reason: "rejected", Score: -5}
	env := make(presence.Envelope, SpeechDuration/presence.EnvelopeHop)
	for i := range env {
		env[i] = 0.001
		if ok && Speaking(said, time.Duration(i)*presence.EnvelopeHop) {
			env[i] = 0.3
		}
	}
	sp.Envelope = env
	if ok && said == challenge {
		sp.Accepted, sp.Reason, sp.Score, sp.Words = true, "match", 5, WordTimes(said)
	} else if ok {
		sp.Reason, sp.Score = "mismatch", -1
	}
	return sp, nil
}

// Version implements proofing.DigitRecognizer.
func (Speech) Version() string { return "fake-speech" }

// Records is a proofing.RecordSource double.
type Records map[registry.IDNumber]registry.Record

// Get implements proofing.RecordSource.
func (r Records) Get(_ context.Context, id registry.IDNumber) (registry.Record, error) {
	rec, ok := r[id]
	if !ok {
		return registry.Record{}, registry.ErrNotFound
	}
	return rec, nil
}

// Index implements proofing.RecordSource.
func (r Records) Index(id registry.IDNumber) []byte { return []byte("idx:" + string(id)) }

// Status is a proofing.StatusLists double; OnRevoke, when set, is told
// every revocation.
type Status struct {
	OnRevoke func(proofing.StatusRef)
	// RevokeCalls and SetAllCalls count the calls of Revoke and SetAll.
	RevokeCalls, SetAllCalls int
	mu                       sync.Mutex
	next                     int
	revoked                  map[int]bool
}

// Allocate implements proofing.StatusLists.
func (s *Status) Allocate(context.Context) (proofing.StatusRef, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	return proofing.StatusRef{URI: "https://issuer/status/x", Index: s.next}, nil
}

// Revoke implements proofing.StatusLists.
func (s *Status) Revoke(_ context.Context, ref proofing.StatusRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked == nil {
		s.revoked = map[int]bool{}
	}
	s.revoked[ref.Index] = true
	s.RevokeCalls++
	if s.OnRevoke != nil {
		s.OnRevoke(ref)
	}
	return nil
}

// SetAll revokes every entry of refs at once (the double knows only
// revocation, as proofing.Service uses it), tells OnRevoke of each, and
// counts the call in SetAllCalls.
func (s *Status) SetAll(_ context.Context, refs []proofing.StatusRef, next entry.Status) (entry.Status, int, error) {
	if next != entry.Invalid {
		return 0, 0, fmt.Errorf("proofingtest: SetAll to %v: the double only revokes", next)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.revoked == nil {
		s.revoked = map[int]bool{}
	}
	first := entry.Valid
	if len(refs) > 0 && s.revoked[refs[0].Index] {
		first = entry.Invalid
	}
	for _, r := range refs {
		s.revoked[r.Index] = true
		if s.OnRevoke != nil {
			s.OnRevoke(r)
		}
	}
	s.SetAllCalls++
	return first, len(refs), nil
}

// Frame is a 96x96 PNG video frame of a person: colour c at the top-left
// pixel, skin colour in the middle, the mouth opening (0..1) as the red of
// the bottom-right pixel, and a random pixel (no two frames alike).
func Frame(c, skin color.RGBA, mouth float64) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.Set(x, y, skin)
		}
	}
	img.Set(0, 0, c)
	img.Set(95, 95, color.RGBA{uint8(max(0, min(255, mouth*255))), 0, 0, 255})
	var n [3]byte
	rand.Read(n[:]) // camera noise: no two frames are the same bytes
	img.Set(2, 2, color.RGBA{n[0], n[1], n[2], 255})
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// Clip is a fake video of a reading: frames at 12 a second over
// SpeechDuration with their times.
type Clip struct {
	Frames [][]byte
	Times  []int64
}

// ClipOptions spoil a genuine clip.
type ClipOptions struct {
	// Still keeps the mouth closed; Lag delays the mouth against the
	// audio; Blind keeps the skin colour constant; Light, when set, is the
	// sequence the skin follows instead of the challenge's (a guess).
	Still bool
	Lag   time.Duration
	Blind bool
	Light *presence.Light
	// Digits, when set, are the words the mouth says instead.
	Digits string
	// Every is the time between frames (default 83 ms, 12 a second).
	Every time.Duration
}

// GenuineClip is the frames of person c reading digits under light: the
// mouth open inside the digits' spans, the skin lit by the screen colour
// with 100 ms of latency, frames every 83 ms from 20 ms on, over the whole
// light sequence.
func GenuineClip(c color.RGBA, digits string, light presence.Light, o ClipOptions) Clip {
	var clip Clip
	if o.Light != nil {
		light = *o.Light
	}
	if o.Digits != "" {
		digits = o.Digits
	}
	every := o.Every
	if every <= 0 {
		every = 83 * time.Millisecond
	}
	for t := 20 * time.Millisecond; t <= max(SpeechDuration, light.Total())-50*time.Millisecond; t += every {
		mouth := 0.1
		if !o.Still && Speaking(digits, t-o.Lag) {
			mouth = 0.7
		}
		skin := [3]float64{150, 110, 90}
		if i := light.At(t - 100*time.Millisecond); i >= 0 && !o.Blind {
			sc := light.Steps[i].Color
			skin[0] += 60 * float64(sc.R) / 255
			skin[1] += 60 * float64(sc.G) / 255
			skin[2] += 60 * float64(sc.B) / 255
		}
		clip.Frames = append(clip.Frames, Frame(c, color.RGBA{uint8(skin[0]), uint8(skin[1]), uint8(skin[2]), 255}, mouth))
		clip.Times = append(clip.Times, t.Milliseconds())
	}
	return clip
}

// Image is a 64x64 PNG of colour c (the person) with a mouth pixel.
func Image(c color.RGBA, mouth color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, c)
		}
	}
	img.Set(63, 63, mouth)
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// PortraitCopy is a selfie the Face double takes for a copy of the
// registry portrait of the person of colour c (a 65x64 image).
func PortraitCopy(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 65, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 65; x++ {
			img.Set(x, y, c)
		}
	}
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// Selfie is a 64x64 PNG selfie of the person of colour c, unique (a
// random pixel in the middle): two live captures never have the same bytes.
func Selfie(c color.RGBA) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.Set(x, y, c)
		}
	}
	var n [3]byte
	rand.Read(n[:])
	img.Set(32, 32, color.RGBA{n[0], n[1], n[2], 255})
	var buf bytes.Buffer
	png.Encode(&buf, img)
	return buf.Bytes()
}

// FaceColor is the colour of the person whose template is t.
func FaceColor(t []byte) color.RGBA { return color.RGBA{t[0], t[1], t[2], 255} }

// Calls is how many selfies Probe analysed.
func (f *Face) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

// Revoked reports whether the entry of index was revoked.
func (s *Status) Revoked(index int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.revoked[index]
}
