package e2e

import (
	"bytes"
	"image"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// A desk camera looking at a phone screen, for the scan test
// (qrscan_test.go): the phone's screenshot is placed in a camera frame
// by a perspective projection (distance, in-plane rotation, tilt), seen
// through a lens (3×3 supersampling of each camera pixel, then a Gaussian
// blur), with the screen's moiré against the sensor (sinusoidal bands),
// a specular glare spot, sensor noise and the stream's JPEG compression.

// degradation is one level of the camera's trouble.
type degradation struct {
	Name string
	// ModulePx is the size of one QR module in camera pixels (distance).
	ModulePx float64
	// Rotate and Tilt are the largest in-plane rotation and out-of-plane
	// tilt, in degrees (each trial draws within ±).
	Rotate, Tilt float64
	// Blur is the Gaussian sigma of the lens, in camera pixels.
	Blur float64
	// Moire is the depth of the interference bands (0..1).
	Moire float64
	// Glare is the strength of the specular spot (0..1: how far its centre
	// is pushed towards white).
	Glare float64
	// Noise is the sensor noise sigma (grey levels of 255).
	Noise float64
	// JPEG is the stream's JPEG quality.
	JPEG int
}

// levels are the degradation levels the scan test and docs/benchmarks.md
// report, from a steady hand at a good webcam to a poor one.
var levels = []degradation{
	{Name: "none", ModulePx: 3.5, JPEG: 95},
	{Name: "mild", ModulePx: 3.5, Rotate: 5, Tilt: 10, Blur: 0.6, Moire: 0.05, Glare: 0.2, Noise: 2, JPEG: 85},
	{Name: "moderate", ModulePx: 3.0, Rotate: 15, Tilt: 20, Blur: 0.9, Moire: 0.10, Glare: 0.35, Noise: 4, JPEG: 75},
	{Name: "strong", ModulePx: 2.4, Rotate: 30, Tilt: 30, Blur: 1.3, Moire: 0.15, Glare: 0.5, Noise: 6, JPEG: 60},
}

// gray is a float grey image.
type gray struct {
	w, h int
	p    []float64
}

func newGray(w, h int) *gray { return &gray{w, h, make([]float64, w*h)} }

func toGray(img image.Image) *gray {
	b := img.Bounds()
	g := newGray(b.Dx(), b.Dy())
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			r, gg, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			g.p[y*g.w+x] = (0.299*float64(r) + 0.587*float64(gg) + 0.114*float64(bb)) / 257
		}
	}
	return g
}

// at samples g bilinearly; outside the screen it is the phone's dark bezel.
func (g *gray) at(x, y float64) float64 {
	x -= 0.5
	y -= 0.5
	if x < -1 || y < -1 || x > float64(g.w) || y > float64(g.h) {
		return 25
	}
	x0, y0 := int(math.Floor(x)), int(math.Floor(y))
	fx, fy := x-float64(x0), y-float64(y0)
	px := func(xi, yi int) float64 {
		xi = min(max(xi, 0), g.w-1)
		yi = min(max(yi, 0), g.h-1)
		return g.p[yi*g.w+xi]
	}
	a := px(x0, y0)*(1-fx) + px(x0+1, y0)*fx
	b := px(x0, y0+1)*(1-fx) + px(x0+1, y0+1)*fx
	return a*(1-fy) + b*fy
}

func (g *gray) image() *image.Gray {
	img := image.NewGray(image.Rect(0, 0, g.w, g.h))
	for i, v := range g.p {
		img.Pix[i] = uint8(math.Round(min(max(v, 0), 255)))
	}
	return img
}

// homography maps (x, y) by the 3×3 matrix h.
type homography [9]float64

func (h homography) apply(x, y float64) (float64, float64) {
	w := h[6]*x + h[7]*y + h[8]
	return (h[0]*x + h[1]*y + h[2]) / w, (h[3]*x + h[4]*y + h[5]) / w
}

// fit is the homography taking the four points src to dst.
func fit(src, dst [4][2]float64) homography {
	var a [8][9]float64
	for i := 0; i < 4; i++ {
		x, y, u, v := src[i][0], src[i][1], dst[i][0], dst[i][1]
		a[2*i] = [9]float64{x, y, 1, 0, 0, 0, -u * x, -u * y, u}
		a[2*i+1] = [9]float64{0, 0, 0, x, y, 1, -v * x, -v * y, v}
	}
	for c := 0; c < 8; c++ { // Gauss-Jordan with partial pivoting
		p := c
		for r := c + 1; r < 8; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := 0; r < 8; r++ {
			if r == c {
				continue
			}
			f := a[r][c] / a[c][c]
			for k := c; k < 9; k++ {
				a[r][k] -= f * a[c][k]
			}
		}
	}
	var h homography
	for i := 0; i < 8; i++ {
		h[i] = a[i][8] / a[i][i]
	}
	h[8] = 1
	return h
}

// shot is one camera frame of the phone's screen.
type shot struct {
	screen *gray
	// qrX, qrY, qrW: the code's centre and width (quiet zone included) in
	// screen pixels; modules counts its modules, quiet zone included.
	qrX, qrY, qrW float64
	modules       int
}

