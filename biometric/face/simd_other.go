//go:build !amd64

package face

// haveWideKernel is false: without the amd64 assembly the Go loops run.
const haveWideKernel = false

func scaleShift512(v *float32, pixels, n int, bias, scaleW, scaleB *float32, relu bool) {
	panic("face: scaleShift512 without an assembly implementation")
}

func maxInto512(dst, src *float32, n int) {
	panic("face: maxInto512 without an assembly implementation")
}
