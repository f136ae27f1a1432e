package face

import "github.com/shenfen/shenfen/biometric/face/internal/gemm"

// haveWideKernel: the CPU has AVX-512 (see package gemm).
var haveWideKernel = gemm.HaveWideKernel

// scaleShift512 applies a convolution's bias, scale and optional ReLU to
// pixels rows of n floats (n a multiple of 16) with AVX-512, with the same
// float32 operations in the same order as the Go loop in workspace.conv.
// Implemented in simd_amd64.s.
//
//go:noescape
func scaleShift512(v *float32, pixels, n int, bias, scaleW, scaleB *float32, relu bool)

// maxInto512 sets dst[i] to src[i] where src[i] > dst[i], for n floats (n a
// multiple of 16), with AVX-512. Implemented in simd_amd64.s.
//
//go:noescape
func maxInto512(dst, src *float32, n int)