// camera renders the screen as a w×h camera frame under level d, with the
// trial's random draws from r.
func (s shot) camera(d degradation, w, h int, r *rand.Rand) *image.Gray {
	uni := func(m float64) float64 { return (r.Float64()*2 - 1) * m }
	rad := math.Pi / 180
	scale := d.ModulePx / (s.qrW / float64(s.modules)) // camera px per screen px
	rot, ax, ay := uni(d.Rotate)*rad, uni(d.Tilt)*rad, uni(d.Tilt)*rad
	f := 1.2 * float64(w) // focal length in pixels
	// The clerk aims at the code: it is wholly in the frame, not
	// always in the middle.
	size := float64(s.modules) * d.ModulePx * (math.Abs(math.Cos(rot)) + math.Abs(math.Sin(rot)))
	cx := float64(w)/2 + uni(max(0, (float64(w)-size)/2-8))
	cy := float64(h)/2 + uni(max(0, (float64(h)-size)/2-8))
	// forward: screen point -> camera point.
	fwd := func(x, y float64) [2]float64 {
		u, v := (x-s.qrX)*scale, (y-s.qrY)*scale
		u, v = u*math.Cos(rot)-v*math.Sin(rot), u*math.Sin(rot)+v*math.Cos(rot)
		// tilt about the x axis, then the y axis; the plane sits at depth f.
		y1, z1 := v*math.Cos(ax), v*math.Sin(ax)
		x2, z2 := u*math.Cos(ay)+z1*math.Sin(ay), -u*math.Sin(ay)+z1*math.Cos(ay)
		z := f + z2
		return [2]float64{cx + f*x2/z, cy + f*y1/z}
	}
	sw, sh := float64(s.screen.w), float64(s.screen.h)
	src := [4][2]float64{{0, 0}, {sw, 0}, {sw, sh}, {0, sh}}
	var dst [4][2]float64
	for i, p := range src {
		dst[i] = fwd(p[0], p[1])
	}
	back := fit(dst, src)
	out := newGray(w, h)
	// The phone lies on a desk: what is outside the screen (and the bezel)
	// is a mid-grey surface with a gradient.
	inside := func(x, y float64) bool {
		return x >= -8 && y >= -8 && x <= sw+8 && y <= sh+8
	}
	const ss = 3
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var sum float64
			for j := 0; j < ss; j++ {
				for i := 0; i < ss; i++ {
					u, v := back.apply(float64(x)+(float64(i)+0.5)/ss, float64(y)+(float64(j)+0.5)/ss)
					if inside(u, v) {
						sum += s.screen.at(u, v)
					} else {
						sum += 110 + 30*float64(y)/float64(h)
					}
				}
			}
			out.p[y*w+x] = sum / (ss * ss)
		}
	}
	// The screen's light on the sensor: moiré bands (the pixel grid of
	// the screen beating against the sensor's), then glare.
	if d.Moire > 0 {
		lambda := 6 + r.Float64()*14
		th := r.Float64() * math.Pi
		c, sn := math.Cos(th), math.Sin(th)
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				b := 0.5 + 0.5*math.Sin(2*math.Pi*(float64(x)*c+float64(y)*sn)/lambda)
				out.p[y*w+x] *= 1 - d.Moire*b
			}
		}
	}
	if d.Glare > 0 {
		qw := s.qrW * scale
		gx, gy := cx+uni(0.3*qw), cy+uni(0.3*qw)
		sig := qw * (0.12 + 0.1*r.Float64())
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				dx, dy := float64(x)-gx, float64(y)-gy
				g := d.Glare * math.Exp(-(dx*dx+dy*dy)/(2*sig*sig))
				out.p[y*w+x] += g * (255 - out.p[y*w+x])
			}
		}
	}
	if d.Blur > 0 {
		out = blur(out, d.Blur)
	}
	if d.Noise > 0 {
		for i := range out.p {
			out.p[i] += r.NormFloat64() * d.Noise
		}
	}
	img := out.image()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: d.JPEG}); err != nil {
		return img
	}
	dec, err := jpeg.Decode(&buf)
	if err != nil {
		return img
	}
	return toGray(dec).image()
}

// blur is a separable Gaussian blur of sigma pixels.
func blur(g *gray, sigma float64) *gray {
	rad := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*rad+1)
	var sum float64
	for i := range k {
		x := float64(i - rad)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	tmp, out := newGray(g.w, g.h), newGray(g.w, g.h)
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			var s float64
			for i, kv := range k {
				xi := min(max(x+i-rad, 0), g.w-1)
				s += kv * g.p[y*g.w+xi]
			}
			tmp.p[y*g.w+x] = s
		}
	}
	for y := 0; y < g.h; y++ {
		for x := 0; x < g.w; x++ {
			var s float64
			for i, kv := range k {
				yi := min(max(y+i-rad, 0), g.h-1)
				s += kv * tmp.p[yi*g.w+x]
			}
			out.p[y*g.w+x] = s
		}
	}
	return out
}
