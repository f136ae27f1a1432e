package presence

import (
	"image"
	"math/bits"
)

// DHash is a 64-bit difference hash of an image: the image's luminance
// averaged over a 9x8 grid, one bit per horizontally adjacent pair (left
// brighter than right). A re-encoded, rescaled or slightly re-lit copy of
// an image keeps nearly the same hash; another picture differs in about
// half the bits.
func DHash(img image.Image) uint64 {
	b := img.Bounds()
	if b.Empty() {
		return 0
	}
	var grid [8][9]float64
	var cnt [8][9]int
	// Sample at most about 64x64 points: enough for the grid's means.
	sx, sy := max(1, b.Dx()/72), max(1, b.Dy()/64)
	yc, isYC := img.(*image.YCbCr)
	for y := b.Min.Y; y < b.Max.Y; y += sy {
		gy := (y - b.Min.Y) * 8 / b.Dy()
		for x := b.Min.X; x < b.Max.X; x += sx {
			gx := (x - b.Min.X) * 9 / b.Dx()
			var v float64
			if isYC {
				v = float64(yc.Y[yc.YOffset(x, y)])
			} else {
				r, g, bl, _ := img.At(x, y).RGBA()
				v = (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(bl)) / 257
			}
			grid[gy][gx] += v
			cnt[gy][gx]++
		}
	}
	var h uint64
	for y := range 8 {
		for x := range 8 {
			a := grid[y][x] / float64(max(cnt[y][x], 1))
			c := grid[y][x+1] / float64(max(cnt[y][x+1], 1))
			h <<= 1
			if a > c {
				h |= 1
			}
		}
	}
	return h
}

// HashDistance is the number of differing bits of two hashes.
func HashDistance(a, b uint64) int { return bits.OnesCount64(a ^ b) }
