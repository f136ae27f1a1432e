package face

import (
	"errors"
	"slices"
	"testing"

	pigo "github.com/esimov/pigo/core"
)

// TestFaceCascadeMatchesPigo: our face-finder runner gives exactly pigo's
// RunCascade detections (windows, sizes and float32 scores) on real photos
// and at several size ranges.
func TestFaceCascadeMatchesPigo(t *testing.T) {
	e := testEngine(t)
	for _, name := range []string{"obama.jpg", "obama_and_biden.jpg", "alex-lacamoire.png"} {
		g, _ := shrink(luminance(photo(t, name)), detectSide)
		side := min(g.w, g.h)
		for _, minSize := range []int{24, max(24, side/12), side / 3} {
			cp := pigo.CascadeParams{MinSize: minSize, MaxSize: side, ShiftFactor: shiftFactor, ScaleFactor: scaleFactor,
				ImageParams: pigo.ImageParams{Pixels: g.pix, Rows: g.h, Cols: g.w, Dim: g.w}}
			want := e.det.face.RunCascade(cp, 0)
			got := e.det.finder.scan(g, minSize, side, shiftFactor, scaleFactor)
			if len(want) == 0 {
				t.Fatalf("%s from %d: pigo found nothing", name, minSize)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s from %d: %d detections, pigo %d (or they differ)", name, minSize, len(got), len(want))
			}
		}
	}
}

func TestParseFaceCascadeRejectsMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"header":    cascadeFace[:16],
		"truncated": cascadeFace[:len(cascadeFace)-1],
		"trailing":  append(append([]byte{}, cascadeFace...), 0),
	} {
		if _, err := parseFaceCascade(b); !errors.Is(err, errCascade) {
			t.Errorf("%s: err = %v, want errCascade", name, err)
		}
	}
}

func BenchmarkFaceCascade(b *testing.B) {
	e := testEngine(b)
	g, _ := shrink(luminance(photo(b, "obama2.jpg")), detectSide)
	side := min(g.w, g.h)
	b.Run("ours", func(b *testing.B) {
		for b.Loop() {
			e.det.finder.scan(g, max(24, side/12), side, shiftFactor, scaleFactor)
		}
	})
	b.Run("pigo", func(b *testing.B) {
		cp := pigo.CascadeParams{MinSize: max(24, side/12), MaxSize: side, ShiftFactor: shiftFactor, ScaleFactor: scaleFactor,
			ImageParams: pigo.ImageParams{Pixels: g.pix, Rows: g.h, Cols: g.w, Dim: g.w}}
		for b.Loop() {
			e.det.face.RunCascade(cp, 0)
		}
	})
}
