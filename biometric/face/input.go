package face

import (
	"image"
	"image/color"
	"image/draw"
	"math"
)

// rgbImage is an image as float32 RGB values in [0, 255], HWC layout: the
// form tfjs works on after decoding.
type rgbImage struct {
	w, h int
	d    []float32
}

// toRGB converts the part r of img to rgbImage. Colours are read through
// the image's colour model as 8-bit RGB; JPEG's YCbCr and the RGBA forms
// are read directly (the common cases, and the costly ones to convert
// pixel by pixel through the colour interface).
func toRGB(img image.Image, r image.Rectangle) rgbImage {
	r = r.Intersect(img.Bounds())
	out := rgbImage{w: r.Dx(), h: r.Dy(), d: make([]float32, r.Dx()*r.Dy()*3)}
	i := 0
	switch m := img.(type) {
	case *image.YCbCr:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				cr, cg, cb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				out.d[i], out.d[i+1], out.d[i+2] = float32(cr), float32(cg), float32(cb)
				i += 3
			}
		}
		return out
	case *image.Gray:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := m.Pix[m.PixOffset(r.Min.X, y):]
			for x := 0; x < r.Dx(); x++ {
				v := float32(row[x])
				out.d[i], out.d[i+1], out.d[i+2] = v, v, v
				i += 3
			}
		}
		return out
	}
	var src *image.RGBA
	if m, ok := img.(*image.RGBA); ok {
		src = m
	} else {
		src = image.NewRGBA(r)
		draw.Draw(src, r, img, r.Min, draw.Src)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := src.Pix[src.PixOffset(r.Min.X, y):]
		for x := 0; x < r.Dx(); x++ {
			out.d[i] = float32(row[4*x])
			out.d[i+1] = float32(row[4*x+1])
			out.d[i+2] = float32(row[4*x+2])
			i += 3
		}
	}
	return out
}

// netInput turns a face crop into the 150x150 network input as face-api's
// NetInput.toBatchTensor(150, true) does for a tensor: pad the shorter side
// with zeros to a square with the crop centred (Math.round(diff/2) rows or
// columns after it, the rest before it), then tf.image.resizeBilinear
// without corner alignment or half-pixel centres.
func netInput(c rgbImage) []float32 {
	side := max(c.w, c.h)
	offX, offY := 0, 0
	if c.w < side {
		diff := side - c.w
		offX = diff - int(math.Floor(float64(diff)*0.5+0.5))
	}
	if c.h < side {
		diff := side - c.h
		offY = diff - int(math.Floor(float64(diff)*0.5+0.5))
	}
	// Pixel of the padded square, zero outside the crop.
	at := func(x, y, ch int) float64 {
		x -= offX
		y -= offY
		if x < 0 || y < 0 || x >= c.w || y >= c.h {
			return 0
		}
		return float64(c.d[(y*c.w+x)*3+ch])
	}
	out := make([]float32, InputSize*InputSize*3)
	if side == InputSize {
		for y := 0; y < side; y++ {
			for x := 0; x < side; x++ {
				for ch := 0; ch < 3; ch++ {
					out[(y*side+x)*3+ch] = float32(at(x, y, ch))
				}
			}
		}
		return out
	}
	ratio := float64(side) / float64(InputSize)
	i := 0
	for r := 0; r < InputSize; r++ {
		fr := ratio * float64(r)
		r0 := max(0, int(math.Floor(fr)))
		rf := fr - float64(r0)
		r1 := min(side-1, int(math.Ceil(fr)))
		for col := 0; col < InputSize; col++ {
			fc := ratio * float64(col)
			c0 := max(0, int(math.Floor(fc)))
			cf := fc - float64(c0)
			c1 := min(side-1, int(math.Ceil(fc)))
			for ch := 0; ch < 3; ch++ {
				tl, tr := at(c0, r0, ch), at(c1, r0, ch)
				bl, br := at(c0, r1, ch), at(c1, r1, ch)
				top := tl + (tr-tl)*cf
				bot := bl + (br-bl)*cf
				out[i] = float32(top + (bot-top)*rf)
				i++
			}
		}
	}
	return out
}
