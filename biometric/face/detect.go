package face

import (
	_ "embed"
	"fmt"
	"image"
	"math"
	"sort"

	pigo "github.com/esimov/pigo/core"
)

// The pigo cascades (MIT, see cascade/LICENSE), embedded so the binary needs
// no data files beside the descriptor weights.
var (
	//go:embed cascade/facefinder
	cascadeFace []byte
	//go:embed cascade/puploc
	cascadePupil []byte
	//go:embed cascade/lp84
	cascadeMouthCorner []byte
	//go:embed cascade/lp82
	cascadeUpperLip []byte
	//go:embed cascade/lp81
	cascadeLowerLip []byte
)

// Detector settings.
const (
	// detectSide: images are scaled down so their longer side is at most this
	// many pixels before detection (landmarks are found on the same image).
	detectSide = 640
	// nestedOverlap: a detection whose box overlaps a better one by this
	// share of the smaller box is the same face.
	nestedOverlap = 0.5
	// relativeScore: a detection scoring below this share of the best one
	// is dropped. On the shared photos false detections score under 0.1 of
	// the true face; the weaker of two real faces at 0.43.
	relativeScore = 0.15
	// clusterIoU merges overlapping detections of one face.
	clusterIoU = 0.2
	// shiftFactor and scaleFactor: detection windows lie a tenth of their
	// size apart, and each size is 1.1 times the previous one.
	shiftFactor, scaleFactor = 0.1, 1.1
	// perturbs is the number of perturbed starts the landmark localisers
	// take the median of.
	perturbs = 63
)

// detector wraps pigo's face cascade and the landmark localisers (our own
// deterministic runner of pigo's localiser cascades, see localizer).
type detector struct {
	face                       *pigo.Pigo // for its clustering of detections
	finder                     *faceCascade
	pupil                      *localizer
	corner, upperLip, lowerLip *localizer
}

func newDetector() (*detector, error) {
	d := &detector{}
	var err error
	if d.face, err = pigo.NewPigo().Unpack(cascadeFace); err != nil {
		return nil, fmt.Errorf("%w: facefinder cascade: %v", ErrModel, err)
	}
	if d.finder, err = parseFaceCascade(cascadeFace); err != nil {
		return nil, fmt.Errorf("%w: facefinder cascade: %v", ErrModel, err)
	}
	for _, c := range []struct {
		dst  **localizer
		data []byte
		name string
	}{{&d.pupil, cascadePupil, "puploc"}, {&d.corner, cascadeMouthCorner, "lp84"}, {&d.upperLip, cascadeUpperLip, "lp82"}, {&d.lowerLip, cascadeLowerLip, "lp81"}} {
		if *c.dst, err = parseLocalizer(c.data); err != nil {
			return nil, fmt.Errorf("%w: %s cascade: %v", ErrModel, c.name, err)
		}
	}
	return d, nil
}

// Point is a position in image pixels.
type Point struct{ X, Y float64 }

func (p Point) dist(q Point) float64 { return math.Hypot(p.X-q.X, p.Y-q.Y) }

// Landmarks are the face points the alignment and the liveness check use,
// in the pixel coordinates of the analysed image. "Left" is the eye on the
// left of the image.
type Landmarks struct {
	LeftEye, RightEye                         Point
	MouthLeft, MouthRight, UpperLip, LowerLip Point
}

// MouthCenter is the mean of the four mouth points.
func (l Landmarks) MouthCenter() Point {
	return Point{(l.MouthLeft.X + l.MouthRight.X + l.UpperLip.X + l.LowerLip.X) / 4,
		(l.MouthLeft.Y + l.MouthRight.Y + l.UpperLip.Y + l.LowerLip.Y) / 4}
}

// MouthOpening is the lip distance over the mouth width: near 0.1-0.3 for a
// closed mouth, larger when it opens.
func (l Landmarks) MouthOpening() float64 {
	w := l.MouthLeft.dist(l.MouthRight)
	if w == 0 {
		return 0
	}
	return l.UpperLip.dist(l.LowerLip) / w
}

// detection is one face found by the detector.
type detection struct {
	box   image.Rectangle // in the analysed image's coordinates
	score float64
	lm    Landmarks
	ok    bool // landmarks found
}

// grayImage is an 8-bit luminance image.
type grayImage struct {
	w, h int
	pix  []uint8
}

