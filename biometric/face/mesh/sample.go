package mesh

import (
	"image"
	"image/color"
	"math"
)

// plane is part of an image as float RGB values (0-255, interleaved),
// reduced by an integer factor: plane pixel (i, j) is the mean of the f x f
// image pixels from (x0 + i*f, y0 + j*f).
type plane struct {
	x0, y0, f, w, h int
	d               []float32
}

// newPlane converts the pixels of img inside r (relative to the image
// bounds' origin, clipped to the image) into a plane reduced by f, with
// fast paths for the image types image/jpeg and image/png decode to.
func newPlane(img image.Image, r image.Rectangle, f int, buf []float32) plane {
	b := img.Bounds()
	r = r.Intersect(image.Rect(0, 0, b.Dx(), b.Dy()))
	p := plane{x0: r.Min.X, y0: r.Min.Y, f: f, w: (r.Dx() + f - 1) / f, h: (r.Dy() + f - 1) / f}
	n := 3 * p.w * p.h
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	p.d = buf[:n]
	clear(p.d)
	if n == 0 {
		return p
	}
	if f == 1 {
		for y := r.Min.Y; y < r.Max.Y; y++ {
			j := y - r.Min.Y
			readRow(img, b.Min.X+r.Min.X, b.Min.Y+y, p.d[3*j*p.w:3*(j+1)*p.w])
		}
		return p
	}
	row := make([]float32, 3*r.Dx())
	counts := make([]float32, p.h)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		readRow(img, b.Min.X+r.Min.X, b.Min.Y+y, row)
		j := (y - r.Min.Y) / f
		counts[j]++
		dst := p.d[3*j*p.w : 3*(j+1)*p.w]
		for x := 0; x < r.Dx(); x++ {
			i := x / f
			dst[3*i] += row[3*x]
			dst[3*i+1] += row[3*x+1]
			dst[3*i+2] += row[3*x+2]
		}
	}
	for j := 0; j < p.h; j++ {
		for i := 0; i < p.w; i++ {
			cols := min(f, r.Dx()-i*f)
			inv := 1 / (counts[j] * float32(cols))
			o := p.d[3*(j*p.w+i) : 3*(j*p.w+i)+3]
			o[0] *= inv
			o[1] *= inv
			o[2] *= inv
		}
	}
	return p
}

// readRow reads len(row)/3 pixels of img from absolute (x, y) as RGB.
func readRow(img image.Image, x, y int, row []float32) {
	n := len(row) / 3
	switch m := img.(type) {
	case *image.YCbCr:
		yi := m.YOffset(x, y)
		for k := 0; k < n; k++ {
			ci := m.COffset(x+k, y)
			r, g, b := color.YCbCrToRGB(m.Y[yi+k], m.Cb[ci], m.Cr[ci])
			row[3*k], row[3*k+1], row[3*k+2] = float32(r), float32(g), float32(b)
		}
	case *image.RGBA:
		s := m.Pix[m.PixOffset(x, y):]
		for k := 0; k < n; k++ {
			row[3*k], row[3*k+1], row[3*k+2] = float32(s[4*k]), float32(s[4*k+1]), float32(s[4*k+2])
		}
	case *image.NRGBA:
		s := m.Pix[m.PixOffset(x, y):]
		for k := 0; k < n; k++ {
			row[3*k], row[3*k+1], row[3*k+2] = float32(s[4*k]), float32(s[4*k+1]), float32(s[4*k+2])
		}
	case *image.Gray:
		s := m.Pix[m.PixOffset(x, y):]
		for k := 0; k < n; k++ {
			v := float32(s[k])
			row[3*k], row[3*k+1], row[3*k+2] = v, v, v
		}
	default:
		for k := 0; k < n; k++ {
			r, g, b, _ := img.At(x+k, y).RGBA()
			row[3*k], row[3*k+1], row[3*k+2] = float32(r>>8), float32(g>>8), float32(b>>8)
		}
	}
}

