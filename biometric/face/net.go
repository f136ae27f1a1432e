package face

import (
	"fmt"

	"github.com/shenfen/shenfen/biometric/face/internal/gemm"
)

// tensor is one image's activations in HWC (NHWC without the batch) layout,
// the layout tfjs uses, so that weights apply without reordering.
type tensor struct {
	h, w, c int
	d       []float32
}

func newTensor(h, w, c int) tensor { return tensor{h, w, c, make([]float32, h*w*c)} }

// convLayer is a convolution with bias followed by face-api's scale layer
// (per-channel multiply and add).
type convLayer struct {
	k, in, out int
	filters    gemm.Matrix // [k][k][in][out], row-major: a (k*k*in) x out matrix
	bias       []float32
	scaleW     []float32
	scaleB     []float32
}

type residualLayer struct{ conv1, conv2 convLayer }

// recognitionNet is face-api's FaceRecognitionNet: the input 150x150 RGB
// face, one 7x7/2 convolution, a 3x3/2 max pool, 13 residual blocks (four of
// them downsampling), a global average and a 256x128 fully connected layer.
type recognitionNet struct {
	conv32Down convLayer
	blocks     []block
	fc         []float32 // [256][128]
}

type block struct {
	res  residualLayer
	down bool
}

var recognitionBlocks = []struct {
	name string
	down bool
}{
	{"conv32_1", false}, {"conv32_2", false}, {"conv32_3", false},
	{"conv64_down", true}, {"conv64_1", false}, {"conv64_2", false}, {"conv64_3", false},
	{"conv128_down", true}, {"conv128_1", false}, {"conv128_2", false},
	{"conv256_down", true}, {"conv256_1", false}, {"conv256_2", false},
	{"conv256_down_out", true},
}

func loadRecognitionNet(dir string) (*recognitionNet, error) {
	w, err := loadWeights(dir, recognitionManifest)
	if err != nil {
		return nil, err
	}
	get := func(name string, shape ...int) ([]float32, error) {
		t, ok := w[name]
		if !ok {
			return nil, fmt.Errorf("%w: weight %s missing", ErrModel, name)
		}
		if len(t.shape) != len(shape) {
			return nil, fmt.Errorf("%w: weight %s has shape %v, want %v", ErrModel, name, t.shape, shape)
		}
		for i := range shape {
			if t.shape[i] != shape[i] {
				return nil, fmt.Errorf("%w: weight %s has shape %v, want %v", ErrModel, name, t.shape, shape)
			}
		}
		return t.data, nil
	}
	conv := func(prefix string, k, in, out int) (convLayer, error) {
		l := convLayer{k: k, in: in, out: out}
		f, err := get(prefix+"/conv/filters", k, k, in, out)
		if err != nil {
			return l, err
		}
		l.filters = gemm.New(k*k*in, out, f)
		if l.bias, err = get(prefix+"/conv/bias", out); err != nil {
			return l, err
		}
		if l.scaleW, err = get(prefix+"/scale/weights", out); err != nil {
			return l, err
		}
		if l.scaleB, err = get(prefix+"/scale/biases", out); err != nil {
			return l, err
		}
		return l, nil
	}
	n := &recognitionNet{}
	if n.conv32Down, err = conv("conv32_down", 7, 3, 32); err != nil {
		return nil, err
	}
	ch := 32
	for _, b := range recognitionBlocks {
		out := ch
		if b.down && b.name != "conv256_down_out" {
			out = 2 * ch
		}
		var r residualLayer
		if r.conv1, err = conv(b.name+"/conv1", 3, ch, out); err != nil {
			return nil, err
		}
		if r.conv2, err = conv(b.name+"/conv2", 3, out, out); err != nil {
			return nil, err
		}
		n.blocks = append(n.blocks, block{res: r, down: b.down})
		ch = out
	}
	if n.fc, err = get("fc", 256, 128); err != nil {
		return nil, err
	}
	if len(w) != 4+len(recognitionBlocks)*8+1 {
		return nil, fmt.Errorf("%w: %s has %d weights, the network uses %d", ErrModel, recognitionManifest, len(w), 4+len(recognitionBlocks)*8+1)
	}
	return n, nil
}

// InputSize is the side of the square RGB image the descriptor network takes.
const InputSize = 150

// meanRGB is the per-channel mean face-api subtracts before dividing by 255.
var meanRGB = [3]float32{122.782, 117.001, 104.298}

