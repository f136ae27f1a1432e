package face

import (
	"image"
	"image/draw"
	"testing"
)

// TestToRGBFastPaths: the direct YCbCr and Gray conversions give the same
// values as the general path through draw.Draw.
func TestToRGBFastPaths(t *testing.T) {
	img := photo(t, "obama.jpg")
	if _, ok := img.(*image.YCbCr); !ok {
		t.Fatalf("obama.jpg decodes to %T, want *image.YCbCr", img)
	}
	gray := image.NewGray(img.Bounds())
	draw.Draw(gray, gray.Bounds(), img, img.Bounds().Min, draw.Src)
	for name, m := range map[string]image.Image{"ycbcr": img, "gray": gray} {
		r := image.Rect(100, 50, 400, 300).Add(m.Bounds().Min)
		rgba := image.NewRGBA(m.Bounds())
		draw.Draw(rgba, rgba.Bounds(), m, m.Bounds().Min, draw.Src)
		fast, slow := toRGB(m, r), toRGB(rgba, r)
		for i := range fast.d {
			if fast.d[i] != slow.d[i] {
				t.Fatalf("%s: value %d is %v, want %v", name, i, fast.d[i], slow.d[i])
			}
		}
	}
}

// TestNetInputSquare: a 150x150 crop passes through unchanged; a
// non-square crop is centred with zero padding as face-api pads it.
func TestNetInputSquare(t *testing.T) {
	c := rgbImage{w: 150, h: 150, d: make([]float32, 150*150*3)}
	for i := range c.d {
		c.d[i] = float32(i % 256)
	}
	in := netInput(c)
	for i := range in {
		if in[i] != c.d[i] {
			t.Fatalf("value %d changed", i)
		}
	}
	// 150 wide, 145 high: diff 5, Math.round(2.5) = 3 rows after, 2 before.
	c = rgbImage{w: 150, h: 145, d: make([]float32, 150*145*3)}
	for i := range c.d {
		c.d[i] = 200
	}
	in = netInput(c)
	row := func(y int) float32 { return in[(y*150+75)*3] }
	if row(0) != 0 || row(1) != 0 || row(2) != 200 || row(146) != 200 || row(147) != 0 || row(149) != 0 {
		t.Fatalf("padding rows: %v %v %v %v %v %v", row(0), row(1), row(2), row(146), row(147), row(149))
	}
}
