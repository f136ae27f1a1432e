package gemm

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
// a float64 reference on the shapes the networks use, on row counts that
// are not multiples of 4 and on column counts that are not multiples of the
// panel width, and that the 16- and 32-column kernels give the same floats.
func TestMatrixMul(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range []struct{ m, k, n int }{
		{1, 1, 32}, {5, 7, 32}, {9, 147, 32}, {17, 288, 64}, {64, 1152, 128}, {3, 2304, 256},
		{7, 3, 24}, {13, 24, 28}, {9, 96, 6}, {5, 64, 1404}, {11, 32, 1},
	} {
		a := randomMatrix(rng, RoundUp(s.m, 4)*s.k)
		rows := randomMatrix(rng, s.k*s.n)
		var results [][]float32
		for _, bm := range []Matrix{New(s.k, s.n, rows), {K: s.k, N: s.n, Rows: rows}, packed(t, s.k, s.n, rows, 16), packed(t, s.k, s.n, rows, 32)} {
			if bm.K == 0 {
				continue // no kernel for that width on this CPU
			}
			c := make([]float32, RoundUp(s.m, 4)*s.n)
			bm.Mul(s.m, a, c)
			worst := 0.0
			for i := 0; i < s.m; i++ {
				for j := 0; j < s.n; j++ {
					var want float64
					for p := 0; p < s.k; p++ {
						want += float64(a[i*s.k+p]) * float64(bm.Rows[p*s.n+j])
					}
					worst = math.Max(worst, math.Abs(float64(c[i*s.n+j])-want))
				}
			}
			if worst > 1e-4*math.Sqrt(float64(s.k)) {
				t.Errorf("%dx%dx%d, panels of %d: max error %g", s.m, s.k, s.n, bm.Width, worst)
			}
			if bm.Width != 0 {
				results = append(results, c[:s.m*s.n])
			}
		}
		for _, c := range results[1:] {
			if !slices.Equal(c, results[0]) {
				t.Errorf("%dx%dx%d: the kernels' products differ", s.m, s.k, s.n)
			}
		}
	}
	t.Logf("assembly kernels in use: AVX2 %v, AVX-512 %v", HaveKernel, HaveWideKernel)
}

// packed is Packed when the CPU has the kernel for width, else the zero
// matrix.
func packed(t *testing.T, k, n int, rows []float32, width int) Matrix {
	t.Helper()
	if !HaveKernel || width == 32 && !HaveWideKernel {
		t.Logf("no %d-column kernel on this CPU", width)
		return Matrix{}
	}
	return Packed(k, n, rows, width)
}

// BenchmarkGEMM compares the packed kernel with gonum's Sgemm on the face
// descriptor network's most frequent product (35x35 outputs, 3x3x32
// patches, 32 filters), in one run so the ratio holds on a shared machine.
func BenchmarkGEMM(b *testing.B) {
	rng := rand.New(rand.NewPCG(5, 6))
	m, k, n := 1225, 288, 32
	a := randomMatrix(rng, RoundUp(m, 4)*k)
	bm := New(k, n, randomMatrix(rng, k*n))
	c := make([]float32, RoundUp(m, 4)*n)
	for _, w := range []int{16, 32} {
		b.Run(fmt.Sprintf("kernel%d", w), func(b *testing.B) {
			if !HaveKernel || w == 32 && !HaveWideKernel {
				b.Skip("no assembly kernel of that width on this CPU")
			}
			bm := Packed(k, n, bm.Rows, w)
			for b.Loop() {
				bm.Mul(m, a, c)
			}
		})
	}
	b.Run("gonum", func(b *testing.B) {
		for b.Loop() {
			impl.Sgemm(blas.NoTrans, blas.NoTrans, m, n, k, 1, a, k, bm.Rows, n, 0, c, n)
		}
	})
}
