//go:build !amd64

package gemm

// HaveKernel and HaveWideKernel are false: without the amd64 assembly
// kernels, Matrix.Mul uses gonum's Sgemm.
const (
	HaveKernel     = false
	HaveWideKernel = false
)

func kernel4x16(k int, a *float32, lda int, b *float32, c *float32, ldc int) {
	panic("gemm: kernel4x16 without an assembly implementation")
}

func kernel4x32(k int, a *float32, lda int, b *float32, c *float32, ldc int) {
	panic("gemm: kernel4x32 without an assembly implementation")
}
