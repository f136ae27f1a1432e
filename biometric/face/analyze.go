package face

import (
	"context"
	"fmt"
	"image"
	"math"
)

// Face is the one face found in an image.
type Face struct {
	Box        image.Rectangle // detector box, in the image's pixel coordinates (origin 0,0)
	Crop       image.Rectangle // aligned square the descriptor was computed from (clipped to the image)
	Landmarks  Landmarks
	Descriptor Descriptor
	Quality    Quality
}

// Quality holds the measurements ErrLowQuality is decided on.
type Quality struct {
	Score      float64 // pigo detection score
	EyeDist    float64 // distance between the pupils, pixels
	Brightness float64 // mean luminance of the aligned crop, 0-255
	Contrast   float64 // standard deviation of the luminance of the aligned crop
	Sharpness  float64 // variance of the Laplacian of the crop scaled to 150x150 luminance
}

// Quality thresholds: a face is refused with ErrLowQuality when any
// measurement is below its minimum.
const (
	MinEyeDist    = 24   // pixels between the pupils (a crop of about 100 pixels)
	MinBrightness = 40   // mean luminance
	MinContrast   = 12   // luminance standard deviation
	MinSharpness  = 15   // Laplacian variance at 150x150
	MinScore      = 10.0 // pigo detection score; weaker detections are not counted as faces
)

// Problems lists what is wrong with q, empty when it passes.
func (q Quality) Problems() []string {
	var p []string
	if q.Score < MinScore {
		p = append(p, fmt.Sprintf("detection score %.1f < %.1f", q.Score, float64(MinScore)))
	}
	if q.EyeDist < MinEyeDist {
		p = append(p, fmt.Sprintf("face too small: %.0f px between the eyes < %d", q.EyeDist, MinEyeDist))
	}
	if q.Brightness < MinBrightness {
		p = append(p, fmt.Sprintf("too dark: mean luminance %.0f < %d", q.Brightness, MinBrightness))
	}
	if q.Contrast < MinContrast {
		p = append(p, fmt.Sprintf("too flat: luminance deviation %.1f < %d", q.Contrast, MinContrast))
	}
	if q.Sharpness < MinSharpness {
		p = append(p, fmt.Sprintf("too blurry: sharpness %.1f < %d", q.Sharpness, MinSharpness))
	}
	return p
}

// Analyze finds exactly one face in img, aligns it as face-api does and
// computes its descriptor. It returns ErrNoFace, ErrManyFaces or
// ErrLowQuality (wrapped, with the reason) when the image does not hold one
// usable face.
func (e *Engine) Analyze(ctx context.Context, img image.Image) (Face, error) {
	if err := ctx.Err(); err != nil {
		return Face{}, err
	}
	return e.analyze(ctx, img, luminance(img), 0)
}

// analyze finds the one face of img, whose luminance is g (looking for
// faces with a box side of at least minSide pixels when minSide > 0), and
// computes its descriptor. Only the face crop is converted to RGB.
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

// measure computes brightness, contrast and sharpness of a face crop on its
// luminance scaled to the network's 150x150 input, so the figures do not
// depend on the photo's resolution.
func measure(crop rgbImage) Quality {
	in := netInput(crop)
	n := InputSize * InputSize
	lum := make([]float64, n)
	var sum, sq float64
	for i := 0; i < n; i++ {
		v := 0.299*float64(in[3*i]) + 0.587*float64(in[3*i+1]) + 0.114*float64(in[3*i+2])
		lum[i] = v
		sum += v
		sq += v * v
	}
	mean := sum / float64(n)
	q := Quality{Brightness: mean, Contrast: math.Sqrt(math.Max(0, sq/float64(n)-mean*mean))}
	// Laplacian over the central part (the padding of a clipped crop would
	// count as edges).
	var ls, lsq float64
	cnt := 0
	for y := 20; y < InputSize-20; y++ {
		for x := 20; x < InputSize-20; x++ {
			l := 4*lum[y*InputSize+x] - lum[(y-1)*InputSize+x] - lum[(y+1)*InputSize+x] - lum[y*InputSize+x-1] - lum[y*InputSize+x+1]
			ls += l
			lsq += l * l
			cnt++
		}
	}
	lm := ls / float64(cnt)
	q.Sharpness = lsq/float64(cnt) - lm*lm
	return q
}
