package face

import (
	"context"
	"image"
	"sync"
)

// Engine holds the loaded models (descriptor network and face detector). It
// is safe for concurrent use; load it once per process.
type Engine struct {
	net  *recognitionNet
	det  *detector
	pool sync.Pool // *workspace
}

// Load reads the descriptor network's weights from dir (see DefaultModelDir)
// and the detector cascades embedded in this package.
func Load(dir string) (*Engine, error) {
	n, err := loadRecognitionNet(dir)
	if err != nil {
		return nil, err
	}
	d, err := newDetector()
	if err != nil {
		return nil, err
	}
	e := &Engine{net: n, det: d}
	e.pool.New = func() any { return new(workspace) }
	return e, nil
}

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
