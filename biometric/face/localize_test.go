package face

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestParseLocalizerRejectsMalformed(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":     nil,
		"header":    cascadePupil[:16],
		"truncated": cascadePupil[:len(cascadePupil)-1],
		"trailing":  append(append([]byte{}, cascadeLowerLip...), 0),
	} {
		if _, err := parseLocalizer(b); !errors.Is(err, errCascade) {
			t.Errorf("%s: err = %v, want errCascade", name, err)
		}
	}
	for _, b := range [][]byte{cascadePupil, cascadeMouthCorner, cascadeUpperLip, cascadeLowerLip} {
		if _, err := parseLocalizer(b); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAnalyzeDeterministic: the landmark search uses fixed perturbations, so
// the same photo gives the same landmarks and descriptor every time (with
// pigo's random ones the descriptor moved by up to a few hundredths).
func TestAnalyzeDeterministic(t *testing.T) {
	e := testEngine(t)
	img := photo(t, "alex-lacamoire.png")
	var first Face
	for i := range 3 {
		f, err := e.Analyze(context.Background(), img)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = f
			continue
		}
		if f.Landmarks != first.Landmarks || f.Descriptor != first.Descriptor {
			t.Fatalf("run %d differs: landmarks %+v vs %+v, distance %g", i, f.Landmarks, first.Landmarks, Distance(f.Descriptor, first.Descriptor))
		}
	}
}

// runOne is the plain localiser run that runLanes interleaves: it refines one estimate (row, col at scale s, in pixels of g) through
// all stages. mirror reflects the trees left to right, for the landmark on
// the other side of the face.
func (l *localizer) runOne(g grayImage, row, col, s float32, mirror bool) (float32, float32) {
	leaves := 1 << l.depth
	nodes := leaves - 1
	sign := int32(1)
	if mirror {
		sign = -1
	}
	tree := 0
	for range l.stages {
		var dr, dc float32
		r, c, si := int32(row), int32(col), int32(math.Round(float64(s)))
		for range l.trees {
			code := l.codes[tree*4*nodes:]
			idx := 0
			for range l.depth {
				k := 4 * idx
				r1 := clamp((256*r+int32(code[k])*si)>>8, g.h)
				c1 := clamp((256*c+sign*int32(code[k+1])*si)>>8, g.w)
				r2 := clamp((256*r+int32(code[k+2])*si)>>8, g.h)
				c2 := clamp((256*c+sign*int32(code[k+3])*si)>>8, g.w)
				idx = 2 * idx
				if g.pix[int(r1)*g.w+int(c1)] > g.pix[int(r2)*g.w+int(c2)] {
					idx += 2
				} else {
					idx++
				}
			}
			leaf := tree*2*leaves + 2*(idx-nodes)
			dr += l.preds[leaf]
			dc += float32(sign) * l.preds[leaf+1]
			tree++
		}
		row += dr * s
		col += dc * s
		s *= l.scaleMul
	}
	return row, col
}

// TestRunLanesMatchesRunOne: the interleaved localiser run gives exactly
// the floats of one run per start, mirrored or not, on a real photo (with
// starts near the image border too, where pixel positions are clamped).
func TestRunLanesMatchesRunOne(t *testing.T) {
	g, _ := shrink(luminance(photo(t, "obama.jpg")), detectSide)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, l := range []*localizer{mustLocalizer(t, cascadePupil), mustLocalizer(t, cascadeMouthCorner), mustLocalizer(t, cascadeUpperLip), mustLocalizer(t, cascadeLowerLip)} {
		for range 50 {
			var r, c, s [startLanes]float32
			for j := range startLanes {
				r[j], c[j], s[j] = rng.Float32()*float32(g.h), rng.Float32()*float32(g.w), 5+rng.Float32()*150
			}
			for _, mirror := range []bool{false, true} {
				gr, gc := l.runLanes(g, r, c, s, mirror)
				for j := range startLanes {
					wr, wc := l.runOne(g, r[j], c[j], s[j], mirror)
					if gr[j] != wr || gc[j] != wc {
						t.Fatalf("start %v,%v at %v (mirror %v): %v,%v, one run %v,%v", r[j], c[j], s[j], mirror, gr[j], gc[j], wr, wc)
					}
				}
			}
		}
	}
}

func mustLocalizer(t *testing.T, b []byte) *localizer {
	t.Helper()
	l, err := parseLocalizer(b)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func clamp(v int32, n int) int32 {
	return max(0, min(int32(n-1), v))
}
