package face

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shenfen/shenfen/biometric/face/internal/tfjs"
)

// ModelVersion names the face descriptor model this package runs: the
// ResNet-34-style network of @vladmandic/face-api 1.7.15
// (face_recognition_model), itself a port of dlib's face recognition model.
// It is part of every serialised Descriptor, so templates made by another
// model are refused rather than compared.
const ModelVersion = "face-api-1.7.15/face_recognition_model"

// Model file names inside a model directory (as @vladmandic/face-api ships them).
const (
	recognitionManifest = "face_recognition_model-weights_manifest.json"
)

// ErrModel reports missing, truncated or inconsistent model files.
var ErrModel = errors.New("face: model files")

// tensorData is one named weight after dequantisation.
type tensorData struct {
	shape []int
	data  []float32
}

// loadWeights reads a tfjs weights manifest and its binary shards from dir
// and returns every weight as float32, dequantised exactly as tfjs does it.
func loadWeights(dir, manifestName string) (map[string]tensorData, error) {
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	var groups []tfjs.Group
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrModel, manifestName, err)
	}
	ts, err := tfjs.Read(dir, groups)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrModel, manifestName, err)
	}
	out := make(map[string]tensorData, len(ts))
	for name, t := range ts {
		if t.F == nil {
			return nil, fmt.Errorf("%w: %s: %s is not a float32 weight", ErrModel, manifestName, name)
		}
		out[name] = tensorData{shape: t.Shape, data: t.F}
	}
	return out, nil
}

// DefaultModelDir finds the face-api model directory: $SHENFEN_FACE_MODEL_DIR
// if set, else node_modules/@vladmandic/face-api/model in the working
// directory or the nearest parent that has it (the repository root after
// scripts/setup.sh has run npm install).
func DefaultModelDir() (string, error) {
	if d := os.Getenv("SHENFEN_FACE_MODEL_DIR"); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrModel, err)
	}
	for d := wd; ; {
		cand := filepath.Join(d, "node_modules", "@vladmandic", "face-api", "model")
		if _, err := os.Stat(filepath.Join(cand, recognitionManifest)); err == nil {
			return cand, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	return "", fmt.Errorf("%w: node_modules/@vladmandic/face-api/model not found from %s (run scripts/setup.sh or set SHENFEN_FACE_MODEL_DIR)", ErrModel, wd)
}
