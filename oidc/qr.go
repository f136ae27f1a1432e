package oidc

import (
	"errors"
	"strconv"
	"sync"
)

// The login page's QR code is drawn by this small encoder (ISO/IEC 18004:
// byte mode, error correction level M, the smallest version that holds the
// data, mask pattern 2): it builds the same symbol as the general-purpose
// encoder it replaced (gozxing, asked for mask 2; qr_test.go compares the
// two module by module over every version), in a tenth of its time, which
// was a tenth of a whole login's CPU time.

// errQRTooLong: the content does not fit a version 40 symbol.
var errQRTooLong = errors.New("oidc: QR content too long")

// Error correction level M: codewords per block and number of blocks, by
// version (index 0 unused).
var (
	qrECCPerBlockM = [41]int{0, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28}
	qrBlocksM      = [41]int{0, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49}
)

const qrMask = 2 // module (x, y) is inverted when x % 3 == 0

// qrRawModules is the number of modules of a version that carry data or
// error correction (all but the function patterns), remainder bits included.
func qrRawModules(ver int) int {
	n := (16*ver+128)*ver + 64
	if ver >= 2 {
		align := ver/7 + 2
		n -= (25*align-10)*align - 55
		if ver >= 7 {
			n -= 36
		}
	}
	return n
}

// qrDataCodewords is the number of data codewords of a version at level M.
func qrDataCodewords(ver int) int {
	return qrRawModules(ver)/8 - qrECCPerBlockM[ver]*qrBlocksM[ver]
}

// GF(2^8) with the QR code's polynomial x^8 + x^4 + x^3 + x^2 + 1.
var qrExp, qrLog = func() ([512]byte, [256]byte) {
	var exp [512]byte
	var log [256]byte
	x := 1
	for i := 0; i < 255; i++ {
		exp[i] = byte(x)
		log[x] = byte(i)
		x <<= 1
		if x&0x100 != 0 {
			x ^= 0x11d
		}
	}
	for i := 255; i < 512; i++ {
		exp[i] = exp[i-255]
	}
	return exp, log
}()

func qrMul(a, b byte) byte {
	if a == 0 || b == 0 {
		return 0
	}
	return qrExp[int(qrLog[a])+int(qrLog[b])]
}

// qrGenerators caches the Reed-Solomon generator polynomial of each degree
// (coefficients from the highest power down, the leading 1 left out).
var qrGenerators sync.Map // int → []byte

func qrGenerator(degree int) []byte {
	if g, ok := qrGenerators.Load(degree); ok {
		return g.([]byte)
	}
	g := make([]byte, degree)
	g[degree-1] = 1 // the polynomial 1
	root := byte(1)
	for range degree { // multiply by (x - α^i)
		for j := range g {
			g[j] = qrMul(g[j], root)
			if j+1 < len(g) {
				g[j] ^= g[j+1]
			}
		}
		root = qrMul(root, 2)
	}
	qrGenerators.Store(degree, g)
	return g
}

// qrECC appends to out the error correction codewords of data.
func qrECC(out, data, gen []byte) []byte {
	start := len(out)
	out = append(out, make([]byte, len(gen))...)
	rem := out[start:]
	for _, b := range data {
		f := b ^ rem[0]
		copy(rem, rem[1:])
		rem[len(rem)-1] = 0
		if f == 0 {
			continue
		}
		lf := int(qrLog[f])
		for i, g := range gen {
			if g != 0 {
				rem[i] ^= qrExp[lf+int(qrLog[g])]
			}
		}
	}
	return out
}

// qrCode is a symbol: size × size modules, dark = true.
type qrCode struct {
	size    int
	dark    []bool
	reserve []bool // function modules
}

func (q *qrCode) set(x, y int, dark bool) {
	q.dark[y*q.size+x] = dark
	q.reserve[y*q.size+x] = true
}

