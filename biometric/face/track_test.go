package face

import (
	"context"
	"image"
	"math"
	"path/filepath"
	"testing"

	"golang.org/x/image/draw"
)

// Track follows a face through frames of a hand-held phone (a photo moved
// a little from frame to frame, its jaw dropping in every other frame): the
// face is found in every frame, the mouth opening is larger in the open
// frames, frames with the camera covered are reported (all but at most
// confirmEvery-1 of them, the tracked frames before the detector confirms)
// and the track recovers after them, and the described frames'
// descriptors match the photo's.
func TestTrack(t *testing.T) {
	e := testEngine(t)
	var img image.Image
	for _, p := range labelledPhotos(t) {
		if filepath.Base(p.path) == "obama1.jpg" {
			img = loadPhoto(t, p.path)
		}
	}
	if img == nil {
		t.Fatal("obama/obama1.jpg not found among the shared photos")
	}
	ref, err := e.Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	w := ref.Landmarks.MouthLeft.dist(ref.Landmarks.MouthRight)
	// 240x320 frames around the face, as the wallet sends.
	side := float64(ref.Box.Dx())
	cx, cy := float64(ref.Box.Min.X+ref.Box.Max.X)/2, float64(ref.Box.Min.Y+ref.Box.Max.Y)/2
	frame := func(src image.Image, dx, dy float64) image.Image {
		out := image.NewRGBA(image.Rect(0, 0, 240, 320))
		s := 240 / (2.25 * side)
		draw.ApproxBiLinear.Scale(out, out.Bounds(), src, image.Rect(int(cx+dx-120/s), int(cy+dy-160/s), int(cx+dx+120/s), int(cy+dy+160/s)), draw.Src, nil)
		return out
	}
	var frames []image.Image
	for i := 0; i < 30; i++ {
		src := image.Image(img)
		if i%2 == 1 {
			src = openMouth(img, ref.Landmarks, 0.35*w)
		}
		frames = append(frames, frame(src, float64(i%5)*0.01*side, float64(i%3)*0.01*side))
	}
	covered := func(i int) bool { return i >= 13 && i < 19 }
	for i := range frames {
		if covered(i) {
			frames[i] = image.NewRGBA(image.Rect(0, 0, 240, 320))
		}
	}
	res, err := e.Track(context.Background(), frames, 3)
	if err != nil {
		t.Fatal(err)
	}
	var open, closed float64
	var nOpen, nClosed, phantom int
	for i, f := range res.Frames {
		if covered(i) {
			if f.Found {
				phantom++
			}
			continue
		}
		if !f.Found {
			t.Fatalf("frame %d: face not found", i)
		}
		if i%2 == 1 {
			open += f.Mouth
			nOpen++
		} else {
			closed += f.Mouth
			nClosed++
		}
		if f.Skin[0] < 40 || f.Skin[0] > 250 {
			t.Fatalf("frame %d skin %v", i, f.Skin)
		}
	}
	if phantom > confirmEvery-1 {
		t.Fatalf("%d of 6 covered frames tracked", phantom)
	}
	open, closed = open/float64(nOpen), closed/float64(nClosed)
	if open < closed+0.05 {
		t.Fatalf("mouth opening %.3f open, %.3f closed", open, closed)
	}
	if len(res.Descriptors) != 3 || len(res.Described) != 3 {
		t.Fatalf("%d descriptors", len(res.Descriptors))
	}
	for k, d := range res.Descriptors {
		// A covered frame still tracked (before the detector confirms)
		// has no face to match: the identity check refuses it.
		if dist := Distance(d, ref.Descriptor); (dist >= Threshold) != covered(res.Described[k]) {
			t.Fatalf("frame %d descriptor at %.3f from the photo's", res.Described[k], dist)
		}
	}
	t.Logf("mouth opening: %.3f open, %.3f closed", open, closed)
}

// openMouth warps the region below the mouth centre downwards by up to
// open pixels (a smooth bump), as a jaw dropping while speaking does.
func openMouth(img image.Image, lm Landmarks, open float64) *image.RGBA {
	b := img.Bounds()
	src := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	out := image.NewRGBA(src.Bounds())
	copy(out.Pix, src.Pix)
	mc := lm.MouthCenter()
	w := lm.MouthLeft.dist(lm.MouthRight)
	for y := 0; y < b.Dy(); y++ {
		for x := 0; x < b.Dx(); x++ {
			nx := (float64(x) - mc.X) / (0.9 * w)
			ny := (float64(y) - (mc.Y + 0.3*w)) / (0.9 * w)
			r2 := nx*nx + ny*ny
			if r2 >= 1 || float64(y) < mc.Y {
				continue
			}
			k := open * (1 - r2) * (1 - r2) * math.Min(1, (float64(y)-mc.Y)/(0.15*w))
			sy := int(math.Round(float64(y) - k))
			if sy < 0 {
				sy = 0
			}
			copy(out.Pix[out.PixOffset(x, y):out.PixOffset(x, y)+4], src.Pix[src.PixOffset(x, sy):src.PixOffset(x, sy)+4])
		}
	}
	return out
}
