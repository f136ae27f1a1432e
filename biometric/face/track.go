package face

import (
	"context"
	"image"
	"image/color"
	"slices"
)

// TrackedFrame is one video frame's face as Track saw it.
type TrackedFrame struct {
	// Found is true when the frame holds exactly one face with its
	// landmarks.
	Found     bool
	Box       image.Rectangle
	Landmarks Landmarks
	// Mouth is the inner-lip distance over the distance between the
	// pupils.
	Mouth float64
	// Skin is the mean red, green and blue (0-255) of the cheeks and the
	// forehead.
	Skin [3]float64
}

// TrackResult is what Track found in a sequence of frames.
type TrackResult struct {
	Frames []TrackedFrame
	// Descriptors are the descriptors of the described frames (Described
	// gives their indexes).
	Descriptors []Descriptor
	Described   []int
}

// region of the face in eye-relative coordinates: the origin between the
// pupils, x along the eye line, y down, unit = the distance between the
// pupils.
type region struct{ x0, x1, y0, y1 float64 }

// skin regions, in eye-relative coordinates: the two cheeks and the
// forehead.
var skinRegions = []region{{-0.8, -0.3, 0.35, 0.75}, {0.3, 0.8, 0.35, 0.75}, {-0.5, 0.5, -0.7, -0.35}}

// Tracking settings.
const (
	// trackStarts is the number of perturbed starts each landmark
	// localiser takes the median of in a tracked frame (a full detection
	// takes perturbs).
	trackStarts = 16
	// redetectEvery: every so many frames the whole frame is scanned
	// again, so that a second face is noticed (a lost one is noticed by
	// the tracked landmarks' plausibility).
	redetectEvery = 25
	// confirmEvery: every so many tracked frames the detector confirms the
	// face around the tracked landmarks (faceNear).
	confirmEvery = 4
	// trackedScale: frames after one with a face are searched for faces
	// of at least this share of that face's box side.
	trackedScale = 0.6
)

// Track follows the face through the frames of a short video. The first
// frame, every redetectEvery-th and every frame after one whose face was
// lost are scanned whole (faces of at least trackedScale times the last
// face's size); the frames between start the landmark localisers from the
// last frame's eyes with fewer perturbed starts (trackStarts), and every
// confirmEvery-th of them is confirmed by the detector around the tracked
// face (the localisers find points even where no face is). A frame with
// exactly one face and plausible landmarks gives the mouth opening and the
// skin colour. The descriptors of up to describe frames with a face,
// spread evenly over the sequence, are computed for the caller to compare
// with the selfie's. A frame without a usable face is reported (Found
// false), not an error.
func (e *Engine) Track(ctx context.Context, frames []image.Image, describe int) (TrackResult, error) {
	res := TrackResult{Frames: make([]TrackedFrame, len(frames))}
	minSide := 0
	var last *Landmarks // the previous frame's landmarks, nil when lost
	for i, fr := range frames {
		if err := ctx.Err(); err != nil {
			return TrackResult{}, err
		}
		g := luminance(fr)
		var lm Landmarks
		var box image.Rectangle
		ok := false
		if last != nil && i%redetectEvery != 0 && max(g.w, g.h) <= detectSide {
			lm, box, ok = e.det.track(g, *last, i%confirmEvery == 0)
		}
		if !ok {
			dets := e.det.detect(g, minSide)
			if len(dets) == 1 && dets[0].ok {
				lm, box, ok = dets[0].lm, dets[0].box, true
			}
		}
		ed := lm.LeftEye.dist(lm.RightEye)
		if !ok || ed <= 0 {
			last, minSide = nil, 0
			continue
		}
		last = &lm
		minSide = int(trackedScale * float64(min(box.Dx(), box.Dy())))
		res.Frames[i] = TrackedFrame{Found: true, Box: box, Landmarks: lm, Mouth: lm.UpperLip.dist(lm.LowerLip) / ed,
			Skin: skinColour(fr, lm)}
	}
	var found []int
	for i, f := range res.Frames {
		if f.Found {
			found = append(found, i)
		}
	}
	if describe > len(found) {
		describe = len(found)
	}
	for k := 0; k < describe; k++ {
		i := found[0]
		if describe > 1 {
			i = found[k*(len(found)-1)/(describe-1)]
		}
		if err := ctx.Err(); err != nil {
			return TrackResult{}, err
		}
		fr := frames[i]
		crop := alignedRect(res.Frames[i].Landmarks, fr.Bounds().Dx(), fr.Bounds().Dy())
		if crop.Dx() < 8 || crop.Dy() < 8 {
			continue
		}
		res.Descriptors = append(res.Descriptors, e.describe(toRGB(fr, crop.Add(fr.Bounds().Min))))
		res.Described = append(res.Described, i)
	}
	return res, nil
}

