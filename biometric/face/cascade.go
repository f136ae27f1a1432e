package face

import (
	"encoding/binary"
	"math"
	"slices"

	pigo "github.com/esimov/pigo/core"
)

// faceCascade is pigo's face-finder cascade (pico's format: a chain of
// binary trees, each node comparing two pixels at offsets relative to the
// window centre scaled by the window size, each leaf adding a score that
// must stay above the tree's threshold). scan gives exactly the detections
// of pigo's RunCascade (unrotated): the same windows, the same pixel
// comparisons and the same float32 sums in the same order. It is faster
// because the pixel offsets of every node are computed once per scale
// instead of once per window and node.
type faceCascade struct {
	depth, trees int
	codes        []int8    // per tree: 4·2^depth (node 0 unused), (r1, c1, r2, c2) per node
	preds        []float32 // per tree: 2^depth leaf scores
	thresholds   []float32 // per tree
}

// parseFaceCascade reads a pico face cascade: 8 bytes skipped, uint32 tree
// depth, uint32 tree count, then per tree its node codes (int8, 4 per
// inner node), its leaf scores and its threshold (float32).
func parseFaceCascade(b []byte) (*faceCascade, error) {
	if len(b) < 16 {
		return nil, errCascade
	}
	c := &faceCascade{depth: int(binary.LittleEndian.Uint32(b[8:])), trees: int(binary.LittleEndian.Uint32(b[12:]))}
	if c.depth < 1 || c.depth > 12 || c.trees < 1 || c.trees > 1<<16 {
		return nil, errCascade
	}
	leaves := 1 << c.depth
	nodeBytes := 4 * (leaves - 1)
	if len(b) != 16+c.trees*(nodeBytes+4*leaves+4) {
		return nil, errCascade
	}
	c.codes = make([]int8, 0, c.trees*4*leaves)
	c.preds = make([]float32, 0, c.trees*leaves)
	p := 16
	for range c.trees {
		c.codes = append(c.codes, 0, 0, 0, 0)
		for _, v := range b[p : p+nodeBytes] {
			c.codes = append(c.codes, int8(v))
		}
		p += nodeBytes
		for range leaves {
			c.preds = append(c.preds, math.Float32frombits(binary.LittleEndian.Uint32(b[p:])))
			p += 4
		}
		c.thresholds = append(c.thresholds, math.Float32frombits(binary.LittleEndian.Uint32(b[p:])))
		p += 4
	}
	return c, nil
}

// scan runs the cascade over g as pigo's RunCascade does with angle 0:
// window sizes from minSize to maxSize (each the previous one times
// scaleFactor, at least 2 more), windows shiftFactor times their size
// apart, keeping those scoring above 0.
func (c *faceCascade) scan(g grayImage, minSize, maxSize int, shiftFactor, scaleFactor float64) []pigo.Detection {
	var out []pigo.Detection
	leaves := 1 << c.depth
	// offs[2·(tree·leaves + node)] and the next: the index offsets of the
	// node's two pixels from the window centre, at the current size.
	offs := make([]int, 2*c.trees*leaves)
	var centres []int
	var rowOff, colOff [256]int // by code + 128
	if side := min(g.w, g.h); minSize <= side {
		// The smallest windows are the most numerous.
		step := max(int(shiftFactor*float64(minSize)), 1)
		centres = make([]int, 0, (g.w/step+1)*(g.h/step+1))
	}
	var hits []hit
	for scale := minSize; scale <= maxSize; scale = int(float64(scale) + math.Max(2, float64(scale)*scaleFactor-float64(scale))) {
		// pigo computes ((256·row + code·scale) >> 8)·dim + ((256·col +
		// code·scale) >> 8); an arithmetic shift floors, so that is
		// row·dim + col + ((code·scale) >> 8)·dim + ((code·scale) >> 8),
		// taken from two tables over the 256 codes.
		for k := range 256 {
			colOff[k] = (k - 128) * scale >> 8
			rowOff[k] = colOff[k] * g.w
		}
		ready := 0 // trees whose offsets are computed for this size
		need := func(t int) {
			// Most windows are rejected by the first trees: the offsets of
			// the others are computed when a window first reaches them.
			for ; ready <= t; ready++ {
				for i := ready * leaves; i < (ready+1)*leaves; i++ {
					k := c.codes[4*i : 4*i+4]
					offs[2*i] = rowOff[uint8(k[0])^0x80] + colOff[uint8(k[1])^0x80]
					offs[2*i+1] = rowOff[uint8(k[2])^0x80] + colOff[uint8(k[3])^0x80]
				}
			}
		}
		step := int(math.Max(shiftFactor*float64(scale), 1))
		half := scale/2 + 1
		centres = centres[:0]
		for row := half; row <= g.h-half; row += step {
			for col := half; col <= g.w-half; col += step {
				centres = append(centres, row*g.w+col)
			}
		}
		for _, h := range c.classifyAll(g.pix, centres, offs, need, hits[:0]) {
			// hits come in the order windows finish; pigo lists them row
			// by row (which its clustering sees), as do the centres.
			out = append(out, pigo.Detection{Row: centres[h.win] / g.w, Col: centres[h.win] % g.w, Scale: scale, Q: h.q})
		}
	}
	return out
}

