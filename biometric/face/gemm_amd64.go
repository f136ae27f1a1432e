package face

import "golang.org/x/sys/cpu"

// haveKernel: the AVX2/FMA kernel can run on this CPU; haveWideKernel: the
// AVX-512 one too (the operating system saving the 512-bit registers).
var (
	haveKernel     = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	haveWideKernel = haveKernel && cpu.X86.HasAVX512F
)

// kernel4x16 computes the 4 x 16 block c[r][0:16] = sum over p < k of
// a[r*lda+p] * b[p*16:(p+1)*16], for r < 4, with c rows ldc floats apart.
// k must be at least 1. Implemented in gemm_amd64.s.
//
//go:noescape
func kernel4x16(k int, a *float32, lda int, b *float32, c *float32, ldc int)

// kernel4x32 is kernel4x16 for a panel of 32 columns (AVX-512), summing
// in the same order. Implemented in gemm_amd64.s.
//
//go:noescape
func kernel4x32(k int, a *float32, lda int, b *float32, c *float32, ldc int)

// scaleShift512 applies a convolution's bias, scale and optional ReLU to
// pixels rows of n floats (n a multiple of 16) with AVX-512, with the same
// float32 operations in the same order as the Go loop in workspace.conv.
// Implemented in gemm_amd64.s.
//
//go:noescape
func scaleShift512(v *float32, pixels, n int, bias, scaleW, scaleB *float32, relu bool)

// maxInto512 sets dst[i] to src[i] where src[i] > dst[i], for n floats (n a
// multiple of 16), with AVX-512. Implemented in gemm_amd64.s.
//
//go:noescape
func maxInto512(dst, src *float32, n int)
