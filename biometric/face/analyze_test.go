package face

import (
	"context"
	"errors"
	"image"
	"image/color"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/draw"
)

// TestAnalyzePhotos: every single-person photo of the shared set yields one
// face of sufficient quality with landmarks in plausible places, and the
// photo of two people yields ErrManyFaces.
func TestAnalyzePhotos(t *testing.T) {
	results := analyzeAll(t)
	for _, p := range labelledPhotos(t) {
		t.Run(p.person+"/"+filepath.Base(p.path), func(t *testing.T) {
			img := loadPhoto(t, p.path)
			f, err := results[p.path].face, results[p.path].err
			if filepath.Base(p.path) == "obama_and_biden.jpg" {
				if !errors.Is(err, ErrManyFaces) {
					t.Fatalf("err = %v, want ErrManyFaces", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lm := f.Landmarks
			if !(lm.LeftEye.X < lm.RightEye.X) || lm.MouthCenter().Y <= (lm.LeftEye.Y+lm.RightEye.Y)/2 {
				t.Errorf("implausible landmarks %+v", lm)
			}
			if !f.Crop.In(img.Bounds().Sub(img.Bounds().Min)) || f.Crop.Dx() < 50 {
				t.Errorf("crop %v in image %v", f.Crop, img.Bounds())
			}
			if p := f.Quality.Problems(); len(p) > 0 {
				t.Errorf("quality problems %v", p)
			}
		})
	}
}

// photo loads a shared photo by file name, or "person_file" where the file
// name is not unique.
func photo(t testing.TB, name string) image.Image {
	t.Helper()
	for _, p := range labelledPhotos(t) {
		if filepath.Base(p.path) == name || p.person+"_"+strings.TrimSuffix(filepath.Base(p.path), filepath.Ext(p.path)) == name {
			return loadPhoto(t, p.path)
		}
	}
	t.Fatalf("photo %s not found", name)
	return nil
}

// mapImage applies f to every pixel of img.
func mapImage(img image.Image, f func(c color.RGBA) color.RGBA) *image.RGBA {
	b := img.Bounds()
	out := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(out, out.Bounds(), img, b.Min, draw.Src)
	for i := 0; i < len(out.Pix); i += 4 {
		c := f(color.RGBA{out.Pix[i], out.Pix[i+1], out.Pix[i+2], 255})
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = c.R, c.G, c.B
	}
	return out
}

func TestAnalyzeRefusals(t *testing.T) {
	e := testEngine(t)
	ctx := context.Background()
	obama := photo(t, "obama.jpg")
	b := obama.Bounds()
	gray := image.NewUniform(color.Gray{128})
	blank := image.NewRGBA(image.Rect(0, 0, 400, 400))
	draw.Draw(blank, blank.Bounds(), gray, image.Point{}, draw.Src)
	// Too blurry: scaled down 12 times and back up.
	small := image.NewRGBA(image.Rect(0, 0, b.Dx()/12, b.Dy()/12))
	draw.BiLinear.Scale(small, small.Bounds(), obama, b, draw.Src, nil)
	blurry := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.BiLinear.Scale(blurry, blurry.Bounds(), small, small.Bounds(), draw.Src, nil)
	// Too small: the whole photo at 1/8 size on a larger grey canvas.
	tiny := image.NewRGBA(image.Rect(0, 0, 640, 480))
	draw.Draw(tiny, tiny.Bounds(), gray, image.Point{}, draw.Src)
	draw.BiLinear.Scale(tiny, image.Rect(200, 150, 200+b.Dx()/8, 150+b.Dy()/8), obama, b, draw.Src, nil)
	// Side by side: two faces.
	two := image.NewRGBA(image.Rect(0, 0, 2*b.Dx(), b.Dy()))
	draw.Draw(two, b.Sub(b.Min), obama, b.Min, draw.Src)
	draw.Draw(two, b.Sub(b.Min).Add(image.Pt(b.Dx(), 0)), photo(t, "biden2.jpg"), image.Point{}, draw.Src)
	for _, tc := range []struct {
		name string
		img  image.Image
		want []error
	}{
		{"blank", blank, []error{ErrNoFace}},
		{"dark", mapImage(obama, func(c color.RGBA) color.RGBA { return color.RGBA{c.R / 8, c.G / 8, c.B / 8, 255} }), []error{ErrLowQuality, ErrNoFace}},
		{"blurry", blurry, []error{ErrLowQuality, ErrNoFace}},
		{"tiny", tiny, []error{ErrLowQuality, ErrNoFace}},
		{"two people", two, []error{ErrManyFaces}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Analyze(ctx, tc.img)
			for _, w := range tc.want {
				if errors.Is(err, w) {
					t.Logf("refused: %v", err)
					return
				}
			}
			t.Fatalf("err = %v, want one of %v", err, tc.want)
		})
	}
}

func TestAnalyzeCanceled(t *testing.T) {
	e := testEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Analyze(ctx, photo(t, "obama.jpg")); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
