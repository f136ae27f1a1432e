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
	"fmt"
	"image"
	"image/color"
	"image/png"
	"strings"
	"sync"

	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
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
	return proofing.Probe{Template: []byte{r, g, b}, Quality: 1}, nil
}

// Match implements proofing.FaceChecker.
func (f *Face) Match(p proofing.Probe, template []byte) (float64, bool, error) {
	if bytes.Equal(p.Template, template) {
		return 0.2, true, nil
	}
	return 0.9, false, nil
}

// Liveness implements proofing.FaceChecker.
func (f *Face) Liveness(_ context.Context, frames []image.Image, p proofing.Probe) (proofing.LivenessResult, error) {
	mouths := map[color.Color]bool{}
	for _, fr := range frames {
		r, g, b := person(fr)
		if !bytes.Equal([]byte{r, g, b}, p.Template) {
			return proofing.LivenessResult{Score: 0}, nil
		}
		b2 := fr.Bounds()
		mouths[color.RGBAModel.Convert(fr.At(b2.Max.X-1, b2.Max.Y-1))] = true
	}
	if len(mouths) < 2 {
		return proofing.LivenessResult{Score: 0.1}, nil
	}
	return proofing.LivenessResult{Live: true, Score: 0.9}, nil
}

// Version implements proofing.FaceChecker.
func (f *Face) Version() string { return "fake-face" }

// Speech is a proofing.DigitRecognizer double.
type Speech struct{}

// Recognize implements proofing.DigitRecognizer.
func (Speech) Recognize(_ context.Context, wav []byte) (proofing.Spoken, error) {
	s := string(wav)
	switch {
	case strings.HasPrefix(s, "said:"):
		return proofing.Spoken{Digits: strings.TrimPrefix(s, "said:"), Confidence: 0.95}, nil
	case s == "broken":
		return proofing.Spoken{}, fmt.Errorf("proofingtest: %w", proofing.ErrMedia)
	}
	return proofing.Spoken{Rejected: true, Confidence: 0.1}, nil
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
	mu       sync.Mutex
	next     int
	revoked  map[int]bool
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
	if s.OnRevoke != nil {
		s.OnRevoke(ref)
	}
	return nil
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
