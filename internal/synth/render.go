package synth

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"math"
	"math/rand/v2"
	"sync"

	_ "image/png" // face photos

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/shenfen/shenfen/biometric/face"
)

// Point is a position in an image, in pixels.
type Point struct{ X, Y float64 }

func (p Point) dist(q Point) float64 { return math.Hypot(p.X-q.X, p.Y-q.Y) }

// Landmarks are the face points synth animates.
type Landmarks struct {
	LeftEye, RightEye, MouthLeft, MouthRight, UpperLip, LowerLip Point
}

func (l Landmarks) eyes() Point {
	return Point{(l.LeftEye.X + l.RightEye.X) / 2, (l.LeftEye.Y + l.RightEye.Y) / 2}
}

func (l Landmarks) mouth() Point {
	return Point{(l.MouthLeft.X + l.MouthRight.X + l.UpperLip.X + l.LowerLip.X) / 4,
		(l.MouthLeft.Y + l.MouthRight.Y + l.UpperLip.Y + l.LowerLip.Y) / 4}
}

// Locator finds the one face of a photo and its landmarks.
type Locator interface {
	Locate(ctx context.Context, img image.Image) (Landmarks, error)
}

// EngineLocator is shenfen's face engine as a Locator.
type EngineLocator struct{ Engine *face.Engine }

// Locate implements Locator.
func (e EngineLocator) Locate(ctx context.Context, img image.Image) (Landmarks, error) {
	f, err := e.Engine.Analyze(ctx, img)
	if err != nil {
		return Landmarks{}, fmt.Errorf("%w: %v", ErrNoFace, err)
	}
	p := func(q face.Point) Point { return Point{q.X, q.Y} }
	l := f.Landmarks
	return Landmarks{p(l.LeftEye), p(l.RightEye), p(l.MouthLeft), p(l.MouthRight), p(l.UpperLip), p(l.LowerLip)}, nil
}

// Photo is a decoded face photo with its landmarks: the material sessions
// are made of.
type Photo struct {
	Name string
	img  image.Image
	lm   Landmarks

	mu     sync.Mutex
	scenes map[[2]int]*scene
}

// LoadPhoto decodes a photo (JPEG or PNG) and locates its face.
func LoadPhoto(ctx context.Context, loc Locator, name string, b []byte) (*Photo, error) {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("synth: decode %s: %w", name, err)
	}
	lm, err := loc.Locate(ctx, img)
	if err != nil {
		return nil, fmt.Errorf("synth: %s: %w", name, err)
	}
	return &Photo{Name: name, img: img, lm: lm, scenes: map[[2]int]*scene{}}, nil
}

// scene is the photo framed as a phone's front camera frames a face at
// w x h: the face centred and filling about half the frame's height.
type scene struct {
	base *image.RGBA
	lm   Landmarks
	mask []float32 // how much of the screen's light reaches each pixel (face 1, background less)
	mw   float64   // mouth width, pixels
	bg   color.RGBA
}

func (p *Photo) scene(w, h int) *scene {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s, ok := p.scenes[[2]int{w, h}]; ok {
		return s
	}
	eyes, mouth := p.lm.eyes(), p.lm.mouth()
	em := eyes.dist(mouth)
	// The crop: eyes to mouth is a fifth of the frame's height.
	ch := 5 * em
	cx, cy := (eyes.X+mouth.X)/2, (eyes.Y+mouth.Y)/2-0.1*em
	k := float64(h) / ch
	base := image.NewRGBA(image.Rect(0, 0, w, h))
	bg := meanColor(p.img)
	draw.Draw(base, base.Bounds(), &image.Uniform{bg}, image.Point{}, draw.Src)
	// Source point (x, y) lands at ((x-cx)*k + w/2, (y-cy)*k + h/2).
	m := f64.Aff3{k, 0, float64(w)/2 - cx*k, 0, k, float64(h)/2 - cy*k}
	xdraw.CatmullRom.Transform(base, m, p.img, p.img.Bounds(), xdraw.Over, nil)
	tr := func(q Point) Point { return Point{(q.X-cx)*k + float64(w)/2, (q.Y-cy)*k + float64(h)/2} }
	l := p.lm
	lm := Landmarks{tr(l.LeftEye), tr(l.RightEye), tr(l.MouthLeft), tr(l.MouthRight), tr(l.UpperLip), tr(l.LowerLip)}
	s := &scene{base: base, lm: lm, mw: lm.MouthLeft.dist(lm.MouthRight), bg: bg}
	// The lit face: an ellipse around the face, its edge soft; the
	// background, farther from the screen, gets a quarter of the light.
	ed := lm.LeftEye.dist(lm.RightEye)
	fc := Point{(lm.eyes().X + lm.mouth().X) / 2, (lm.eyes().Y+lm.mouth().Y)/2 - 0.1*ed}
	rx, ry := 1.25*ed, 1.8*ed
	s.mask = make([]float32, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			dx, dy := (float64(x)-fc.X)/rx, (float64(y)-fc.Y)/ry
			r := math.Sqrt(dx*dx + dy*dy)
			v := 0.25
			if r < 1 {
				v = 1
			} else if r < 1.4 {
				v = 1 - 0.75*(r-1)/0.4
			}
			s.mask[y*w+x] = float32(v)
		}
	}
	p.scenes[[2]int{w, h}] = s
	return s
}

