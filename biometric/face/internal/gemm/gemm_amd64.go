package gemm

import "golang.org/x/sys/cpu"

// HaveKernel: the AVX2/FMA kernel can run on this CPU; HaveWideKernel: the
// AVX-512 one too (the operating system saving the 512-bit registers).
var (
	HaveKernel     = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	HaveWideKernel = HaveKernel && cpu.X86.HasAVX512F
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