// track finds the landmarks in g starting from the previous frame's: the
// face box a detection would have given (the pupils lie 0.185 of its side
// either side of its centre and 0.085 above it), then the pupil and lip
// localisers as in landmarks, with trackStarts starts each. The mouth
// corners, which the mouth opening does not use, are the previous frame's
// moved with the eyes. It returns false when the points are not plausible
// or, when confirm is set, the detector finds no face around them (the
// caller then scans the frame).
func (d *detector) track(g grayImage, prev Landmarks, confirm bool) (Landmarks, image.Rectangle, bool) {
	ed := prev.LeftEye.dist(prev.RightEye)
	s := float32(ed / 0.37)
	row := float32((prev.LeftEye.Y+prev.RightEye.Y)/2) + 0.085*s
	col := float32((prev.LeftEye.X + prev.RightEye.X) / 2)
	left, okL := d.pupil.locateN(g, row-0.085*s, col-0.185*s, 0.4*s, false, trackStarts)
	right, okR := d.pupil.locateN(g, row-0.085*s, col+0.185*s, 0.4*s, false, trackStarts)
	if !okL || !okR {
		return Landmarks{}, image.Rectangle{}, false
	}
	var lm Landmarks
	lm.LeftEye, lm.RightEye = left, right
	ed2 := float32(left.dist(right))
	mr := float32(left.Y+right.Y)/2 + 0.25*ed2
	mc := float32(left.X+right.X)/2 + 0.15*ed2
	var ok [2]bool
	lm.UpperLip, ok[0] = d.upperLip.locateN(g, mr, mc, 3*ed2, false, trackStarts)
	lm.LowerLip, ok[1] = d.lowerLip.locateN(g, mr, mc, 3*ed2, false, trackStarts)
	if lm.LeftEye.X > lm.RightEye.X {
		lm.LeftEye, lm.RightEye = lm.RightEye, lm.LeftEye
	}
	dx := (lm.LeftEye.X + lm.RightEye.X - prev.LeftEye.X - prev.RightEye.X) / 2
	dy := (lm.LeftEye.Y + lm.RightEye.Y - prev.LeftEye.Y - prev.RightEye.Y) / 2
	lm.MouthLeft = Point{prev.MouthLeft.X + dx, prev.MouthLeft.Y + dy}
	lm.MouthRight = Point{prev.MouthRight.X + dx, prev.MouthRight.Y + dy}
	if !(ok[0] && ok[1]) || !plausible(lm, float64(s)) {
		return Landmarks{}, image.Rectangle{}, false
	}
	if confirm && !d.faceNear(g, float64(row), float64(col), float64(s)) {
		return Landmarks{}, image.Rectangle{}, false
	}
	half := float64(s) / 2
	box := image.Rect(int(float64(col)-half), int(float64(row)-half), int(float64(col)+half), int(float64(row)+half))
	return lm, box, true
}

