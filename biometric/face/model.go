package face

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
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

// manifestGroup is one entry of a tfjs weights manifest.
type manifestGroup struct {
	Paths   []string         `json:"paths"`
	Weights []manifestWeight `json:"weights"`
}

type manifestWeight struct {
	Name         string `json:"name"`
	Shape        []int  `json:"shape"`
	Dtype        string `json:"dtype"`
	Quantization *struct {
		Dtype string  `json:"dtype"`
		Scale float64 `json:"scale"`
		Min   float64 `json:"min"`
	} `json:"quantization"`
}

// tensorData is one named weight after dequantisation.
type tensorData struct {
	shape []int
	data  []float32
}

// loadWeights reads a tfjs weights manifest and its binary shards from dir
// and returns every weight as float32, dequantised exactly as tfjs does it
// (value = q*scale + min computed in float64, then stored as float32).
func loadWeights(dir, manifestName string) (map[string]tensorData, error) {
	raw, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModel, err)
	}
	var groups []manifestGroup
	if err := json.Unmarshal(raw, &groups); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrModel, manifestName, err)
	}
	out := make(map[string]tensorData)
	for _, g := range groups {
		var buf []byte
		for _, p := range g.Paths {
			if filepath.Base(p) != p {
				return nil, fmt.Errorf("%w: %s: shard path %q leaves the model directory", ErrModel, manifestName, p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrModel, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			n := 1
			for _, d := range w.Shape {
				if d <= 0 || d > 1<<24 {
					return nil, fmt.Errorf("%w: %s: bad shape %v", ErrModel, w.Name, w.Shape)
				}
				n *= d
			}
			if w.Dtype != "float32" {
				return nil, fmt.Errorf("%w: %s: dtype %q not supported", ErrModel, w.Name, w.Dtype)
			}
			vals := make([]float32, n)
			switch {
			case w.Quantization == nil:
				if off+4*n > len(buf) {
					return nil, fmt.Errorf("%w: %s: weights file truncated", ErrModel, w.Name)
				}
				for i := range vals {
					vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[off+4*i:]))
				}
				off += 4 * n
			case w.Quantization.Dtype == "uint8":
				if off+n > len(buf) {
					return nil, fmt.Errorf("%w: %s: weights file truncated", ErrModel, w.Name)
				}
				s, m := w.Quantization.Scale, w.Quantization.Min
				for i := range vals {
					vals[i] = float32(float64(buf[off+i])*s + m)
				}
				off += n
			case w.Quantization.Dtype == "uint16":
				if off+2*n > len(buf) {
					return nil, fmt.Errorf("%w: %s: weights file truncated", ErrModel, w.Name)
				}
				s, m := w.Quantization.Scale, w.Quantization.Min
				for i := range vals {
					vals[i] = float32(float64(binary.LittleEndian.Uint16(buf[off+2*i:]))*s + m)
				}
				off += 2 * n
			default:
				return nil, fmt.Errorf("%w: %s: quantization %q not supported", ErrModel, w.Name, w.Quantization.Dtype)
			}
			out[w.Name] = tensorData{shape: w.Shape, data: vals}
		}
		if off != len(buf) {
			return nil, fmt.Errorf("%w: %s: %d bytes left over after the last weight", ErrModel, manifestName, len(buf)-off)
		}
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
