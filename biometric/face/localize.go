package face

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

// localizer is a landmark localiser in the format of pigo's puploc and lp*
// cascades (pico's "pupil localisation by regression trees"): a chain of
// stages, each a forest of binary trees whose nodes compare two pixels at
// offsets relative to the current estimate and whose leaves vote a shift of
// the estimate; after each stage the search scale shrinks.
//
// pigo's own runner starts the chain from randomly perturbed positions and
// scales drawn from the process-wide random source and takes the median,
// so the same photo gives slightly different landmarks, and descriptors,
// from run to run. This one uses fixed perturbation sets (drawn once from a
// seeded generator), so a photo always gives the same landmarks.
type localizer struct {
	stages, trees, depth int
	scaleMul             float32
	codes                []int8    // per tree: 2^depth-1 nodes of (r1, c1, r2, c2)
	preds                []float32 // per tree: 2^depth leaves of (dr, dc)
}

// errCascade reports a malformed landmark cascade.
var errCascade = errors.New("malformed landmark cascade")

// parseLocalizer reads a cascade: little-endian uint32 stage count,
// float32 scale multiplier, uint32 trees per stage, uint32 tree depth, then
// for every tree its node codes (int8) and its leaf predictions (float32
// pairs).
func parseLocalizer(b []byte) (*localizer, error) {
	if len(b) < 16 {
		return nil, errCascade
	}
	l := &localizer{
		stages:   int(binary.LittleEndian.Uint32(b)),
		scaleMul: math.Float32frombits(binary.LittleEndian.Uint32(b[4:])),
		trees:    int(binary.LittleEndian.Uint32(b[8:])),
		depth:    int(binary.LittleEndian.Uint32(b[12:])),
	}
	if l.depth < 1 || l.depth > 12 || l.stages < 1 || l.trees < 1 || l.stages*l.trees > 1<<16 {
		return nil, errCascade
	}
	leaves := 1 << l.depth
	nodeBytes, leafBytes := 4*(leaves-1), 8*leaves
	n := l.stages * l.trees
	if len(b) != 16+n*(nodeBytes+leafBytes) {
		return nil, errCascade
	}
	l.codes = make([]int8, 0, n*nodeBytes)
	l.preds = make([]float32, 0, 2*n*leaves)
	p := 16
	for range n {
		for _, c := range b[p : p+nodeBytes] {
			l.codes = append(l.codes, int8(c))
		}
		p += nodeBytes
		for range 2 * leaves {
			l.preds = append(l.preds, math.Float32frombits(binary.LittleEndian.Uint32(b[p:])))
			p += 4
		}
	}
	return l, nil
}

// startLanes is the number of starts runLanes takes through the trees at
// once. One start's pixel comparisons form a chain of dependent loads;
// interleaving several starts lets the processor overlap them. runLanes
// writes the four lanes out one by one.
const startLanes = 4

