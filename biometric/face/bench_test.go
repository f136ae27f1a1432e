package face

import (
	"context"
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
