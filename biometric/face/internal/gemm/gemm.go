// Package gemm multiplies float32 matrices for the face networks: C = A·B
// with A the im2col patches of a convolution (one row per output pixel), B
// the constant filters (K x N, N = output channels) and C the output in HWC
// layout.
//
// B is constant, so it is packed once at load time into panels of 16
// columns (K x 16, contiguous, the last one padded with zeros), which a
// register-blocked kernel streams through: 4 rows of A times one panel per
// call. On amd64 with AVX2 and FMA the kernel is assembly (gemm_amd64.s);
// elsewhere gonum's pure-Go Sgemm does the product on the unpacked filters.
// On CPUs with AVX-512 the panels are 32 columns wide and a kernel using
// the 512-bit registers does the same sums in the same order.
package gemm

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Matrix is a constant B operand: the row-major K x N values and, when a
// fast kernel is available, the same values packed into panels of Width
// columns.
type Matrix struct {
	K, N   int
	Rows   []float32 // K x N row-major
	Width  int       // panel width: 16, 32, or 0 without packed panels
	panels []float32 // ceil(N/Width) panels of K x Width
}

// New returns the K x N matrix rows (row-major), packed for the widest
// kernel the CPU has.
func New(k, n int, rows []float32) Matrix {
	switch {
	case HaveWideKernel && (n%32 == 0 || n > 16):
		return Packed(k, n, rows, 32)
	case HaveKernel:
		return Packed(k, n, rows, 16)
	}
	return Matrix{K: k, N: n, Rows: rows}
}

// Packed packs rows into panels of width (16 or 32) columns, the last one
// padded with zero columns; the caller checks that the CPU has the kernel
// for that width (HaveKernel, HaveWideKernel).
func Packed(k, n int, rows []float32, width int) Matrix {
	np := (n + width - 1) / width
	m := Matrix{K: k, N: n, Rows: rows, Width: width, panels: make([]float32, 0, k*np*width)}
	for j := 0; j < n; j += width {
		for p := 0; p < k; p++ {
			seg := rows[p*n+j : p*n+min(j+width, n)]
			m.panels = append(m.panels, seg...)
			for range width - len(seg) {
				m.panels = append(m.panels, 0)
			}
		}
	}
	return m
}

var impl gonum.Implementation

// Mul computes c = a·b for a (m x b.K, row-major, with at least
// RoundUp(m, 4) rows allocated: rows past m may hold anything) into c
// (m x b.N, with RoundUp(m, 4) rows allocated).
func (b *Matrix) Mul(m int, a, c []float32) {
	if m == 0 {
		return
	}
	if b.panels == nil {
		impl.Sgemm(blas.NoTrans, blas.NoTrans, m, b.N, b.K, 1, a, b.K, b.Rows, b.N, 0, c, b.N)
		return
	}
	kernel := kernel4x16
	if b.Width == 32 {
		kernel = kernel4x32
	}
	w := b.Width
	full := b.N / w
	for j := 0; j < full; j++ {
		panel := b.panels[j*b.K*w : (j+1)*b.K*w]
		for i := 0; i < m; i += 4 {
			kernel(b.K, &a[i*b.K], b.K, &panel[0], &c[i*b.N+j*w], b.N)
		}
	}
	if rest := b.N - full*w; rest > 0 {
		// The last panel is narrower than the kernel: compute 4 x w
		// blocks into a scratch and copy the rest columns out.
		var scratch [4 * 32]float32
		panel := b.panels[full*b.K*w:]
		for i := 0; i < m; i += 4 {
			kernel(b.K, &a[i*b.K], b.K, &panel[0], &scratch[0], w)
			for r := 0; r < 4; r++ {
				copy(c[(i+r)*b.N+full*w:(i+r)*b.N+b.N], scratch[r*w:r*w+rest])
			}
		}
	}
}

// RoundUp rounds m up to a multiple of q.
func RoundUp(m, q int) int { return (m + q - 1) / q * q }
