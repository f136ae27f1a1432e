package tfjs

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestHalfToFloat(t *testing.T) {
	for _, c := range []struct {
		h    uint16
		want float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.33325195}, {0x7bff, 65504},
		{0x0001, 5.9604645e-08}, {0x03ff, 6.097555e-05}, {0x8000, float32(math.Copysign(0, -1))},
	} {
		if got := HalfToFloat(c.h); got != c.want || math.Signbit(float64(got)) != math.Signbit(float64(c.want)) {
			t.Errorf("%#04x: %v, want %v", c.h, got, c.want)
		}
	}
	if !math.IsInf(float64(HalfToFloat(0x7c00)), 1) || !math.IsNaN(float64(HalfToFloat(0x7e00))) {
		t.Error("infinity or NaN")
	}
}

// TestRead decodes each supported storage from one shard and refuses the
// malformed manifests a damaged or hostile model directory could hold.
func TestRead(t *testing.T) {
	var bin []byte
	bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(1.5))
	bin = binary.LittleEndian.AppendUint32(bin, math.Float32bits(-2))
	bin = append(bin, 0, 255)                               // uint8
	bin = binary.LittleEndian.AppendUint16(bin, 2)          // uint16
	bin = binary.LittleEndian.AppendUint16(bin, 0x3c00)     // float16 1.0
	bin = binary.LittleEndian.AppendUint32(bin, 0xffffffff) // int32 -1
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), bin, 0o600); err != nil {
		t.Fatal(err)
	}
	good := []Weight{
		{Name: "f", Shape: []int{2}, Dtype: "float32"},
		{Name: "u8", Shape: []int{2}, Dtype: "float32", Quantization: &Quantization{Dtype: "uint8", Scale: 0.5, Min: -1}},
		{Name: "u16", Shape: []int{1}, Dtype: "float32", Quantization: &Quantization{Dtype: "uint16", Scale: 2, Min: 1}},
		{Name: "h", Shape: []int{}, Dtype: "float32", Quantization: &Quantization{Dtype: "float16"}},
		{Name: "i", Shape: []int{1}, Dtype: "int32"},
	}
	got, err := Read(dir, []Group{{Paths: []string{"w.bin"}, Weights: good}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]float32{"f": {1.5, -2}, "u8": {-1, 126.5}, "u16": {5}, "h": {1}}
	for name, w := range want {
		if g := got[name].F; len(g) != len(w) || (len(w) > 0 && g[0] != w[0]) || g[len(g)-1] != w[len(w)-1] {
			t.Errorf("%s: %v, want %v", name, g, w)
		}
	}
	if i := got["i"].I; len(i) != 1 || i[0] != -1 {
		t.Errorf("int32: %v", i)
	}
	for _, tc := range []struct {
		name  string
		group Group
	}{
		{"truncated", Group{Paths: []string{"w.bin"}, Weights: append(good[:len(good):len(good)], Weight{Name: "x", Shape: []int{1}, Dtype: "float32"})}},
		{"left over", Group{Paths: []string{"w.bin"}, Weights: good[:1]}},
		{"path escapes", Group{Paths: []string{"../w.bin"}, Weights: good}},
		{"missing shard", Group{Paths: []string{"none.bin"}, Weights: good}},
		{"dtype", Group{Paths: []string{"w.bin"}, Weights: []Weight{{Name: "s", Shape: []int{1}, Dtype: "string"}}}},
		{"quantization", Group{Paths: []string{"w.bin"}, Weights: []Weight{{Name: "q", Shape: []int{1}, Dtype: "float32", Quantization: &Quantization{Dtype: "int4"}}}}},
		{"shape", Group{Paths: []string{"w.bin"}, Weights: []Weight{{Name: "big", Shape: []int{1 << 20, 1 << 20}, Dtype: "float32"}}}},
		{"negative shape", Group{Paths: []string{"w.bin"}, Weights: []Weight{{Name: "neg", Shape: []int{-1}, Dtype: "float32"}}}},
	} {
		if _, err := Read(dir, []Group{tc.group}); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", tc.name, err)
		}
	}
}