// forward computes the 128-d descriptor of a 150x150 RGB input whose values
// are in [0, 255] (HWC layout), following FaceRecognitionNet.forwardInput.
func (n *recognitionNet) forward(rgb []float32, ws *workspace) Descriptor {
	x := newTensor(InputSize, InputSize, 3)
	for i := 0; i < len(x.d); i += 3 {
		for c := 0; c < 3; c++ {
			x.d[i+c] = (rgb[i+c] - meanRGB[c]) / 255
		}
	}
	out := ws.conv(x, &n.conv32Down, 2, false, true)
	out = maxPool3s2(out)
	for i := range n.blocks {
		b := &n.blocks[i]
		if b.down {
			out = ws.residualDown(out, &b.res)
		} else {
			out = ws.residual(out, &b.res)
		}
	}
	// Global average over the spatial dimensions, then the FC layer.
	var avg [256]float32
	for c := 0; c < out.c; c++ {
		var s float32
		for p := 0; p < out.h*out.w; p++ {
			s += out.d[p*out.c+c]
		}
		avg[c] = s / float32(out.h*out.w)
	}
	var d Descriptor
	for j := 0; j < 128; j++ {
		var s float32
		for i := 0; i < 256; i++ {
			s += avg[i] * n.fc[i*128+j]
		}
		d[j] = s
	}
	return d
}

// workspace holds the scratch buffers of one forward pass (not shared
// between goroutines).
type workspace struct {
	cols []float32
	// outs are the convolution outputs, used in turn: an output is read
	// at most by the two convolutions after it and the residual sum
	// (see residual and residualDown), so three buffers suffice.
	outs [3][]float32
	next int
}

// out returns the next convolution output buffer, of n floats with stale
// contents.
func (ws *workspace) out(n int) []float32 {
	b := &ws.outs[ws.next]
	ws.next = (ws.next + 1) % len(ws.outs)
	if cap(*b) < n {
		*b = make([]float32, n)
	}
	return (*b)[:n]
}

// conv runs a convolution layer: im2col then one matrix product, then bias,
// scale and optional ReLU in tfjs's order of float32 operations. same
// selects tfjs 'same' padding (only used with stride 1 here), otherwise
// 'valid'.
func (ws *workspace) conv(x tensor, l *convLayer, stride int, same, relu bool) tensor {
	k := l.k
	var oh, ow, pt, pl int
	if same {
		oh, ow = ceilDiv(x.h, stride), ceilDiv(x.w, stride)
		ph := max(0, (oh-1)*stride+k-x.h)
		pw := max(0, (ow-1)*stride+k-x.w)
		pt, pl = ph/2, pw/2
	} else {
		oh, ow = ceilDiv(x.h-k+1, stride), ceilDiv(x.w-k+1, stride)
	}
	kk := k * k * x.c
	m := oh * ow
	// Rows are allocated in multiples of 4 for the 4-row GEMM kernel; the
	// rows past m hold stale values whose products are discarded.
	if cap(ws.cols) < gemm.RoundUp(m, 4)*kk {
		ws.cols = make([]float32, gemm.RoundUp(m, 4)*kk)
	}
	cols := ws.cols[:gemm.RoundUp(m, 4)*kk]
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := cols[(oy*ow+ox)*kk : (oy*ow+ox+1)*kk]
			for ky := 0; ky < k; ky++ {
				iy := oy*stride + ky - pt
				seg := row[ky*k*x.c : (ky+1)*k*x.c]
				if iy < 0 || iy >= x.h {
					clear(seg)
					continue
				}
				if ix := ox*stride - pl; ix >= 0 && ix+k <= x.w {
					// The k input pixels of this kernel row are contiguous.
					copy(seg, x.d[(iy*x.w+ix)*x.c:(iy*x.w+ix+k)*x.c])
					continue
				}
				for kx := 0; kx < k; kx++ {
					ix := ox*stride + kx - pl
					dst := seg[kx*x.c : (kx+1)*x.c]
					if ix < 0 || ix >= x.w {
						clear(dst)
						continue
					}
					copy(dst, x.d[(iy*x.w+ix)*x.c:(iy*x.w+ix+1)*x.c])
				}
			}
		}
	}
	buf := ws.out(gemm.RoundUp(m, 4) * l.out) // every element is written by mul
	l.filters.Mul(m, cols, buf)
	y := tensor{oh, ow, l.out, buf[:m*l.out]}
	scaleShift(y.d, l, relu)
	return y
}