// at is the plane's pixel (i, j), black outside.
func (p *plane) at(i, j int) (float32, float32, float32) {
	if i < 0 || j < 0 || i >= p.w || j >= p.h {
		return 0, 0, 0
	}
	s := p.d[3*(j*p.w+i) : 3*(j*p.w+i)+3]
	return s[0], s[1], s[2]
}

// roi is a square region of an image, possibly rotated: centre, side in
// pixels and the angle (radians, clockwise in image coordinates) of its x
// axis.
type roi struct {
	cx, cy, side, angle float64
}

// toImage maps a point of the region's n x n crop to image coordinates.
func (r roi) toImage(u, v float64, n int) (x, y float64) {
	s := r.side / float64(n)
	du, dv := (u-float64(n)/2)*s, (v-float64(n)/2)*s
	c, sn := math.Cos(r.angle), math.Sin(r.angle)
	return r.cx + du*c - dv*sn, r.cy + du*sn + dv*c
}

// bounds is the image rectangle the region covers, with a pixel of margin.
func (r roi) bounds() image.Rectangle {
	h := r.side / 2 * (math.Abs(math.Cos(r.angle)) + math.Abs(math.Sin(r.angle)))
	return image.Rect(int(math.Floor(r.cx-h))-1, int(math.Floor(r.cy-h))-1, int(math.Ceil(r.cx+h))+1, int(math.Ceil(r.cy+h))+1)
}

// crop samples the region of img into an n x n x 3 tensor, each value
// v*scale + shift, black outside the image. A region much larger than the
// crop is first reduced by an integer factor with box averaging, so that
// the bilinear sampling does not alias.
func crop(img image.Image, r roi, n int, scale, shift float32, dst, buf []float32) []float32 {
	f := max(1, int(r.side/float64(n)))
	p := newPlane(img, r.bounds(), f, buf)
	c, sn := math.Cos(r.angle), math.Sin(r.angle)
	s := r.side / float64(n)
	// Plane coordinates (pixel centres at integer + 0.5 removed) of crop
	// pixel (u, v): origin + u*du + v*dv.
	pf := float64(p.f)
	ox := (r.cx-float64(p.x0))/pf - 0.5
	oy := (r.cy-float64(p.y0))/pf - 0.5
	dux, duy := c*s/pf, sn*s/pf
	dvx, dvy := -sn*s/pf, c*s/pf
	half := 0.5 - float64(n)/2
	w3 := 3 * p.w
	for v := 0; v < n; v++ {
		fv := float64(v) + half
		for u := 0; u < n; u++ {
			fu := float64(u) + half
			x := ox + fu*dux + fv*dvx
			y := oy + fu*duy + fv*dvy
			x0, y0 := math.Floor(x), math.Floor(y)
			fx, fy := float32(x-x0), float32(y-y0)
			ix, iy := int(x0), int(y0)
			o := dst[(v*n+u)*3 : (v*n+u)*3+3 : (v*n+u)*3+3]
			if ix >= 0 && iy >= 0 && ix+1 < p.w && iy+1 < p.h {
				k := iy*w3 + 3*ix
				a := p.d[k : k+6 : k+6]
				b := p.d[k+w3 : k+w3+6 : k+w3+6]
				for ch := 0; ch < 3; ch++ {
					top := a[ch] + (a[ch+3]-a[ch])*fx
					bot := b[ch] + (b[ch+3]-b[ch])*fx
					o[ch] = (top+(bot-top)*fy)*scale + shift
				}
				continue
			}
			r00, g00, b00 := p.at(ix, iy)
			r10, g10, b10 := p.at(ix+1, iy)
			r01, g01, b01 := p.at(ix, iy+1)
			r11, g11, b11 := p.at(ix+1, iy+1)
			lerp := func(a, b, c, d float32) float32 {
				top := a + (b-a)*fx
				bot := c + (d-c)*fx
				return top + (bot-top)*fy
			}
			o[0] = lerp(r00, r10, r01, r11)*scale + shift
			o[1] = lerp(g00, g10, g01, g11)*scale + shift
			o[2] = lerp(b00, b10, b01, b11)*scale + shift
		}
	}
	return p.d
}
