package face

import (
	"context"
	"fmt"
	"image"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkDescriptor measures the descriptor network alone on one 150x150
// input (one op = one face). Run with -cpu 1 for the per-core figure.
func BenchmarkDescriptor(b *testing.B) {
	e := testEngine(b)
	in := make([]float32, InputSize*InputSize*3)
	for i := range in {
		in[i] = float32(i % 251)
	}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		_ = e.describeInput(in)
	}
}

// reportCPU starts measuring the process's CPU time; the returned function
// reports it per op as "cpu-ms/op".
func reportCPU(b *testing.B) func() {
	start, ok := processCPU()
	return func() {
		end, ok2 := processCPU()
		if ok && ok2 && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		}
	}
}

// BenchmarkAnalyze measures one whole decision on a photo: detection,
// landmarks, alignment, quality and descriptor (one op = one photo). Run
// with -cpu 1 for the per-core figure.
func BenchmarkAnalyze(b *testing.B) {
	e := testEngine(b)
	var img image.Image
	for _, p := range labelledPhotos(b) {
		if filepath.Base(p.path) == "obama.jpg" {
			img = loadPhoto(b, p.path)
		}
	}
	if img == nil {
		b.Fatal("obama/obama.jpg not found among the shared photos")
	}
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := e.Analyze(ctx, img); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalyzeDetectors compares, in one run, a whole Analyze of a
// photo with BlazeFace+FaceMesh (what Analyze does) against the same with
// pigo's cascades (the previous detector, still used for the liveness
// frames). Run with -cpu 1.
func BenchmarkAnalyzeDetectors(b *testing.B) {
	e := testEngine(b)
	var img image.Image
	for _, p := range labelledPhotos(b) {
		if filepath.Base(p.path) == "obama.jpg" {
			img = loadPhoto(b, p.path)
		}
	}
	if img == nil {
		b.Fatal("obama/obama.jpg not found among the shared photos")
	}
	ctx := context.Background()
	for _, d := range []struct {
		name string
		run  func() (Face, error)
	}{
		{"mesh", func() (Face, error) { return e.Analyze(ctx, img) }},
		{"pigo", func() (Face, error) { return e.analyze(ctx, img, luminance(img), 0) }},
	} {
		b.Run(d.name, func(b *testing.B) {
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := d.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// analyze finds the one face of img with pigo's cascades (the video
// frames' detector), whose luminance is g (looking for faces with a box side
// of at least minSide pixels when minSide > 0), and computes its
// descriptor, as Analyze does with the mesh: BenchmarkAnalyzeDetectors
// compares the two.
func (e *Engine) analyze(ctx context.Context, img image.Image, g grayImage, minSide int) (Face, error) {
	dets := e.det.detect(g, minSide)
	switch {
	case len(dets) == 0:
		return Face{}, ErrNoFace
	case len(dets) > 1:
		return Face{}, fmt.Errorf("%w: %d faces", ErrManyFaces, len(dets))
	}
	d := dets[0]
	if !d.ok {
		return Face{}, fmt.Errorf("%w: eyes and mouth not found", ErrLowQuality)
	}
	f := Face{Box: d.box, Landmarks: d.lm}
	f.Crop = alignedRect(d.lm, g.w, g.h)
	if f.Crop.Dx() < 8 || f.Crop.Dy() < 8 {
		return Face{}, fmt.Errorf("%w: face too small", ErrLowQuality)
	}
	crop := toRGB(img, f.Crop.Add(img.Bounds().Min))
	f.Quality = measure(crop)
	f.Quality.Score = d.score
	f.Quality.EyeDist = d.lm.LeftEye.dist(d.lm.RightEye)
	if p := f.Quality.Problems(); len(p) > 0 {
		return Face{}, fmt.Errorf("%w: %s", ErrLowQuality, p[0])
	}
	if err := ctx.Err(); err != nil {
		return Face{}, err
	}
	f.Descriptor = e.describe(crop)
	return f, nil
}
