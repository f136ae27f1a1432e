package face

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func randomMatrix(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

// TestScaleShift: the AVX-512 bias, scale and ReLU pass gives the Go
// loop's floats bit for bit, zeros of either sign included.
func TestScaleShift(t *testing.T) {
	if !haveWideKernel {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{32, 64, 256} {
		l := convLayer{out: n, bias: randomMatrix(rng, n), scaleW: randomMatrix(rng, n), scaleB: randomMatrix(rng, n)}
		l.bias[0], l.scaleB[0] = 0, float32(math.Copysign(0, -1))
		v := randomMatrix(rng, 37*n)
		for i := 0; i < len(v); i += 7 {
			v[i] = float32(math.Copysign(0, float64(rng.IntN(2)-1)))
		}
		for _, relu := range []bool{false, true} {
			want := slices.Clone(v)
			scaleShiftGo(want, &l, relu)
			got := slices.Clone(v)
			scaleShift(got, &l, relu)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("n %d relu %v: element %d is %g, the Go loop gives %g", n, relu, i, got[i], want[i])
				}
			}
		}
	}
}

// TestMaxInto: the AVX-512 max gives the Go comparison's floats bit for
// bit, zeros of either sign included.
func TestMaxInto(t *testing.T) {
	if !haveWideKernel {
		t.Skip("no AVX-512 on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 10))
	negZero := float32(math.Copysign(0, -1))
	for _, n := range []int{16, 32, 256} {
		dst, src := randomMatrix(rng, n), randomMatrix(rng, n)
		dst[0], src[0], dst[1], src[1] = 0, negZero, negZero, 0
		want := slices.Clone(dst)
		for c := range want {
			if src[c] > want[c] {
				want[c] = src[c]
			}
		}
		maxInto(dst, src)
		for c := range want {
			if math.Float32bits(dst[c]) != math.Float32bits(want[c]) {
				t.Fatalf("n %d: element %d is %g, want %g", n, c, dst[c], want[c])
			}
		}
	}
}