// luminance returns the luminance (0.299 R + 0.587 G + 0.114 B) of img at
// full resolution, with origin 0,0. A JPEG's YCbCr image already holds it
// as its Y plane, which is copied; other images are converted.
func luminance(img image.Image) grayImage {
	b := img.Bounds()
	g := grayImage{w: b.Dx(), h: b.Dy(), pix: make([]uint8, b.Dx()*b.Dy())}
	switch m := img.(type) {
	case *image.YCbCr:
		for y := 0; y < g.h; y++ {
			off := m.YOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], m.Y[off:off+g.w])
		}
		return g
	case *image.Gray:
		for y := 0; y < g.h; y++ {
			off := m.PixOffset(b.Min.X, b.Min.Y+y)
			copy(g.pix[y*g.w:(y+1)*g.w], m.Pix[off:off+g.w])
		}
		return g
	}
	// Row by row, so the colour conversion of toRGB stays in one place.
	for y := 0; y < g.h; y++ {
		row := toRGB(img, image.Rect(b.Min.X, b.Min.Y+y, b.Max.X, b.Min.Y+y+1))
		for x := 0; x < g.w; x++ {
			p := row.d[3*x:]
			g.pix[y*g.w+x] = uint8(0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2]) + 0.5)
		}
	}
	return g
}

// shrink scales g down by the smallest whole factor that brings its longer
// side to at most maxSide (box filter), and returns the factor.
func shrink(g grayImage, maxSide int) (grayImage, float64) {
	f := 1
	for max(g.w, g.h)/f > maxSide {
		f++
	}
	if f == 1 {
		return g, 1
	}
	out := grayImage{w: g.w / f, h: g.h / f}
	out.pix = make([]uint8, out.w*out.h)
	n := f * f
	for y := 0; y < out.h; y++ {
		for x := 0; x < out.w; x++ {
			s := 0
			for dy := 0; dy < f; dy++ {
				row := g.pix[(y*f+dy)*g.w+x*f:]
				for dx := 0; dx < f; dx++ {
					s += int(row[dx])
				}
			}
			out.pix[y*out.w+x] = uint8((s + n/2) / n)
		}
	}
	return out, float64(f)
}

// detect finds the faces in the full-resolution luminance full and their
// landmarks, best score first, in full's pixel coordinates. minSide, when
// above 0, is the smallest face box side (in full's pixels) searched for,
// instead of a twelfth of the shorter image side; the scan still covers the
// whole image.
func (d *detector) detect(full grayImage, minSide int) []detection {
	g, f := shrink(full, detectSide)
	side := min(g.w, g.h)
	minSize := max(24, side/12)
	if minSide > 0 {
		minSize = max(minSize, int(float64(minSide)/f))
	}
	dets := d.face.ClusterDetections(d.finder.scan(g, minSize, side, shiftFactor, scaleFactor), clusterIoU)
	var out []detection
	for _, det := range dets {
		if float64(det.Q) < MinScore {
			continue
		}
		s := float64(det.Scale)
		r := image.Rect(int((float64(det.Col)-s/2)*f), int((float64(det.Row)-s/2)*f),
			int((float64(det.Col)+s/2)*f), int((float64(det.Row)+s/2)*f))
		dt := detection{box: r, score: float64(det.Q)}
		// The localisers now and then land off the feature: retry with
		// another (fixed) set of starts until the points are plausible.
		for try := 0; try < landmarkTries && !dt.ok; try++ {
			dt.lm, dt.ok = d.landmarks(det, g, try)
			dt.ok = dt.ok && plausible(dt.lm, float64(det.Scale))
		}
		if dt.ok {
			for _, p := range []*Point{&dt.lm.LeftEye, &dt.lm.RightEye, &dt.lm.MouthLeft, &dt.lm.MouthRight, &dt.lm.UpperLip, &dt.lm.LowerLip} {
				p.X *= f
				p.Y *= f
			}
		}
		out = append(out, dt)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].score > out[j].score })
	// pigo's clustering leaves nested boxes of one face apart: drop a box
	// that mostly lies inside a better-scoring one.
	var kept []detection
	for _, d := range out {
		dup := false
		for _, k := range kept {
			in := d.box.Intersect(k.box)
			small := min(area(d.box), area(k.box))
			if small > 0 && float64(area(in)) >= nestedOverlap*float64(small) {
				dup = true
				break
			}
		}
		if !dup {
			kept = append(kept, d)
		}
	}
	// A face far weaker than the best one is a false detection (or a face
	// too faint to matter), not a second person.
	faces := kept[:0]
	for _, d := range kept {
		if d.score >= relativeScore*kept[0].score {
			faces = append(faces, d)
		}
	}
	return faces
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// landmarks localises the pupils and the mouth points of one detection
// with perturbation set try, from the start points pigo's examples use:
// the pupils at 0.185 of the face box left and right of its centre and
// 0.085 above it, searched at 0.4 of its side; the mouth points below the
// middle of the eyes by a quarter of their distance, searched at three
// times it.
func (d *detector) landmarks(det pigo.Detection, g grayImage, try int) (Landmarks, bool) {
	s := float32(det.Scale)
	row, col := float32(det.Row), float32(det.Col)
	left, okL := d.pupil.locate(g, row-0.085*s, col-0.185*s, 0.4*s, false, try)
	right, okR := d.pupil.locate(g, row-0.085*s, col+0.185*s, 0.4*s, false, try)
	if !okL || !okR {
		return Landmarks{}, false
	}
	var lm Landmarks
	lm.LeftEye, lm.RightEye = left, right
	ed := float32(left.dist(right))
	mr := float32(left.Y+right.Y)/2 + 0.25*ed
	mc := float32(left.X+right.X)/2 + 0.15*ed
	var ok [4]bool
	lm.MouthLeft, ok[0] = d.corner.locate(g, mr, mc, 3*ed, false, try)
	lm.MouthRight, ok[1] = d.corner.locate(g, mr, mc, 3*ed, true, try)
	lm.UpperLip, ok[2] = d.upperLip.locate(g, mr, mc, 3*ed, false, try)
	lm.LowerLip, ok[3] = d.lowerLip.locate(g, mr, mc, 3*ed, false, try)
	if lm.MouthLeft.X > lm.MouthRight.X {
		lm.MouthLeft, lm.MouthRight = lm.MouthRight, lm.MouthLeft
	}
	if lm.LeftEye.X > lm.RightEye.X {
		lm.LeftEye, lm.RightEye = lm.RightEye, lm.LeftEye
	}
	return lm, ok[0] && ok[1] && ok[2] && ok[3]
}

