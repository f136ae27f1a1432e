package face

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/blas"
)

func randomMatrix(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = rng.Float32()*2 - 1
	}
	return v
}

// TestMatrixMul checks the packed kernels (where the CPU has them) against
// a float64 reference on the shapes the network uses and on row counts that
// are not multiples of 4, and that the 16- and 32-column kernels give the
// same floats.
func TestMatrixMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []struct{ m, k, n int }{{1, 1, 32}, {5, 7, 32}, {9, 147, 32}, {17, 288, 64}, {64, 1152, 128}, {3, 2304, 256}} {
		a := randomMatrix(rng, roundUp(s.m, 4)*s.k)
		rows := randomMatrix(rng, s.k*s.n)
		var results [][]float32
		for _, bm := range []matrix{newMatrix(s.k, s.n, rows), {k: s.k, n: s.n, rows: rows}, packed(t, s.k, s.n, rows, 16), packed(t, s.k, s.n, rows, 32)} {
			if bm.k == 0 {
				continue // no kernel for that width on this CPU
			}
			c := make([]float32, roundUp(s.m, 4)*s.n)
			bm.mul(s.m, a, c)
			worst := 0.0
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.n; j++ {
					var want float64
					for p := 0; p < s.k; p++ {
						want += float64(a[i*s.k+p]) * float64(bm.rows[p*s.n+j])
					}
					worst = math.Max(worst, math.Abs(float64(c[i*s.n+j])-want))
				}
			}
			if worst > 1e-4*math.Sqrt(float64(s.k)) {
				t.Errorf("%dx%dx%d, panels of %d: max error %g", s.m, s.k, s.n, bm.width, worst)
			}
			if bm.width != 0 {
				results = append(results, c[:s.m*s.n])
			}
		}
		for _, c := range results[1:] {
			if !slices.Equal(c, results[0]) {
				t.Errorf("%dx%dx%d: the kernels' products differ", s.m, s.k, s.n)
			}
		}
	}
	t.Logf("assembly kernels in use: AVX2 %v, AVX-512 %v", haveKernel, haveWideKernel)
}

// packed is packedMatrix when the CPU has the kernel for width, else the
// zero matrix.
func packed(t *testing.T, k, n int, rows []float32, width int) matrix {
	t.Helper()
	if !haveKernel || width == 32 && !haveWideKernel {
		t.Logf("no %d-column kernel on this CPU", width)
		return matrix{}
	}
	return packedMatrix(k, n, rows, width)
}

// BenchmarkGEMM compares the packed kernel with gonum's Sgemm on the
// network's most frequent product (35x35 outputs, 3x3x32 patches, 32
// filters), in one run so the ratio holds on a shared machine.
func BenchmarkGEMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, k, n := 1225, 288, 32
	a := randomMatrix(rng, roundUp(m, 4)*k)
	bm := newMatrix(k, n, randomMatrix(rng, k*n))
	c := make([]float32, roundUp(m, 4)*n)
	for _, w := range []int{16, 32} {
		b.Run(fmt.Sprintf("kernel%d", w), func(b *testing.B) {
			if !haveKernel || w == 32 && !haveWideKernel {
				b.Skip("no assembly kernel of that width on this CPU")
			}
			bm := packedMatrix(k, n, bm.rows, w)
			defer reportCPU(b)()
			for b.Loop() {
				bm.mul(m, a, c)
			}
		})
	}
	b.Run("gonum", func(b *testing.B) {
		defer reportCPU(b)()
		for b.Loop() {
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bm.rows, n, 0, c, n)
		}
	})
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
