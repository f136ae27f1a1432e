package face

import (
	"context"
	"fmt"
	"image"
	"math"

	"github.com/shenfen/shenfen/biometric/face/mesh"
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
	// Score is the detection score: pigo's for the cascade detector
	// (video frames), 100 times BlazeFace's probability for Analyze.
	Score      float64
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

// Analyze finds exactly one face in img (BlazeFace, confirmed by FaceMesh:
// package mesh), aligns it as face-api does from the mesh's eyes and mouth
// and computes its descriptor. It returns ErrNoFace, ErrManyFaces or
// ErrLowQuality (wrapped, with the reason) when the image does not hold one
// usable face.
func (e *Engine) Analyze(ctx context.Context, img image.Image) (Face, error) {
	if err := ctx.Err(); err != nil {
		return Face{}, err
	}
	return e.analyzeMesh(ctx, img)
}

// analyzeMesh is Analyze with BlazeFace and FaceMesh (package mesh): the
// faces they find (each confirmed by the mesh), the eyes and mouth points
// for the alignment taken from the 468 landmarks.
func (e *Engine) analyzeMesh(ctx context.Context, img image.Image) (Face, error) {
	faces, err := e.mesh.Detect(img)
	if err != nil {
		return Face{}, err
	}
	switch {
	case len(faces) == 0:
		return Face{}, ErrNoFace
	case len(faces) > 1:
		return Face{}, fmt.Errorf("%w: %d faces", ErrManyFaces, len(faces))
	}
	if err := ctx.Err(); err != nil {
		return Face{}, err
	}
	b := img.Bounds()
	lm := meshLandmarks(&faces[0].Landmarks)
	f := Face{Box: faceSquare(lm).Intersect(image.Rect(0, 0, b.Dx(), b.Dy())), Landmarks: lm}
	f.Crop = alignedRect(lm, b.Dx(), b.Dy())
	if f.Crop.Dx() < 8 || f.Crop.Dy() < 8 {
		return Face{}, fmt.Errorf("%w: face too small", ErrLowQuality)
	}
	crop := toRGB(img, f.Crop.Add(b.Min))
	f.Quality = measure(crop)
	f.Quality.Score = 100 * faces[0].Score
	f.Quality.EyeDist = lm.LeftEye.dist(lm.RightEye)
	if p := f.Quality.Problems(); len(p) > 0 {
		return Face{}, fmt.Errorf("%w: %s", ErrLowQuality, p[0])
	}
	f.Descriptor = e.describe(crop)
	return f, nil
}

// faceSquare is the face's box drawn from its landmarks as a frontal face
// detector's window sits: a square of 2.5 eye distances centred a fifth of
// an eye distance below the midpoint of the eyes (about where pigo's
// cascade puts it, so that the box of a photo does not depend on which
// detector found the face).
func faceSquare(lm Landmarks) image.Rectangle {
	ed := lm.LeftEye.dist(lm.RightEye)
	cx := (lm.LeftEye.X + lm.RightEye.X) / 2
	cy := (lm.LeftEye.Y+lm.RightEye.Y)/2 + 0.2*ed
	h := 1.25 * ed
	return image.Rect(int(math.Round(cx-h)), int(math.Round(cy-h)), int(math.Round(cx+h)), int(math.Round(cy+h)))
}

// FaceMesh landmark indices: the contours of the subject's right eye (on
// the image's left) and left eye, the mouth corners and the outer lips'
// midpoints (as the cascades' lip points: a closed mouth's lips are apart).
var (
	meshRightEye = []int{33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246}
	meshLeftEye  = []int{263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466}
)

const (
	meshMouthRight = 61  // the subject's right mouth corner (image left)
	meshMouthLeft  = 291 // the subject's left mouth corner
	meshUpperLip   = 0
	meshLowerLip   = 17
)

// meshLandmarks turns FaceMesh points into this package's landmarks: each
// eye's centre (the mean of its contour) and the mouth points (corners,
// outer lips); LeftEye and
// MouthLeft are on the image's left, as the cascades give them.
func meshLandmarks(l *mesh.Landmarks) Landmarks {
	centre := func(idx []int) Point {
		var x, y float64
		for _, i := range idx {
			x += l.Points[i].X
			y += l.Points[i].Y
		}
		return Point{x / float64(len(idx)), y / float64(len(idx))}
	}
	pt := func(i int) Point { return Point{l.Points[i].X, l.Points[i].Y} }
	return Landmarks{
		LeftEye:    centre(meshRightEye),
		RightEye:   centre(meshLeftEye),
		MouthLeft:  pt(meshMouthRight),
		MouthRight: pt(meshMouthLeft),
		UpperLip:   pt(meshUpperLip),
		LowerLip:   pt(meshLowerLip),
	}
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
