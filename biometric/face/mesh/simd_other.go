//go:build !amd64

package mesh

// haveSIMD and haveWide are false: without the amd64 assembly the Go
// loops run.
const (
	haveSIMD = false
	haveWide = false
)

func dwRow(o, x, f *float32, pixels, c, xstride int) {
	panic("mesh: dwRow without an assembly implementation")
}

func addAct(o, a, bias, b, alpha *float32, n, c, mode int) {
	panic("mesh: addAct without an assembly implementation")
}

func maxRow(o, x *float32, pixels, c, xstride int) {
	panic("mesh: maxRow without an assembly implementation")
}

func dwRow512(o, x, f *float32, pixels, c, xstride int) {
	panic("mesh: dwRow512 without an assembly implementation")
}