// scaleShift applies l's bias and scale layer to the conv output v (HWC,
// l.out channels), then the ReLU when relu is set, in tfjs's order of
// float32 operations.
func scaleShift(v []float32, l *convLayer, relu bool) {
	n := l.out
	if haveWideKernel && n%16 == 0 && len(v) > 0 {
		scaleShift512(&v[0], len(v)/n, n, &l.bias[0], &l.scaleW[0], &l.scaleB[0], relu)
		return
	}
	scaleShiftGo(v, l, relu)
}

// scaleShiftGo is scaleShift without the assembly.
func scaleShiftGo(v []float32, l *convLayer, relu bool) {
	n := l.out
	bias, sw, sb := l.bias[:n], l.scaleW[:n], l.scaleB[:n]
	for p := 0; p+n <= len(v); p += n {
		px := v[p : p+n]
		for c := range px {
			t := px[c] + bias[c]
			t = t * sw[c]
			t = t + sb[c]
			if relu && t < 0 {
				t = 0
			}
			px[c] = t
		}
	}
}

func (ws *workspace) residual(x tensor, r *residualLayer) tensor {
	out := ws.conv(x, &r.conv1, 1, true, true)
	out = ws.conv(out, &r.conv2, 1, true, false)
	for i, v := range x.d {
		t := out.d[i] + v
		if t < 0 {
			t = 0
		}
		out.d[i] = t
	}
	return out
}

// residualDown is face-api's residualDown: a 3x3/2 'valid' convolution
// path added to a 2x2/2 average pool of the input whose channels are padded
// with zeros; when the convolution path comes out one smaller, it is padded
// with a zero row at the bottom and a zero column at the right.
func (ws *workspace) residualDown(x tensor, r *residualLayer) tensor {
	out := ws.conv(x, &r.conv1, 2, false, true)
	out = ws.conv(out, &r.conv2, 1, true, false)
	pooled := avgPool2s2(x)
	if pooled.h != out.h || pooled.w != out.w {
		padded := newTensor(out.h+1, out.w+1, out.c)
		for yy := 0; yy < out.h; yy++ {
			copy(padded.d[yy*padded.w*out.c:], out.d[yy*out.w*out.c:(yy+1)*out.w*out.c])
		}
		out = padded
	}
	for p := 0; p < out.h*out.w; p++ {
		v := out.d[p*out.c : (p+1)*out.c]
		for c := 0; c < pooled.c; c++ {
			v[c] += pooled.d[p*pooled.c+c]
		}
		for c := range v {
			if v[c] < 0 {
				v[c] = 0
			}
		}
	}
	return out
}

// maxPool3s2 is tf.maxPool(x, 3, 2, 'valid').
func maxPool3s2(x tensor) tensor {
	oh, ow := ceilDiv(x.h-2, 2), ceilDiv(x.w-2, 2)
	y := newTensor(oh, ow, x.c)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			dst := y.d[(oy*ow+ox)*x.c : (oy*ow+ox+1)*x.c]
			copy(dst, x.d[(2*oy*x.w+2*ox)*x.c:])
			for ky := 0; ky < 3; ky++ {
				for kx := 0; kx < 3; kx++ {
					maxInto(dst, x.d[((2*oy+ky)*x.w+2*ox+kx)*x.c:])
				}
			}
		}
	}
	return y
}

// maxInto sets dst[c] to src[c] where src[c] is greater.
func maxInto(dst, src []float32) {
	if haveWideKernel && len(dst)%16 == 0 && len(dst) > 0 {
		_ = src[len(dst)-1]
		maxInto512(&dst[0], &src[0], len(dst))
		return
	}
	for c := range dst {
		if src[c] > dst[c] {
			dst[c] = src[c]
		}
	}
}

// avgPool2s2 is tf.avgPool(x, 2, 2, 'valid').
func avgPool2s2(x tensor) tensor {
	oh, ow := ceilDiv(x.h-1, 2), ceilDiv(x.w-1, 2)
	y := newTensor(oh, ow, x.c)
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			dst := y.d[(oy*ow+ox)*x.c : (oy*ow+ox+1)*x.c]
			a := x.d[((2*oy)*x.w+2*ox)*x.c:]
			b := x.d[((2*oy)*x.w+2*ox+1)*x.c:]
			cc := x.d[((2*oy+1)*x.w+2*ox)*x.c:]
			d := x.d[((2*oy+1)*x.w+2*ox+1)*x.c:]
			for c := range dst {
				dst[c] = float32((float64(a[c]) + float64(b[c]) + float64(cc[c]) + float64(d[c])) / 4)
			}
		}
	}
	return y
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }
