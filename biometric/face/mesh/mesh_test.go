package mesh

import (
	"context"
	"errors"
	"image"
	"image/color"
	"image/draw"
	"math"
	"path/filepath"
	"testing"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// TestDetectSharedPhotos: every single-face photo of the shared set gives
// exactly one face, the group photo with several people more than one.
func TestDetectSharedPhotos(t *testing.T) {
	e := testEngine(t)
	for _, p := range photos(t) {
		img := loadImage(t, p.path)
		faces, err := e.Detect(img)
		if err != nil {
			t.Fatal(err)
		}
		name := p.person + "/" + filepath.Base(p.path)
		t.Logf("%s: %d faces", name, len(faces))
		switch {
		case filepath.Base(p.path) == "obama_and_biden.jpg":
			if len(faces) < 2 {
				t.Errorf("%s: %d faces, want several", name, len(faces))
			}
		case len(faces) != 1:
			t.Errorf("%s: %d faces, want 1", name, len(faces))
		}
		for _, f := range faces {
			if f.Landmarks.Score < MinFaceScore || !f.Box.Overlaps(f.Landmarks.Box()) {
				t.Errorf("%s: face %v with landmarks %v (score %.2f)", name, f.Box, f.Landmarks.Box(), f.Landmarks.Score)
			}
		}
	}
}

// transform draws img through the affine map m (destination to source
// pixels is its inverse) onto a canvas of the same size.
func transform(img image.Image, m f64.Aff3) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	xdraw.BiLinear.Transform(dst, m, img, img.Bounds(), draw.Src, nil)
	return dst
}

func oneFace(t *testing.T, e *Engine, img image.Image) Face {
	t.Helper()
	faces, err := e.Detect(img)
	if err != nil || len(faces) != 1 {
		t.Fatalf("%d faces, %v", len(faces), err)
	}
	return faces[0]
}

// TestPoseAndTrack: mirroring the image flips the signs of yaw and roll;
// turning it by 15 degrees adds 15 degrees of roll; a frame moved by a
// few pixels is tracked from the previous landmarks (no detector) with the
// landmarks moved as much.
func TestPoseAndTrack(t *testing.T) {
	e := testEngine(t)
	img := loadImage(t, filepath.Join(facesDir(t), "obama", "obama.jpg"))
	w, h := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
	f := oneFace(t, e, img)
	p := f.Landmarks.Pose()
	t.Logf("pose %+v, mouth %.3f", p, f.Landmarks.MouthOpen())

	mf := oneFace(t, e, transform(img, f64.Aff3{-1, 0, w, 0, 1, 0}))
	mirror := mf.Landmarks.Pose()
	if math.Abs(mirror.Yaw+p.Yaw) > 3 || math.Abs(mirror.Roll+p.Roll) > 2 || math.Abs(mirror.Pitch-p.Pitch) > 3 {
		t.Errorf("mirrored pose %+v, want yaw and roll of %+v negated", mirror, p)
	}

	a := 15 * math.Pi / 180
	c, s := math.Cos(a), math.Sin(a)
	// Rotation by a about the image centre, clockwise on screen.
	rot := f64.Aff3{c, -s, w/2 - c*w/2 + s*h/2, s, c, h/2 - s*w/2 - c*h/2}
	tf := oneFace(t, e, transform(img, rot))
	turned := tf.Landmarks.Pose()
	if d := turned.Roll - p.Roll; math.Abs(d-15) > 2 {
		t.Errorf("turned 15 degrees: roll %.1f -> %.1f", p.Roll, turned.Roll)
	}

	moved := transform(img, f64.Aff3{1, 0, 6, 0, 1, -4})
	l, err := e.Track(moved, &f.Landmarks)
	if err != nil {
		t.Fatal(err)
	}
	var dx, dy float64
	for i := range l.Points {
		dx += l.Points[i].X - f.Landmarks.Points[i].X
		dy += l.Points[i].Y - f.Landmarks.Points[i].Y
	}
	dx /= NumLandmarks
	dy /= NumLandmarks
	if math.Abs(dx-6) > 1 || math.Abs(dy+4) > 1 {
		t.Errorf("tracked landmarks moved by (%.2f, %.2f), want (6, -4)", dx, dy)
	}
	if d := math.Abs(l.MouthOpen() - f.Landmarks.MouthOpen()); d > 0.01 {
		t.Errorf("mouth opening changed by %.3f on a moved frame", d)
	}
}

// TestNoFace: a blank image has no face; tracking into it reports
// ErrNoFace; empty images and boxes are refused without a panic.
func TestNoFace(t *testing.T) {
	e := testEngine(t)
	blank := image.NewRGBA(image.Rect(0, 0, 320, 240))
	draw.Draw(blank, blank.Bounds(), image.NewUniform(color.RGBA{90, 120, 150, 255}), image.Point{}, draw.Src)
	if faces, err := e.Detect(blank); err != nil || len(faces) != 0 {
		t.Errorf("blank image: %d faces, %v", len(faces), err)
	}
	f := oneFace(t, e, loadImage(t, filepath.Join(facesDir(t), "obama", "obama_small.jpg")))
	if _, err := e.Track(blank, &f.Landmarks); !errors.Is(err, ErrNoFace) {
		t.Errorf("track into a blank frame: %v, want ErrNoFace", err)
	}
	if _, err := e.Landmarks(blank, image.Rectangle{}); !errors.Is(err, ErrNoFace) {
		t.Errorf("empty box: %v, want ErrNoFace", err)
	}
	for _, img := range []image.Image{image.NewRGBA(image.Rectangle{}), image.NewGray(image.Rect(5, 5, 6, 6))} {
		if faces, err := e.Detect(img); err != nil || len(faces) != 0 {
			t.Errorf("%v image: %d faces, %v", img.Bounds(), len(faces), err)
		}
	}
	// Odd shapes and image types: no face, no panic.
	odd := []image.Image{
		image.NewRGBA(image.Rect(0, 0, 1, 2000)), image.NewNRGBA(image.Rect(0, 0, 3000, 1)),
		image.NewYCbCr(image.Rect(3, 5, 70, 41), image.YCbCrSubsampleRatio420),
		image.NewYCbCr(image.Rect(0, 0, 33, 17), image.YCbCrSubsampleRatio422),
		image.NewPaletted(image.Rect(0, 0, 40, 40), []color.Color{color.White, color.Black}),
	}
	for _, img := range odd {
		if faces, err := e.Detect(img); err != nil || len(faces) != 0 {
			t.Errorf("%T %v: %d faces, %v", img, img.Bounds(), len(faces), err)
		}
		if _, err := e.Track(img, &f.Landmarks); !errors.Is(err, ErrNoFace) {
			t.Errorf("%T %v: track %v, want ErrNoFace", img, img.Bounds(), err)
		}
	}
	if _, err := e.Track(blank, &Landmarks{}); !errors.Is(err, ErrNoFace) {
		t.Errorf("track from zero landmarks: %v, want ErrNoFace", err)
	}
	if _, err := e.mesh.Run(make([]float32, 10)); err == nil {
		t.Error("a wrong-sized input ran")
	}
}

// TestMouthOpen: landmarks with the lower inner lip moved down by a tenth
// of the face height open the mouth by 0.1.
func TestMouthOpen(t *testing.T) {
	var l Landmarks
	l.Points[lmForehead] = Point{X: 100, Y: 50}
	l.Points[lmChin] = Point{X: 100, Y: 250}
	l.Points[lmUpperInnerLip] = Point{X: 100, Y: 200}
	l.Points[lmLowerInnerLip] = Point{X: 100, Y: 200}
	if m := l.MouthOpen(); m != 0 {
		t.Errorf("closed: %v", m)
	}
	l.Points[lmLowerInnerLip].Y += 20
	if m := l.MouthOpen(); math.Abs(m-0.1) > 1e-12 {
		t.Errorf("open: %v, want 0.1", m)
	}
	if m := (&Landmarks{}).MouthOpen(); m != 0 {
		t.Errorf("zero landmarks: %v", m)
	}
}

// TestFollow: a face moving across frames is detected once and tracked,
// a blank frame loses it (reported, not an error), and the next frame is
// detected again.
func TestFollow(t *testing.T) {
	e := testEngine(t)
	img := loadImage(t, filepath.Join(facesDir(t), "obama", "obama_small.jpg"))
	blank := image.NewRGBA(img.Bounds())
	var frames []image.Image
	for i := range 6 {
		frames = append(frames, transform(img, f64.Aff3{1, 0, float64(3 * i), 0, 1, float64(-2 * i)}))
	}
	frames = append(frames, blank, img)
	got, err := e.Follow(context.Background(), frames)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range got {
		wantDetected := i == 0 || i >= 6
		if f.Found != (i != 6) || f.Detected != wantDetected {
			t.Errorf("frame %d: found %v detected %v (%d faces)", i, f.Found, f.Detected, f.Faces)
		}
	}
	for i := 1; i < 6; i++ {
		dx := got[i].Landmarks.Points[1].X - got[0].Landmarks.Points[1].X
		if math.Abs(dx-float64(3*i)) > 1.5 {
			t.Errorf("frame %d: nose tip moved %.1f px, want %d", i, dx, 3*i)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Follow(ctx, frames); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}
