package face

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func sampleDescriptor() Descriptor {
	var d Descriptor
	for i := range d {
		d[i] = float32(math.Sin(float64(i))) / 10
	}
	return d
}

func TestDescriptorRoundTrip(t *testing.T) {
	d := sampleDescriptor()
	b, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got Descriptor
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if got != d {
		t.Fatal("round trip changed the descriptor")
	}
	if Distance(got, d) != 0 {
		t.Fatal("distance to itself is not 0")
	}
}

func TestDescriptorUnmarshalHostile(t *testing.T) {
	good, _ := sampleDescriptor().MarshalBinary()
	otherModel := append([]byte{1, 4}, "nope"...)
	otherModel = append(otherModel, make([]byte, 512)...)
	nan := bytes.Clone(good)
	copy(nan[len(nan)-4:], []byte{0, 0, 0xc0, 0x7f})
	for name, b := range map[string][]byte{
		"empty":       nil,
		"one byte":    {1},
		"format 2":    append([]byte{2}, good[1:]...),
		"truncated":   good[:len(good)-1],
		"extra byte":  append(bytes.Clone(good), 0),
		"other model": otherModel,
		"NaN value":   nan,
	} {
		var d Descriptor
		if err := d.UnmarshalBinary(b); !errors.Is(err, ErrTemplate) {
			t.Errorf("%s: err = %v, want ErrTemplate", name, err)
		}
	}
}

func TestDistance(t *testing.T) {
	var a, b Descriptor
	a[0], b[0] = 3, 0
	a[1], b[1] = 0, 4
	if d := Distance(a, b); d != 5 {
		t.Fatalf("Distance = %v, want 5", d)
	}
}

func FuzzDescriptorUnmarshal(f *testing.F) {
	good, _ := sampleDescriptor().MarshalBinary()
	f.Add(good)
	f.Add([]byte{1, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var d Descriptor
		if err := d.UnmarshalBinary(b); err != nil {
			return
		}
		again, _ := d.MarshalBinary()
		if !bytes.Equal(again, b) {
			t.Fatal("accepted template does not re-encode to itself")
		}
	})
}
