package mesh_test

import (
	"context"
	"errors"
	"image"
	"image/draw"
	_ "image/jpeg" // decoder
	_ "image/png"  // decoder
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/biometric/face/mesh"
	"github.com/shenfen/shenfen/credential/credtest"
)

var (
	loadOnce sync.Once
	meshE    *mesh.Engine
	faceE    *face.Engine
	loadErr  error
)

// engines loads both stacks from the installed npm packages.
func engines(t testing.TB) (*mesh.Engine, *face.Engine) {
	t.Helper()
	loadOnce.Do(func() {
		d, err := mesh.DefaultModelDir()
		if err != nil {
			loadErr = err
			return
		}
		if meshE, loadErr = mesh.New(d); loadErr != nil {
			return
		}
		fd, err := face.DefaultModelDir()
		if err != nil {
			loadErr = err
			return
		}
		faceE, loadErr = face.Load(fd)
	})
	if loadErr != nil {
		t.Fatal(loadErr)
	}
	return meshE, faceE
}

// singleFacePhotos lists the shared photos showing one person.
func singleFacePhotos(t testing.TB) []string {
	t.Helper()
	root := credtest.FacesDir()
	var out []string
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		ext := strings.ToLower(filepath.Ext(p))
		if err == nil && !d.IsDir() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") && filepath.Base(p) != "obama_and_biden.jpg" {
			out = append(out, p)
		}
		return nil
	})
	sort.Strings(out)
	if len(out) == 0 {
		t.Fatalf("no photos under %s (set SHENFEN_FACES_DIR)", root)
	}
	return out
}

