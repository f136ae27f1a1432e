package mesh

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeModel writes a graph model NAME.json and NAME.bin to a temporary
// directory.
func writeModel(t *testing.T, json string, bin []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "m.json"), []byte(json), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "m.bin"), bin, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func floats(v ...float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// A one-convolution graph: input [1 2 2 1], a 1x1 filter of 2 channels
// with bias and ReLU.
const convGraph = `{"format": "graph-model", "modelTopology": {"node": [
 {"name": "x", "op": "Placeholder"},
 {"name": "w", "op": "Const"}, {"name": "b", "op": "Const"},
 {"name": "y", "op": "_FusedConv2D", "input": ["x", "w", "b"], "attr": {
   "strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "VkFMSUQ="},
   "fused_ops": {"list": {"s": ["Qmlhc0FkZA==", "UmVsdQ=="]}}}}]},
 "weightsManifest": [{"paths": ["m.bin"], "weights": [
   {"name": "w", "shape": [1, 1, 1, 2], "dtype": "float32"},
   {"name": "b", "shape": [2], "dtype": "float32"}]}]}`

// TestSmallGraph runs a hand-written graph: conv, bias, ReLU.
func TestSmallGraph(t *testing.T) {
	dir := writeModel(t, convGraph, floats(2, -1, 0.5, 0))
	g, err := loadGraph(dir, "m", []int{1, 2, 2, 1}, "y")
	if err != nil {
		t.Fatal(err)
	}
	out, err := g.Run([]float32{1, 2, 3, -4})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{2.5, 0, 4.5, 0, 6.5, 0, 0, 4}
	for i, v := range want {
		if out[0][i] != v {
			t.Fatalf("output %v, want %v", out[0], want)
		}
	}
}

// TestBadModels: broken or unsupported model files give ErrModel, never a
// panic.
func TestBadModels(t *testing.T) {
	good := floats(2, -1, 0.5, 0)
	for _, c := range []struct {
		name, json string
		bin        []byte
	}{
		{"not JSON", `{`, good},
		{"layers model", strings.Replace(convGraph, "graph-model", "layers-model", 1), good},
		{"truncated weights", convGraph, good[:12]},
		{"extra bytes", convGraph, append(good, 0, 0, 0, 0)},
		{"shard outside the directory", strings.Replace(convGraph, `["m.bin"]`, `["../m.bin"]`, 1), good},
		{"negative shape", strings.Replace(convGraph, `"shape": [2]`, `"shape": [-2]`, 1), good},
		{"huge shape", strings.Replace(convGraph, `"shape": [2]`, `"shape": [99999999, 99999999]`, 1), good},
		{"bad dtype", strings.Replace(convGraph, `"shape": [2], "dtype": "float32"`, `"shape": [2], "dtype": "string"`, 1), good},
		{"unknown op", strings.Replace(convGraph, `"op": "_FusedConv2D"`, `"op": "Einsum"`, 1), good},
		{"missing input", strings.Replace(convGraph, `["x", "w", "b"]`, `["x", "nope", "b"]`, 1), good},
		{"second output", strings.Replace(convGraph, `["x", "w", "b"]`, `["x:1", "w", "b"]`, 1), good},
		{"cycle", strings.Replace(convGraph, `["x", "w", "b"]`, `["y", "w", "b"]`, 1), good},
		{"dilation", strings.Replace(convGraph, `"padding"`, `"dilations": {"list": {"i": ["1", "2", "2", "1"]}}, "padding"`, 1), good},
		{"filter mismatch", strings.Replace(convGraph, `"shape": [1, 1, 1, 2]`, `"shape": [1, 1, 2, 1]`, 1), good},
		{"unknown fused op", strings.Replace(convGraph, `"UmVsdQ=="`, `"RWx1"`, 1), good},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadGraph(writeModel(t, c.json, c.bin), "m", []int{1, 2, 2, 1}, "y")
			if !errors.Is(err, ErrModel) {
				t.Errorf("%v, want ErrModel", err)
			}
		})
	}
	if _, err := New(t.TempDir()); !errors.Is(err, ErrModel) {
		t.Errorf("empty directory: %v", err)
	}
}