// runLanes refines startLanes estimates (row, col at scale s, in pixels of
// g) through all stages, each exactly as a lone run would (the same
// comparisons and float32 sums in the same order). mirror reflects the
// trees left to right, for the landmark on the other side of the face.
func (l *localizer) runLanes(g grayImage, row, col, s [startLanes]float32, mirror bool) (rows, cols [startLanes]float32) {
	leaves := 1 << l.depth
	nodes := leaves - 1
	sign := int32(1)
	if mirror {
		sign = -1
	}
	tree := 0
	for range l.stages {
		var dr, dc [startLanes]float32
		// The lanes written out, so that their state stays in registers.
		r0, c0, s0 := 256*int32(row[0]), 256*int32(col[0]), int32(math.Round(float64(s[0])))
		r1, c1, s1 := 256*int32(row[1]), 256*int32(col[1]), int32(math.Round(float64(s[1])))
		r2, c2, s2 := 256*int32(row[2]), 256*int32(col[2]), int32(math.Round(float64(s[2])))
		r3, c3, s3 := 256*int32(row[3]), 256*int32(col[3]), int32(math.Round(float64(s[3])))
		h, w := int32(g.h-1), int32(g.w-1)
		for range l.trees {
			code := l.codes[tree*4*nodes : (tree+1)*4*nodes]
			i0, i1, i2, i3 := 0, 0, 0, 0
			var p1, p2 int32
			for range l.depth {
				// Left child (2·idx+1) unless the first pixel is the
				// brighter, without a branch: p2 - p1 < 0 exactly then.
				k0 := code[4*i0 : 4*i0+4]
				p1, p2 = int32(g.pix[int(max(0, min(h, (r0+int32(k0[0])*s0)>>8)))*g.w+int(max(0, min(w, (c0+sign*int32(k0[1])*s0)>>8)))]),
					int32(g.pix[int(max(0, min(h, (r0+int32(k0[2])*s0)>>8)))*g.w+int(max(0, min(w, (c0+sign*int32(k0[3])*s0)>>8)))])
				i0 = 2*i0 + 1 + int(uint32(p2-p1)>>31)
				k1 := code[4*i1 : 4*i1+4]
				p1, p2 = int32(g.pix[int(max(0, min(h, (r1+int32(k1[0])*s1)>>8)))*g.w+int(max(0, min(w, (c1+sign*int32(k1[1])*s1)>>8)))]),
					int32(g.pix[int(max(0, min(h, (r1+int32(k1[2])*s1)>>8)))*g.w+int(max(0, min(w, (c1+sign*int32(k1[3])*s1)>>8)))])
				i1 = 2*i1 + 1 + int(uint32(p2-p1)>>31)
				k2 := code[4*i2 : 4*i2+4]
				p1, p2 = int32(g.pix[int(max(0, min(h, (r2+int32(k2[0])*s2)>>8)))*g.w+int(max(0, min(w, (c2+sign*int32(k2[1])*s2)>>8)))]),
					int32(g.pix[int(max(0, min(h, (r2+int32(k2[2])*s2)>>8)))*g.w+int(max(0, min(w, (c2+sign*int32(k2[3])*s2)>>8)))])
				i2 = 2*i2 + 1 + int(uint32(p2-p1)>>31)
				k3 := code[4*i3 : 4*i3+4]
				p1, p2 = int32(g.pix[int(max(0, min(h, (r3+int32(k3[0])*s3)>>8)))*g.w+int(max(0, min(w, (c3+sign*int32(k3[1])*s3)>>8)))]),
					int32(g.pix[int(max(0, min(h, (r3+int32(k3[2])*s3)>>8)))*g.w+int(max(0, min(w, (c3+sign*int32(k3[3])*s3)>>8)))])
				i3 = 2*i3 + 1 + int(uint32(p2-p1)>>31)
			}
			idx := [startLanes]int{i0, i1, i2, i3}
			for j := range startLanes {
				leaf := tree*2*leaves + 2*(idx[j]-nodes)
				dr[j] += l.preds[leaf]
				dc[j] += float32(sign) * l.preds[leaf+1]
			}
			tree++
		}
		for j := range startLanes {
			row[j] += dr[j] * s[j]
			col[j] += dc[j] * s[j]
			s[j] *= l.scaleMul
		}
	}
	return row, col
}

// perturbation is one start of the localiser: offsets in units of the
// search scale and a scale factor.
type perturbation struct{ dr, dc, ds float32 }

// perturbSets are the fixed starts, one set per landmark try: offsets of up
// to ±7.5% of the search scale and scales of 92.5% to 107.5% (the ranges of
// pigo's random perturbations), drawn once from a seeded generator so that
// every run uses the same starts.
var perturbSets = func() [landmarkTries][perturbs]perturbation {
	var sets [landmarkTries][perturbs]perturbation
	r := rand.New(rand.NewPCG(0x5eed, 0xface))
	for t := range sets {
		for i := range sets[t] {
			sets[t][i] = perturbation{
				dr: 0.15 * (0.5 - r.Float32()),
				dc: 0.15 * (0.5 - r.Float32()),
				ds: 0.925 + 0.15*r.Float32(),
			}
		}
	}
	return sets
}()

// locate runs the localiser from every start of perturbation set try
// around (row, col) at scale s and returns the median row and column, and
// false when the result falls outside the image.
func (l *localizer) locate(g grayImage, row, col, s float32, mirror bool, try int) (Point, bool) {
	var rows, cols [perturbs]float32
	set := &perturbSets[try]
	for i := 0; i < perturbs; i += startLanes {
		// The lanes past the last start repeat it; their results are dropped.
		var r, c, sc [startLanes]float32
		for j := range startLanes {
			p := set[min(i+j, perturbs-1)]
			r[j], c[j], sc[j] = row+s*p.dr, col+s*p.dc, s*p.ds
		}
		r, c = l.runLanes(g, r, c, sc, mirror)
		for j := range min(startLanes, perturbs-i) {
			rows[i+j], cols[i+j] = r[j], c[j]
		}
	}
	slices.Sort(rows[:])
	slices.Sort(cols[:])
	pt := Point{X: float64(cols[perturbs/2]), Y: float64(rows[perturbs/2])}
	return pt, pt.X > 0 && pt.Y > 0 && pt.X < float64(g.w) && pt.Y < float64(g.h)
}