func meanColor(img image.Image) color.RGBA {
	b := img.Bounds()
	var r, g, bl, n float64
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			cr, cg, cb, _ := img.At(x, y).RGBA()
			r, g, bl, n = r+float64(cr>>8), g+float64(cg>>8), bl+float64(cb>>8), n+1
		}
	}
	return color.RGBA{uint8(r / n), uint8(g / n), uint8(bl / n), 255}
}

// pose is how one frame shows the scene.
type pose struct {
	open       float64    // jaw opening, in mouth widths
	lit        bool       // the screen lights the face
	light      [3]float64 // the screen's colour reaching the face (0..1 a channel)
	dx, dy     float64    // shift, pixels
	scale, rot float64    // scale (1 = none) and rotation (degrees) about the frame's centre
	noise      float64    // camera noise, standard deviation in 8-bit levels
	gain       float64    // exposure (1 = none)
}

// Screen light strength: at full white the lit skin is this much brighter
// than under the room's light alone, which the camera's exposure (lower
// while the screen is bright) brings down by dim.
const (
	screenLight = 0.5
	dim         = 0.8
)

// render draws the scene in pose p.
func (s *scene) render(p pose, rng Rand) *image.RGBA {
	img := s.base
	if p.open > 0 {
		img = openJaw(img, s.lm, p.open*s.mw)
	} else {
		img = clone(img)
	}
	b := img.Bounds()
	w := b.Dx()
	gain := p.gain
	if gain == 0 {
		gain = 1
	}
	for y := 0; y < b.Dy(); y++ {
		row := img.Pix[y*img.Stride : y*img.Stride+4*w]
		for x := 0; x < w; x++ {
			px := row[4*x : 4*x+3]
			for c := 0; c < 3; c++ {
				v := float64(px[c]) * gain
				if p.lit {
					v *= dim * (1 + screenLight*float64(s.mask[y*w+x])*p.light[c])
				}
				px[c] = clamp8(v)
			}
		}
	}
	if p.dx != 0 || p.dy != 0 || p.rot != 0 || (p.scale != 0 && p.scale != 1) {
		img = transform(img, p.dx, p.dy, p.scale, p.rot, s.bg)
	}
	if p.noise > 0 {
		// Normal deviates from a table, read from a random place with a
		// random odd stride: independent enough for camera noise, and
		// cheap.
		n := normals()
		at, stride := rng.IntN(len(n)), 1+2*rng.IntN(500)
		for i := 0; i < len(img.Pix); i += 4 {
			for c := 0; c < 3; c++ {
				at = (at + stride) & (len(n) - 1)
				img.Pix[i+c] = clamp8(float64(img.Pix[i+c]) + p.noise*float64(n[at]))
			}
		}
	}
	return img
}

var normals = sync.OnceValue(func() []float32 {
	rng := rand.New(rand.NewPCG(1, 2))
	n := make([]float32, 1<<16)
	for i := range n {
		n[i] = float32(rng.NormFloat64())
	}
	return n
})

func clamp8(v float64) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v + 0.5)
}

func clone(img *image.RGBA) *image.RGBA {
	out := image.NewRGBA(img.Bounds())
	copy(out.Pix, img.Pix)
	return out
}

// transform renders img as seen by a camera that moved a little: shifted
// by (dx, dy), scaled by s, rotated by deg degrees about the centre.
func transform(img *image.RGBA, dx, dy, s, deg float64, bg color.RGBA) *image.RGBA {
	if s == 0 {
		s = 1
	}
	b := img.Bounds()
	out := image.NewRGBA(b)
	draw.Draw(out, b, &image.Uniform{bg}, image.Point{}, draw.Src)
	cx, cy := float64(b.Dx())/2, float64(b.Dy())/2
	a := deg * math.Pi / 180
	c, sn := s*math.Cos(a), s*math.Sin(a)
	m := f64.Aff3{c, -sn, cx + dx - c*cx + sn*cy, sn, c, cy + dy - sn*cx - c*cy}
	xdraw.ApproxBiLinear.Transform(out, m, img, b, xdraw.Over, nil)
	return out
}

// openJaw returns img with the chin region below the mouth pulled down by
// shift pixels (fading out towards the region's edge) and the gap between
// the lips dark, as an open mouth.
func openJaw(img *image.RGBA, lm Landmarks, shift float64) *image.RGBA {
	out := clone(img)
	mc := lm.mouth()
	mw := lm.MouthLeft.dist(lm.MouthRight)
	b := img.Bounds()
	for y := int(mc.Y); y < b.Max.Y; y++ {
		for x := max(b.Min.X, int(mc.X-mw)); x < min(b.Max.X, int(mc.X+mw)+1); x++ {
			dx := (float64(x) - mc.X) / (0.85 * mw)
			dy := (float64(y) - mc.Y) / (1.6 * mw)
			r := dx*dx + dy*dy
			if r >= 1 {
				continue
			}
			k := shift * (1 - r) * (1 - r)
			sy := float64(y) - k
			var c color.RGBA
			if sy < mc.Y {
				// Inside the open mouth: dark, a little lighter at the
				// corners.
				v := 30 + 40*math.Abs(dx)
				c = color.RGBA{uint8(v + 15), uint8(v * 0.6), uint8(v * 0.6), 255}
			} else {
				c = img.RGBAAt(x, int(sy))
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

// encodeJPEG encodes img at quality q, lowering it until the file is at
// most limit bytes.
func encodeJPEG(img image.Image, q, limit int) ([]byte, error) {
	for ; ; q -= 8 {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: q}); err != nil {
			return nil, fmt.Errorf("synth: jpeg: %w", err)
		}
		if buf.Len() <= limit || q <= 40 {
			return buf.Bytes(), nil
		}
	}
}