func load(t testing.TB, p string) image.Image {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// variant is a harder version of a photo.
type variant struct {
	name string
	make func(img image.Image, face image.Rectangle) image.Image
}

func affine(img image.Image, w, h int, m f64.Aff3) image.Image {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	xdraw.BiLinear.Transform(dst, m, img, img.Bounds(), draw.Src, nil)
	return dst
}

var variants = []variant{
	{"original", func(img image.Image, _ image.Rectangle) image.Image { return img }},
	{"tight crop", func(img image.Image, f image.Rectangle) image.Image {
		// The face box enlarged by 10%: a crop as tight as an ID photo's
		// face area.
		d := f.Dx() / 10
		r := f.Inset(-d).Intersect(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
		dst := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
		draw.Draw(dst, dst.Bounds(), img, img.Bounds().Min.Add(r.Min), draw.Src)
		return dst
	}},
	{"turned 25 degrees", func(img image.Image, _ image.Rectangle) image.Image {
		w, h := float64(img.Bounds().Dx()), float64(img.Bounds().Dy())
		a := 25 * math.Pi / 180
		c, s := math.Cos(a), math.Sin(a)
		return affine(img, img.Bounds().Dx(), img.Bounds().Dy(), f64.Aff3{c, -s, w/2 - c*w/2 + s*h/2, s, c, h/2 - s*w/2 - c*h/2})
	}},
	{"mirrored", func(img image.Image, _ image.Rectangle) image.Image {
		return affine(img, img.Bounds().Dx(), img.Bounds().Dy(), f64.Aff3{-1, 0, float64(img.Bounds().Dx()), 0, 1, 0})
	}},
	{"320 px", func(img image.Image, _ image.Rectangle) image.Image {
		k := 320 / float64(max(img.Bounds().Dx(), img.Bounds().Dy()))
		w, h := int(float64(img.Bounds().Dx())*k), int(float64(img.Bounds().Dy())*k)
		dst := image.NewRGBA(image.Rect(0, 0, w, h))
		xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
		return dst
	}},
}

// analyzeOutcome classifies face.Analyze's answer: one usable face, none, several, or a
// face refused for its quality (landmarks not found, too small, ...).
func analyzeOutcome(e *face.Engine, img image.Image) string {
	_, err := e.Analyze(context.Background(), img)
	switch {
	case err == nil:
		return "1"
	case errors.Is(err, face.ErrNoFace):
		return "0"
	case errors.Is(err, face.ErrManyFaces):
		return "many"
	case errors.Is(err, face.ErrLowQuality):
		return "low quality"
	}
	return err.Error()
}

// TestCompareDetectors counts, on each single-face shared photo and on
// harder variants of it (a tight crop around the face, turned by 25
// degrees, mirrored, scaled down to 320 px), the faces BlazeFace+FaceMesh
// finds (every one must give exactly 1) and whether face.Analyze (the
// selfie and portrait path: detection, alignment from the landmarks,
// quality checks, descriptor) accepts one usable face (logged; before
// Analyze used this package it ran pigo's cascades, and docs/biometrics.md
// keeps the figures of that run).
func TestCompareDetectors(t *testing.T) {
	me, fe := engines(t)
	meshOK, analyzeOK, total := map[string]int{}, map[string]int{}, map[string]int{}
	for _, p := range singleFacePhotos(t) {
		img := load(t, p)
		faces, err := me.Detect(img)
		if err != nil || len(faces) != 1 {
			t.Errorf("%s: %d faces, %v", p, len(faces), err)
			continue
		}
		for _, v := range variants {
			vi := v.make(img, faces[0].Landmarks.Box())
			got, err := me.Detect(vi)
			if err != nil {
				t.Fatal(err)
			}
			po := analyzeOutcome(fe, vi)
			total[v.name]++
			if len(got) == 1 {
				meshOK[v.name]++
			} else {
				t.Errorf("%s, %s: mesh found %d faces", filepath.Base(p), v.name, len(got))
				for _, g := range got {
					t.Logf("   detection score %.3f, mesh score %.6f, box %v", g.Score, g.Landmarks.Score, g.Box)
				}
			}
			if po == "1" {
				analyzeOK[v.name]++
			}
			pose := mesh.Pose{}
			if len(got) > 0 {
				pose = got[0].Landmarks.Pose()
			}
			t.Logf("%-28s %-18s mesh %d (yaw %+5.1f roll %+5.1f)  Analyze %s", filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), v.name, len(got), pose.Yaw, pose.Roll, po)
		}
	}
	var all, allMesh, allAnalyze int
	for _, v := range variants {
		t.Logf("%-18s exactly one face: mesh %d of %d, Analyze %d of %d", v.name, meshOK[v.name], total[v.name], analyzeOK[v.name], total[v.name])
		all += total[v.name]
		allMesh += meshOK[v.name]
		allAnalyze += analyzeOK[v.name]
	}
	t.Logf("all variants: mesh %d of %d, Analyze %d of %d", allMesh, all, allAnalyze, all)
}

// processCPU is the CPU time (user + system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkPerFrame measures, in one run, the CPU per op of the face-api
// descriptor (one 150x150 face), a BlazeFace detection (with the mesh that
// confirms it) and a mesh track on a 640-pixel frame, so their ratios hold
// on a shared machine. Run with -cpu 1.
func BenchmarkPerFrame(b *testing.B) {
	me, fe := engines(b)
	photos := singleFacePhotos(b)
	img := load(b, photos[len(photos)-1])
	k := 640 / float64(max(img.Bounds().Dx(), img.Bounds().Dy()))
	frame := image.NewRGBA(image.Rect(0, 0, int(float64(img.Bounds().Dx())*k), int(float64(img.Bounds().Dy())*k)))
	xdraw.ApproxBiLinear.Scale(frame, frame.Bounds(), img, img.Bounds(), draw.Src, nil)
	faces, err := me.Detect(frame)
	if err != nil || len(faces) != 1 {
		b.Fatal(len(faces), err)
	}
	crop := image.NewRGBA(image.Rect(0, 0, 150, 150))
	xdraw.ApproxBiLinear.Scale(crop, crop.Bounds(), frame, faces[0].Box, draw.Src, nil)
	ctx := context.Background()
	ops := []struct {
		name string
		run  func() error
	}{
		{"descriptor", func() error { _, err := fe.DescribeCrop(ctx, crop); return err }},
		{"detect", func() error { _, err := me.Detect(frame); return err }},
		{"track", func() error { _, err := me.Track(frame, &faces[0].Landmarks); return err }},
	}
	for _, op := range ops {
		b.Run(op.name, func(b *testing.B) {
			start := processCPU()
			for b.Loop() {
				if err := op.run(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
