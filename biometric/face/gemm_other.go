//go:build !amd64

package face

// haveKernel and haveWideKernel are false: without the amd64 assembly
// kernels, matrix.mul uses gonum's Sgemm.
const (
	haveKernel     = false
	haveWideKernel = false
)

func kernel4x16(k int, a *float32, lda int, b *float32, c *float32, ldc int) {
	panic("face: kernel4x16 without an assembly implementation")
}

func kernel4x32(k int, a *float32, lda int, b *float32, c *float32, ldc int) {
	panic("face: kernel4x32 without an assembly implementation")
}

func scaleShift512(v *float32, pixels, n int, bias, scaleW, scaleB *float32, relu bool) {
	panic("face: scaleShift512 without an assembly implementation")
}

func maxInto512(dst, src *float32, n int) {
	panic("face: maxInto512 without an assembly implementation")
}