// faceNear reports whether the face cascade finds a face of 0.75 to 1.33
// times side around (row, col): the localisers always return points, even
// where the face has gone, so a tracked frame is confirmed by the detector
// on its neighbourhood alone (a few hundred windows).
func (d *detector) faceNear(g grayImage, row, col, side float64) bool {
	half := int(0.9 * side)
	r := image.Rect(int(col)-half, int(row)-half, int(col)+half, int(row)+half).Intersect(image.Rect(0, 0, g.w, g.h))
	if r.Dx() < int(0.75*side) || r.Dy() < int(0.75*side) {
		return false
	}
	sub := grayImage{w: r.Dx(), h: r.Dy(), pix: make([]uint8, r.Dx()*r.Dy())}
	for y := 0; y < sub.h; y++ {
		copy(sub.pix[y*sub.w:(y+1)*sub.w], g.pix[(r.Min.Y+y)*g.w+r.Min.X:])
	}
	for _, det := range d.finder.scan(sub, int(0.75*side), int(1.33*side), shiftFactor, scaleFactor) {
		if float64(det.Q) >= MinScore {
			return true
		}
	}
	return false
}

// locateN is locate with the first n starts of the first perturbation set.
func (l *localizer) locateN(g grayImage, row, col, s float32, mirror bool, n int) (Point, bool) {
	n = min(max(n, 1), perturbs)
	rows, cols := make([]float32, 0, n), make([]float32, 0, n)
	set := &perturbSets[0]
	for i := 0; i < n; i += startLanes {
		var r, c, sc [startLanes]float32
		for j := range startLanes {
			p := set[min(i+j, n-1)]
			r[j], c[j], sc[j] = row+s*p.dr, col+s*p.dc, s*p.ds
		}
		r, c = l.runLanes(g, r, c, sc, mirror)
		for j := range min(startLanes, n-i) {
			rows, cols = append(rows, r[j]), append(cols, c[j])
		}
	}
	slices.Sort(rows)
	slices.Sort(cols)
	pt := Point{X: float64(cols[n/2]), Y: float64(rows[n/2])}
	return pt, pt.X > 0 && pt.Y > 0 && pt.X < float64(g.w) && pt.Y < float64(g.h)
}

// skinColour is the mean colour of the skin regions, sampled on an 8x5
// grid each.
func skinColour(img image.Image, lm Landmarks) [3]float64 {
	b := img.Bounds()
	cx, cy := (lm.LeftEye.X+lm.RightEye.X)/2, (lm.LeftEye.Y+lm.RightEye.Y)/2
	ux, uy := lm.RightEye.X-lm.LeftEye.X, lm.RightEye.Y-lm.LeftEye.Y
	vx, vy := -uy, ux
	yc, isYC := img.(*image.YCbCr)
	var sum [3]float64
	n := 0
	for _, r := range skinRegions {
		for j := 0; j < 5; j++ {
			for i := 0; i < 8; i++ {
				a := r.x0 + (float64(i)+0.5)*(r.x1-r.x0)/8
				c := r.y0 + (float64(j)+0.5)*(r.y1-r.y0)/5
				x, y := int(cx+a*ux+c*vx)+b.Min.X, int(cy+a*uy+c*vy)+b.Min.Y
				if !(image.Point{x, y}.In(b)) {
					continue
				}
				var R, G, B uint8
				if isYC {
					yi, ci := yc.YOffset(x, y), yc.COffset(x, y)
					R, G, B = color.YCbCrToRGB(yc.Y[yi], yc.Cb[ci], yc.Cr[ci])
				} else {
					r, g, bl, _ := img.At(x, y).RGBA()
					R, G, B = uint8(r>>8), uint8(g>>8), uint8(bl>>8)
				}
				sum[0] += float64(R)
				sum[1] += float64(G)
				sum[2] += float64(B)
				n++
			}
		}
	}
	if n > 0 {
		for k := range sum {
			sum[k] /= float64(n)
		}
	}
	return sum
}
