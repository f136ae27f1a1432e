package mesh

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ErrModel reports missing, truncated or inconsistent model files, and
// graphs that use an operation or attribute the executor does not run.
var ErrModel = errors.New("mesh: model files")

// modelJSON is a TF.js graph model file (model.json): the TensorFlow
// GraphDef as JSON and the weights manifest.
type modelJSON struct {
	Format        string `json:"format"`
	ModelTopology struct {
		Node []nodeDef `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []manifestGroup `json:"weightsManifest"`
}

type nodeDef struct {
	Name  string             `json:"name"`
	Op    string             `json:"op"`
	Input []string           `json:"input"`
	Attr  map[string]attrDef `json:"attr"`
}

// attrDef is a GraphDef AttrValue as the converter writes it in JSON
// (64-bit integers as strings, strings as base64).
type attrDef struct {
	S    *string  `json:"s"`
	I    *string  `json:"i"`
	F    *float64 `json:"f"`
	B    *bool    `json:"b"`
	List *struct {
		S []string  `json:"s"`
		I []string  `json:"i"`
		F []float64 `json:"f"`
	} `json:"list"`
}

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

// constant is one weight of the manifest: float32 values (dequantised as
// tfjs does it) or int32 values (shapes, paddings).
type constant struct {
	shape []int
	f     []float32
	i     []int32
}

// maxWeightElems bounds one weight's element count (the largest in the
// shipped models is under 2^22).
const maxWeightElems = 1 << 26

// readModel reads dir/name.json and its weight shards.
func readModel(dir, name string) ([]nodeDef, map[string]constant, error) {
	file := name + ".json"
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrModel, err)
	}
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrModel, file, err)
	}
	if m.Format != "graph-model" {
		return nil, nil, fmt.Errorf("%w: %s: format %q, want graph-model", ErrModel, file, m.Format)
	}
	consts := make(map[string]constant)
	for _, g := range m.WeightsManifest {
		var buf []byte
		for _, p := range g.Paths {
			if filepath.Base(p) != p {
				return nil, nil, fmt.Errorf("%w: %s: shard path %q leaves the model directory", ErrModel, file, p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %w", ErrModel, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			c, n, err := decodeWeight(w, buf[off:])
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %s: %s: %w", ErrModel, file, w.Name, err)
			}
			off += n
			consts[w.Name] = c
		}
		if off != len(buf) {
			return nil, nil, fmt.Errorf("%w: %s: %d bytes left over after the last weight", ErrModel, file, len(buf)-off)
		}
	}
	return m.ModelTopology.Node, consts, nil
}

// decodeWeight decodes one weight from the start of buf and returns it
// with the number of bytes it used.
func decodeWeight(w manifestWeight, buf []byte) (constant, int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 || d > maxWeightElems || n*max(d, 1) > maxWeightElems {
			return constant{}, 0, fmt.Errorf("bad shape %v", w.Shape)
		}
		n *= d
	}
	c := constant{shape: w.Shape}
	need := func(size int) error {
		if n*size > len(buf) {
			return errors.New("weights file truncated")
		}
		return nil
	}
	switch {
	case w.Dtype == "int32" && w.Quantization == nil:
		if err := need(4); err != nil {
			return c, 0, err
		}
		c.i = make([]int32, n)
		for k := range c.i {
			c.i[k] = int32(binary.LittleEndian.Uint32(buf[4*k:]))
		}
		return c, 4 * n, nil
	case w.Dtype != "float32":
		return c, 0, fmt.Errorf("dtype %q not supported", w.Dtype)
	case w.Quantization == nil:
		if err := need(4); err != nil {
			return c, 0, err
		}
		c.f = make([]float32, n)
		for k := range c.f {
			c.f[k] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:]))
		}
		return c, 4 * n, nil
	case w.Quantization.Dtype == "float16":
		if err := need(2); err != nil {
			return c, 0, err
		}
		c.f = make([]float32, n)
		for k := range c.f {
			c.f[k] = halfToFloat(binary.LittleEndian.Uint16(buf[2*k:]))
		}
		return c, 2 * n, nil
	case w.Quantization.Dtype == "uint8":
		if err := need(1); err != nil {
			return c, 0, err
		}
		c.f = make([]float32, n)
		s, m := w.Quantization.Scale, w.Quantization.Min
		for k := range c.f {
			c.f[k] = float32(float64(buf[k])*s + m)
		}
		return c, n, nil
	case w.Quantization.Dtype == "uint16":
		if err := need(2); err != nil {
			return c, 0, err
		}
		c.f = make([]float32, n)
		s, m := w.Quantization.Scale, w.Quantization.Min
		for k := range c.f {
			c.f[k] = float32(float64(binary.LittleEndian.Uint16(buf[2*k:]))*s + m)
		}
		return c, 2 * n, nil
	}
	return c, 0, fmt.Errorf("quantization %q not supported", w.Quantization.Dtype)
}

// halfToFloat converts an IEEE 754 half-precision value to float32 exactly
// (tfjs's float16 dequantisation).
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: frac * 2^-24
		v := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}

// attribute accessors; a missing attribute gives the zero value.

func (n *nodeDef) str(key string) string {
	a, ok := n.Attr[key]
	if !ok || a.S == nil {
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(*a.S)
	if err != nil {
		return ""
	}
	return string(b)
}

func (n *nodeDef) ints(key string) []int {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]int, 0, len(a.List.I))
	for _, s := range a.List.I {
		v, err := strconv.Atoi(s)
		if err != nil {
			return nil
		}
		out = append(out, v)
	}
	return out
}

func (n *nodeDef) strs(key string) []string {
	a, ok := n.Attr[key]
	if !ok || a.List == nil {
		return nil
	}
	out := make([]string, 0, len(a.List.S))
	for _, s := range a.List.S {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil
		}
		out = append(out, string(b))
	}
	return out
}

// inputName strips an input reference to the node name: "x:0" -> "x". It
// reports false for control inputs ("^x") and for outputs other than the
// first, which the executor does not use.
func inputName(s string) (string, bool, error) {
	if strings.HasPrefix(s, "^") {
		return "", false, nil
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		if s[i+1:] != "0" {
			return "", false, fmt.Errorf("%w: input %q: only the first output of a node is supported", ErrModel, s)
		}
		s = s[:i]
	}
	return s, true, nil
}