// landmarkTries bounds the landmark searches per detection.
const landmarkTries = 3

// plausible checks the geometry of the landmarks against the face box side:
// the eyes apart by 0.2 to 0.7 of it and tilted less than 30 degrees, the
// mouth centre below the eyes by 0.6 to 1.6 eye distances and within 0.4
// eye distances of the perpendicular through their middle, the mouth
// corners 0.3 to 1.3 eye distances apart.
func plausible(lm Landmarks, side float64) bool {
	ed := lm.LeftEye.dist(lm.RightEye)
	if ed < 0.2*side || ed > 0.7*side {
		return false
	}
	ux, uy := (lm.RightEye.X-lm.LeftEye.X)/ed, (lm.RightEye.Y-lm.LeftEye.Y)/ed
	if math.Abs(uy) > 0.5 {
		return false
	}
	m := lm.MouthCenter()
	mx, my := m.X-(lm.LeftEye.X+lm.RightEye.X)/2, m.Y-(lm.LeftEye.Y+lm.RightEye.Y)/2
	along, down := (mx*ux+my*uy)/ed, (-mx*uy+my*ux)/ed
	mw := lm.MouthLeft.dist(lm.MouthRight) / ed
	return down >= 0.6 && down <= 1.6 && math.Abs(along) <= 0.4 && mw >= 0.3 && mw <= 1.3
}

// alignedRect is face-api's dlib-style alignment
// (FaceLandmarks.alignDlib): a square whose side is the mean eye-to-mouth
// distance over 0.45, placed so that the centroid of the two eyes and the
// mouth sits at (0.5, 0.43) of it; face-api then clips it to the image.
func alignedRect(lm Landmarks, w, h int) image.Rectangle {
	mouth := lm.MouthCenter()
	dist := (mouth.dist(lm.LeftEye) + mouth.dist(lm.RightEye)) / 2
	size := math.Floor(dist / 0.45)
	rx := (lm.LeftEye.X + lm.RightEye.X + mouth.X) / 3
	ry := (lm.LeftEye.Y + lm.RightEye.Y + mouth.Y) / 3
	x := math.Floor(math.Max(0, rx-0.5*size))
	y := math.Floor(math.Max(0, ry-0.43*size))
	r := image.Rect(int(x), int(y), int(x+size), int(y+size))
	return r.Intersect(image.Rect(0, 0, w, h))
}
