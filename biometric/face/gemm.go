package face

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// The convolutions are matrix products C = A·B with A the im2col patches
// (one row per output pixel), B the filters (K x N, N = output channels,
// always a multiple of 32 in this network) and C the output in HWC layout.
// B is constant, so it is packed once at load time into panels of 16
// columns (K x 16, contiguous), which a register-blocked kernel streams
// through: 4 rows of A times one panel per call. On amd64 with AVX2 and FMA
// the kernel is assembly (gemm_amd64.s); elsewhere gonum's pure-Go Sgemm
// does the product on the unpacked filters. On CPUs with AVX-512 the
// panels are 32 columns wide and a kernel using the 512-bit registers does
// the same sums in the same order.

// matrix is a constant B operand: the row-major K x N values and, when a
// fast kernel is available, the same values packed into panels of width
// columns.
type matrix struct {
	k, n   int
	rows   []float32 // k x n row-major
	width  int       // panel width: 16, 32, or 0 without packed panels
	panels []float32 // n/width panels of k x width
}

func newMatrix(k, n int, rows []float32) matrix {
	switch {
	case haveWideKernel && n%32 == 0:
		return packedMatrix(k, n, rows, 32)
	case haveKernel && n%16 == 0:
		return packedMatrix(k, n, rows, 16)
	}
	return matrix{k: k, n: n, rows: rows}
}

// packedMatrix packs rows into panels of width (16 or 32) columns; the
// caller checks that the CPU has the kernel for it.
func packedMatrix(k, n int, rows []float32, width int) matrix {
	m := matrix{k: k, n: n, rows: rows, width: width, panels: make([]float32, 0, k*n)}
	for j := 0; j < n; j += width {
		for p := 0; p < k; p++ {
			m.panels = append(m.panels, rows[p*n+j:p*n+j+width]...)
		}
	}
	return m
}

var impl gonum.Implementation

// mul computes c = a·b for a (m x b.k, row-major, with at least
// roundUp(m, 4) rows allocated: rows past m may hold anything) into c
// (m x b.n, with roundUp(m, 4) rows allocated).
func (b *matrix) mul(m int, a, c []float32) {
	if b.panels == nil {
		impl.Sgemm(blas.NoTrans, blas.NoTrans, m, b.n, b.k, 1, a, b.k, b.rows, b.n, 0, c, b.n)
		return
	}
	kernel := kernel4x16
	if b.width == 32 {
		kernel = kernel4x32
	}
	w := b.width
	for j := 0; j < b.n/w; j++ {
		panel := b.panels[j*b.k*w : (j+1)*b.k*w]
		for i := 0; i < m; i += 4 {
			kernel(b.k, &a[i*b.k], b.k, &panel[0], &c[i*b.n+j*w], b.n)
		}
	}
}

func roundUp(m, q int) int { return (m + q - 1) / q * q }
