package mesh

import (
	"image"
	"math"
)

// FaceMesh landmark indices used by the derived measures (MediaPipe's
// canonical face model; "right" and "left" are the subject's).
const (
	lmForehead      = 10  // top of the forehead, on the midline
	lmChin          = 152 // bottom of the chin
	lmUpperInnerLip = 13
	lmLowerInnerLip = 14
	lmRightEyeOuter = 33
	lmLeftEyeOuter  = 263
)

// Landmarks are the 468 FaceMesh points of one face in image pixels.
type Landmarks struct {
	Points [NumLandmarks]Point
	// Score is the mesh's face-presence score, 0..1.
	Score  float64
	region roi // the region the mesh ran on
}

// Pose is the head's orientation in degrees, 0 when facing the camera
// upright. Yaw is positive when the face turns towards the image's right,
// Pitch when it tilts up, Roll when it leans clockwise (as seen in the
// image).
type Pose struct{ Yaw, Pitch, Roll float64 }

// Landmarks runs the mesh on the square of 1.5 times the longer side of
// box around its centre (for a face box from another detector; Detect's
// faces come with their landmarks). It returns ErrNoFace when the mesh sees
// no face there.
func (e *Engine) Landmarks(img image.Image, box image.Rectangle) (Landmarks, error) {
	if box.Empty() {
		return Landmarks{}, ErrNoFace
	}
	return e.landmarks(img, roi{
		cx:   float64(box.Min.X+box.Max.X) / 2,
		cy:   float64(box.Min.Y+box.Max.Y) / 2,
		side: roiScale * float64(max(box.Dx(), box.Dy())),
	})
}

// Track runs the mesh on the region the previous frame's landmarks give
// (no detector): the cheap per-frame call for video. It returns ErrNoFace
// when the face has left the region; detect again then.
func (e *Engine) Track(img image.Image, prev *Landmarks) (Landmarks, error) {
	return e.landmarks(img, prev.next())
}

func (e *Engine) landmarks(img image.Image, r roi) (Landmarks, error) {
	w := e.bufs.Get().(*work)
	defer e.bufs.Put(w)
	in := w.in[:MeshSize*MeshSize*3]
	w.plane = crop(img, r, MeshSize, 1.0/255, 0, in, w.plane)
	outs, err := e.mesh.Run(in)
	if err != nil {
		return Landmarks{}, err
	}
	l := Landmarks{Score: float64(outs[1][0]), region: r}
	if l.Score < MinMeshScore {
		return l, ErrNoFace
	}
	zs := r.side / MeshSize
	for i := range l.Points {
		v := outs[0][3*i : 3*i+3]
		x, y := r.toImage(float64(v[0]), float64(v[1]), MeshSize)
		l.Points[i] = Point{X: x, Y: y, Z: float64(v[2]) * zs}
	}
	return l, nil
}

// meshInput is the network input Landmarks builds for a face (for the
// reference check).
func meshInput(img image.Image, r roi) []float32 {
	in := make([]float32, MeshSize*MeshSize*3)
	crop(img, r, MeshSize, 1.0/255, 0, in, nil)
	return in
}

// next is the region for the next frame: the landmarks' extent (in the
// frame turned so the eyes are level) around its centre, enlarged 1.5
// times.
func (l *Landmarks) next() roi {
	re, le := l.Points[lmRightEyeOuter], l.Points[lmLeftEyeOuter]
	a := math.Atan2(le.Y-re.Y, le.X-re.X)
	c, s := math.Cos(a), math.Sin(a)
	minU, minV := math.Inf(1), math.Inf(1)
	maxU, maxV := math.Inf(-1), math.Inf(-1)
	for _, p := range l.Points {
		u, v := p.X*c+p.Y*s, -p.X*s+p.Y*c
		minU, maxU = math.Min(minU, u), math.Max(maxU, u)
		minV, maxV = math.Min(minV, v), math.Max(maxV, v)
	}
	cu, cv := (minU+maxU)/2, (minV+maxV)/2
	return roi{cx: cu*c - cv*s, cy: cu*s + cv*c, side: roiScale * math.Max(maxU-minU, maxV-minV), angle: a}
}

// Box is the landmarks' bounding box in image pixels.
func (l *Landmarks) Box() image.Rectangle {
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	for _, p := range l.Points {
		x0, x1 = math.Min(x0, p.X), math.Max(x1, p.X)
		y0, y1 = math.Min(y0, p.Y), math.Max(y1, p.Y)
	}
	return image.Rect(int(math.Floor(x0)), int(math.Floor(y0)), int(math.Ceil(x1)), int(math.Ceil(y1)))
}

func dist3(a, b Point) float64 {
	return math.Sqrt((a.X-b.X)*(a.X-b.X) + (a.Y-b.Y)*(a.Y-b.Y) + (a.Z-b.Z)*(a.Z-b.Z))
}

// MouthOpen is the distance between the inner lips (upper and lower lip
// midpoints) over the face height (forehead top to chin), in 3-D: about 0
// with the lips closed, 0.1 to 0.3 speaking.
func (l *Landmarks) MouthOpen() float64 {
	h := dist3(l.Points[lmForehead], l.Points[lmChin])
	if h == 0 {
		return 0
	}
	return dist3(l.Points[lmUpperInnerLip], l.Points[lmLowerInnerLip]) / h
}

// Pose estimates the head's orientation from the 3-D landmarks: the face's
// x axis runs from the right to the left outer eye corner, its y axis from
// the forehead down to the chin (made orthogonal to x), and its normal is
// their cross product.
func (l *Landmarks) Pose() Pose {
	sub := func(a, b Point) [3]float64 { return [3]float64{a.X - b.X, a.Y - b.Y, a.Z - b.Z} }
	norm := func(v [3]float64) [3]float64 {
		n := math.Sqrt(v[0]*v[0] + v[1]*v[1] + v[2]*v[2])
		if n == 0 {
			return v
		}
		return [3]float64{v[0] / n, v[1] / n, v[2] / n}
	}
	dot := func(a, b [3]float64) float64 { return a[0]*b[0] + a[1]*b[1] + a[2]*b[2] }
	x := norm(sub(l.Points[lmLeftEyeOuter], l.Points[lmRightEyeOuter]))
	y := sub(l.Points[lmChin], l.Points[lmForehead])
	d := dot(x, y)
	y = norm([3]float64{y[0] - d*x[0], y[1] - d*x[1], y[2] - d*x[2]})
	// z = x × y points away from the camera; n = -z faces it.
	z := [3]float64{x[1]*y[2] - x[2]*y[1], x[2]*y[0] - x[0]*y[2], x[0]*y[1] - x[1]*y[0]}
	n := [3]float64{-z[0], -z[1], -z[2]}
	deg := 180 / math.Pi
	return Pose{
		Yaw:   math.Atan2(n[0], -n[2]) * deg,
		Pitch: math.Atan2(-n[1], math.Hypot(n[0], n[2])) * deg,
		Roll:  math.Atan2(x[1], x[0]) * deg,
	}
}