// hit is a window that passed every tree, and its score.
type hit struct {
	win int
	q   float32
}

// lanes is the number of windows classifyAll takes through the trees at
// once. One window's pixel comparisons form a chain of dependent loads;
// interleaving several windows lets the processor overlap them.
// classifyAll writes the eight lanes out one by one.
const lanes = 8

// classifyAll is pigo's classifyRegion for every window centred on a pixel
// index of centres: it appends to hits the windows whose running score
// stays above every tree's threshold, with their score above the last
// tree's threshold, in window order. need(t) is called before tree t is
// first used, to fill in its offsets.
func (c *faceCascade) classifyAll(pix []uint8, centres []int, offs []int, need func(tree int), hits []hit) []hit {
	if len(centres) == 0 {
		return hits
	}
	leaves := 1 << c.depth
	var (
		win  [lanes]int // window index, -1 when the lane is idle
		cen  [lanes]int
		tree [lanes]int
		sum  [lanes]float32
	)
	next, active := 0, 0
	for l := range lanes {
		win[l], cen[l] = -1, centres[0] // an idle lane evaluates a dummy window
		if next < len(centres) {
			win[l], cen[l] = next, centres[next]
			next++
			active++
		}
	}
	need(0)
	maxTree := 0
	var idx [lanes]int
	for active > 0 {
		// The lanes written out, so that their state stays in registers.
		o0 := offs[2*tree[0]*leaves : 2*(tree[0]+1)*leaves]
		o1 := offs[2*tree[1]*leaves : 2*(tree[1]+1)*leaves]
		o2 := offs[2*tree[2]*leaves : 2*(tree[2]+1)*leaves]
		o3 := offs[2*tree[3]*leaves : 2*(tree[3]+1)*leaves]
		o4 := offs[2*tree[4]*leaves : 2*(tree[4]+1)*leaves]
		o5 := offs[2*tree[5]*leaves : 2*(tree[5]+1)*leaves]
		o6 := offs[2*tree[6]*leaves : 2*(tree[6]+1)*leaves]
		o7 := offs[2*tree[7]*leaves : 2*(tree[7]+1)*leaves]
		c0, c1, c2, c3, c4, c5, c6, c7 := cen[0], cen[1], cen[2], cen[3], cen[4], cen[5], cen[6], cen[7]
		i0, i1, i2, i3, i4, i5, i6, i7 := 1, 1, 1, 1, 1, 1, 1, 1
		for range c.depth {
			// 2·idx, plus 1 when a <= b, without a branch (the comparison
			// is unpredictable): b - a is negative exactly when a > b.
			i0 = 2*i0 + int(uint32(int32(pix[c0+o0[2*i0+1]])-int32(pix[c0+o0[2*i0]]))>>31^1)
			i1 = 2*i1 + int(uint32(int32(pix[c1+o1[2*i1+1]])-int32(pix[c1+o1[2*i1]]))>>31^1)
			i2 = 2*i2 + int(uint32(int32(pix[c2+o2[2*i2+1]])-int32(pix[c2+o2[2*i2]]))>>31^1)
			i3 = 2*i3 + int(uint32(int32(pix[c3+o3[2*i3+1]])-int32(pix[c3+o3[2*i3]]))>>31^1)
			i4 = 2*i4 + int(uint32(int32(pix[c4+o4[2*i4+1]])-int32(pix[c4+o4[2*i4]]))>>31^1)
			i5 = 2*i5 + int(uint32(int32(pix[c5+o5[2*i5+1]])-int32(pix[c5+o5[2*i5]]))>>31^1)
			i6 = 2*i6 + int(uint32(int32(pix[c6+o6[2*i6+1]])-int32(pix[c6+o6[2*i6]]))>>31^1)
			i7 = 2*i7 + int(uint32(int32(pix[c7+o7[2*i7+1]])-int32(pix[c7+o7[2*i7]]))>>31^1)
		}
		idx = [lanes]int{i0, i1, i2, i3, i4, i5, i6, i7}
		for l := range lanes {
			if win[l] < 0 {
				continue
			}
			t := tree[l]
			sum[l] += c.preds[t*leaves+idx[l]-leaves]
			switch {
			case sum[l] <= c.thresholds[t]:
			case t+1 == c.trees:
				hits = append(hits, hit{win[l], sum[l] - c.thresholds[c.trees-1]})
			default:
				if tree[l]++; tree[l] >= maxTree {
					maxTree = tree[l]
					need(maxTree)
				}
				continue
			}
			// The window is done: take the next one.
			tree[l], sum[l] = 0, 0
			if next < len(centres) {
				win[l], cen[l] = next, centres[next]
				next++
			} else {
				win[l], cen[l] = -1, centres[0]
				active--
			}
		}
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.win - b.win })
	return hits
}
