// Package tfjs reads the weights of TensorFlow.js models: a weights manifest
// (groups of weights, each group stored in one or more binary shards) as the
// @vladmandic packages ship them. Both the face descriptor network (package
// face) and the detector and landmark graphs (package mesh) load their
// weights through it.
//
// It is written here because no maintained Go library reads the TF.js
// format; it implements only what those models use: float32 weights, plain
// or quantised to uint8, uint16 or float16, and int32 constants, dequantised
// exactly as TF.js does it so that results stay bitwise equal.
package tfjs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// ErrFormat reports a manifest or shard that this package cannot read:
// a truncated shard, bytes left over, an unknown dtype or quantisation, a bad
// shape, or a shard path outside the model directory.
var ErrFormat = errors.New("tfjs: weights")

// Group is one entry of a weights manifest: the shard files that, read in
// order and concatenated, hold its weights one after the other.
type Group struct {
	Paths   []string `json:"paths"`
	Weights []Weight `json:"weights"`
}

// Weight describes one weight of a group.
type Weight struct {
	Name         string        `json:"name"`
	Shape        []int         `json:"shape"`
	Dtype        string        `json:"dtype"`
	Quantization *Quantization `json:"quantization"`
}

// Quantization says how a float32 weight is stored: uint8 and uint16 as
// q*Scale + Min, float16 as IEEE 754 half precision.
type Quantization struct {
	Dtype string  `json:"dtype"`
	Scale float64 `json:"scale"`
	Min   float64 `json:"min"`
}

// Tensor is one decoded weight: float32 values (F) or int32 values (I).
type Tensor struct {
	Shape []int
	F     []float32
	I     []int32
}

// maxElems bounds one weight's element count (the largest in the shipped
// models is under 2^22).
const maxElems = 1 << 26

// Read reads the shards of every group from dir and decodes each weight.
func Read(dir string, groups []Group) (map[string]Tensor, error) {
	out := make(map[string]Tensor)
	for _, g := range groups {
		var buf []byte
		for _, p := range g.Paths {
			if filepath.Base(p) != p {
				return nil, fmt.Errorf("%w: shard path %q leaves the model directory", ErrFormat, p)
			}
			b, err := os.ReadFile(filepath.Join(dir, p))
			if err != nil {
				return nil, fmt.Errorf("%w: %w", ErrFormat, err)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			t, n, err := Decode(w, buf[off:])
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %w", ErrFormat, w.Name, err)
			}
			off += n
			out[w.Name] = t
		}
		if off != len(buf) {
			return nil, fmt.Errorf("%w: %d bytes left over after the last weight", ErrFormat, len(buf)-off)
		}
	}
	return out, nil
}

// Decode decodes one weight from the start of buf and returns it with the
// number of bytes it used.
func Decode(w Weight, buf []byte) (Tensor, int, error) {
	n := 1
	for _, d := range w.Shape {
		if d < 0 || d > maxElems || n*max(d, 1) > maxElems {
			return Tensor{}, 0, fmt.Errorf("bad shape %v", w.Shape)
		}
		n *= d
	}
	t := Tensor{Shape: w.Shape}
	need := func(size int) error {
		if n*size > len(buf) {
			return errors.New("weights file truncated")
		}
		return nil
	}
	switch {
	case w.Dtype == "int32" && w.Quantization == nil:
		if err := need(4); err != nil {
			return t, 0, err
		}
		t.I = make([]int32, n)
		for k := range t.I {
			t.I[k] = int32(binary.LittleEndian.Uint32(buf[4*k:]))
		}
		return t, 4 * n, nil
	case w.Dtype != "float32":
		return t, 0, fmt.Errorf("dtype %q not supported", w.Dtype)
	case w.Quantization == nil:
		if err := need(4); err != nil {
			return t, 0, err
		}
		t.F = make([]float32, n)
		for k := range t.F {
			t.F[k] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*k:]))
		}
		return t, 4 * n, nil
	case w.Quantization.Dtype == "float16":
		if err := need(2); err != nil {
			return t, 0, err
		}
		t.F = make([]float32, n)
		for k := range t.F {
			t.F[k] = HalfToFloat(binary.LittleEndian.Uint16(buf[2*k:]))
		}
		return t, 2 * n, nil
	case w.Quantization.Dtype == "uint8":
		if err := need(1); err != nil {
			return t, 0, err
		}
		t.F = make([]float32, n)
		s, m := w.Quantization.Scale, w.Quantization.Min
		for k := range t.F {
			t.F[k] = float32(float64(buf[k])*s + m)
		}
		return t, n, nil
	case w.Quantization.Dtype == "uint16":
		if err := need(2); err != nil {
			return t, 0, err
		}
		t.F = make([]float32, n)
		s, m := w.Quantization.Scale, w.Quantization.Min
		for k := range t.F {
			t.F[k] = float32(float64(binary.LittleEndian.Uint16(buf[2*k:]))*s + m)
		}
		return t, 2 * n, nil
	}
	return t, 0, fmt.Errorf("quantization %q not supported", w.Quantization.Dtype)
}

// HalfToFloat converts an IEEE 754 half-precision value to float32 exactly
// (TF.js's float16 dequantisation).
func HalfToFloat(h uint16) float32 {
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