// encodeQR makes the symbol of content in byte mode at level M.
func encodeQR(content string) (*qrCode, error) {
	ver := 0
	for v := 1; v <= 40; v++ {
		count := 8
		if v >= 10 {
			count = 16
		}
		if 4+count+8*len(content) <= 8*qrDataCodewords(v) {
			ver = v
			break
		}
	}
	if ver == 0 {
		return nil, errQRTooLong
	}
	capacity := qrDataCodewords(ver)
	// Data codewords: mode 0100, the byte count, the bytes, a terminator of
	// up to four zero bits, zero bits to a byte boundary, pad codewords.
	data := make([]byte, 0, capacity)
	var acc uint32 // bit accumulator
	var nacc int
	put := func(v uint32, n int) {
		for i := n - 1; i >= 0; i-- {
			acc = acc<<1 | (v>>i)&1
			nacc++
			if nacc == 8 {
				data = append(data, byte(acc))
				acc, nacc = 0, 0
			}
		}
	}
	put(4, 4)
	if ver >= 10 {
		put(uint32(len(content)), 16)
	} else {
		put(uint32(len(content)), 8)
	}
	for i := 0; i < len(content); i++ {
		put(uint32(content[i]), 8)
	}
	for t := 0; t < 4 && len(data) < capacity; t++ {
		put(0, 1)
	}
	if nacc > 0 {
		put(0, 8-nacc)
	}
	for pad := byte(0xec); len(data) < capacity; pad ^= 0xec ^ 0x11 {
		data = append(data, pad)
	}

	// Blocks and their error correction, interleaved.
	blocks, eccLen := qrBlocksM[ver], qrECCPerBlockM[ver]
	raw := qrRawModules(ver) / 8
	short := blocks - raw%blocks
	shortLen := raw / blocks // a short block's data + ECC codewords
	gen := qrGenerator(eccLen)
	type block struct{ data, ecc []byte }
	bs := make([]block, blocks)
	eccs := make([]byte, 0, blocks*eccLen)
	k := 0
	for i := range bs {
		n := shortLen - eccLen
		if i >= short {
			n++
		}
		bs[i].data = data[k : k+n]
		k += n
		start := len(eccs)
		eccs = qrECC(eccs, bs[i].data, gen)
		bs[i].ecc = eccs[start:]
	}
	all := make([]byte, 0, raw)
	for i := 0; i <= shortLen-eccLen; i++ {
		for j := range bs {
			if i < len(bs[j].data) {
				all = append(all, bs[j].data[i])
			}
		}
	}
	for i := range eccLen {
		for j := range bs {
			all = append(all, bs[j].ecc[i])
		}
	}

	size := 4*ver + 17
	q := &qrCode{size: size, dark: make([]bool, size*size), reserve: make([]bool, size*size)}
	q.functionPatterns(ver)
	// Data in two-module columns, zigzagging up and down from the right.
	bit := 0
	for right := size - 1; right >= 1; right -= 2 {
		if right == 6 {
			right = 5
		}
		up := (right+1)&2 == 0
		for vert := range size {
			y := vert
			if up {
				y = size - 1 - vert
			}
			for j := range 2 {
				x := right - j
				i := y*size + x
				if q.reserve[i] {
					continue
				}
				d := false
				if bit < 8*len(all) {
					d = all[bit>>3]>>(7-bit&7)&1 == 1
					bit++
				}
				q.dark[i] = d != (x%3 == 0) // mask pattern 2
			}
		}
	}
	return q, nil
}

// functionPatterns draws the finder, separator, timing and alignment
// patterns, the format information (level M, mask 2) and, from version 7,
// the version information.
func (q *qrCode) functionPatterns(ver int) {
	n := q.size
	for i := range n {
		q.set(6, i, i%2 == 0)
		q.set(i, 6, i%2 == 0)
	}
	finder := func(cx, cy int) {
		for dy := -4; dy <= 4; dy++ {
			for dx := -4; dx <= 4; dx++ {
				x, y := cx+dx, cy+dy
				if x < 0 || x >= n || y < 0 || y >= n {
					continue
				}
				d := max(abs(dx), abs(dy))
				q.set(x, y, d != 2 && d != 4)
			}
		}
	}
	finder(3, 3)
	finder(n-4, 3)
	finder(3, n-4)
	if ver >= 2 {
		align := ver/7 + 2
		step := (ver*8 + align*3 + 5) / (align*4 - 4) * 2
		pos := make([]int, align)
		pos[0] = 6
		for i, p := align-1, n-7; i >= 1; i, p = i-1, p-step {
			pos[i] = p
		}
		for i, cy := range pos {
			for j, cx := range pos {
				if i == 0 && j == 0 || i == 0 && j == align-1 || i == align-1 && j == 0 {
					continue // the finders' corners
				}
				for dy := -2; dy <= 2; dy++ {
					for dx := -2; dx <= 2; dx++ {
						q.set(cx+dx, cy+dy, max(abs(dx), abs(dy)) != 1)
					}
				}
			}
		}
	}
	// Format information: level M (00) and the mask, BCH(15,5), XOR 0x5412.
	data := 0<<3 | qrMask
	rem := data
	for range 10 {
		rem = rem<<1 ^ (rem>>9)*0x537
	}
	bits := (data<<10 | rem) ^ 0x5412
	b := func(i int) bool { return bits>>i&1 == 1 }
	for i := 0; i <= 5; i++ {
		q.set(8, i, b(i))
	}
	q.set(8, 7, b(6))
	q.set(8, 8, b(7))
	q.set(7, 8, b(8))
	for i := 9; i < 15; i++ {
		q.set(14-i, 8, b(i))
	}
	for i := range 8 {
		q.set(n-1-i, 8, b(i))
	}
	for i := 8; i < 15; i++ {
		q.set(8, n-15+i, b(i))
	}
	q.set(8, n-8, true) // the dark module
	if ver >= 7 {
		rem := ver
		for range 12 {
			rem = rem<<1 ^ (rem>>11)*0x1f25
		}
		vbits := ver<<12 | rem
		for i := range 18 {
			d := vbits>>i&1 == 1
			a, c := n-11+i%3, i/3
			q.set(a, c, d)
			q.set(c, a, d)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// svg draws the symbol with a 4-module quiet zone as one SVG path of
// horizontal runs of dark modules.
func (q *qrCode) svg() []byte {
	const quiet = 4
	n := q.size + 2*quiet
	b := make([]byte, 0, 12*q.size*q.size/4+256)
	b = append(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 `...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, `" shape-rendering="crispEdges"><rect width="100%" height="100%" fill="#fff"/><path fill="#000" d="`...)
	for y := range q.size {
		row := q.dark[y*q.size : (y+1)*q.size]
		for x := 0; x < q.size; x++ {
			if !row[x] {
				continue
			}
			run := 1
			for x+run < q.size && row[x+run] {
				run++
			}
			b = append(b, 'M')
			b = strconv.AppendInt(b, int64(x+quiet), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(y+quiet), 10)
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(run), 10)
			b = append(b, "v1h-"...)
			b = strconv.AppendInt(b, int64(run), 10)
			b = append(b, 'z')
			x += run - 1
		}
	}
	return append(b, `"/></svg>`...)
}
