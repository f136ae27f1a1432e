package mesh

import "github.com/shenfen/shenfen/biometric/face/internal/gemm"

// haveSIMD: the AVX2/FMA kernels can run on this CPU; haveWide: the
// AVX-512 one too.
var (
	haveSIMD = gemm.HaveKernel
	haveWide = gemm.HaveWideKernel
)

// dwRow computes, for p < pixels and j < c (c a multiple of 8),
// o[p*c+j] += x[p*xstride+j] * f[j]. Implemented in simd_amd64.s.
//
//go:noescape
func dwRow(o, x, f *float32, pixels, c, xstride int)

// addAct computes, for i < n (n a multiple of c, c a multiple of 8),
// t = (a[i] + bias[i%c]) + b[i] (bias and b may be nil) and o[i] = t
// (mode 0), max(t, 0) (mode 1) or PReLU with slopes alpha[i%c] (mode 2).
// Implemented in simd_amd64.s.
//
//go:noescape
func addAct(o, a, bias, b, alpha *float32, n, c, mode int)

// maxRow computes, for p < pixels and j < c (c a multiple of 8),
// o[p*c+j] = max(o[p*c+j], x[p*xstride+j]). Implemented in simd_amd64.s.
//
//go:noescape
func maxRow(o, x *float32, pixels, c, xstride int)

// dwRow512 is dwRow with AVX-512 for c a multiple of 16 (the same floats).
// Implemented in simd_amd64.s.
//
//go:noescape
func dwRow512(o, x, f *float32, pixels, c, xstride int)
