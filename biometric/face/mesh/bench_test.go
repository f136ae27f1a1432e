package mesh

import (
	"image"
	"image/draw"
	"syscall"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"
)

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports CPU ms per op beside the wall time (the shared test
// machines give a process a varying share of a core).
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// frame is a shared photo scaled to fit 640 pixels, as the enrollment
// video frames are.
func frame(b testing.TB) image.Image {
	img := loadImage(b, photos(b)[len(photos(b))-1].path) // rose_leslie/img2.jpg
	s := img.Bounds().Size()
	k := 640.0 / float64(max(s.X, s.Y))
	dst := image.NewRGBA(image.Rect(0, 0, int(float64(s.X)*k), int(float64(s.Y)*k)))
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

func BenchmarkDetect(b *testing.B) {
	e := testEngine(b)
	img := frame(b)
	defer reportCPU(b)()
	for b.Loop() {
		if f, err := e.Detect(img); err != nil || len(f) != 1 {
			b.Fatal(len(f), err)
		}
	}
}

func BenchmarkTrack(b *testing.B) {
	e := testEngine(b)
	img := frame(b)
	faces, err := e.Detect(img)
	if err != nil || len(faces) != 1 {
		b.Fatal(len(faces), err)
	}
	l := faces[0].Landmarks
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := e.Track(img, &l); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMeshGraph(b *testing.B) {
	e := testEngine(b)
	in := make([]float32, MeshSize*MeshSize*3)
	for i := range in {
		in[i] = float32(i%255) / 255
	}
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := e.mesh.Run(in); err != nil {
			b.Fatal(err)
		}
	}
}
