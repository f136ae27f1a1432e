package mesh

import (
	"fmt"
	"math"
	"slices"

	"github.com/shenfen/shenfen/biometric/face/internal/gemm"
)

type runFunc = func(ins [][]float32, out []float32, scratch *[]float32)

func relu6(x float32) float32 { return min(max(x, 0), 6) }

func prelu(x, a float32) float32 {
	if x < 0 {
		return a * x
	}
	return x
}

// sigmoid as tfjs's cpu backend computes it: in float64, stored as float32.
func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// constInts returns value v's int32 constant, or an error.
func (g *Graph) constInts(v int) ([]int, error) {
	if g.vals[v].ints == nil {
		return nil, fmt.Errorf("%w: operand is not an int32 constant", ErrModel)
	}
	out := make([]int, len(g.vals[v].ints))
	for i, x := range g.vals[v].ints {
		out[i] = int(x)
	}
	return out, nil
}

func buildAlias(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) != 1 {
		return nil, nil, fmt.Errorf("%w: want 1 input", ErrModel)
	}
	return slices.Clone(g.vals[ins[0]].shape), nil, nil
}

func buildReshape(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) != 2 {
		return nil, nil, fmt.Errorf("%w: want 2 inputs", ErrModel)
	}
	shape, err := g.constInts(ins[1])
	if err != nil {
		return nil, nil, err
	}
	total := size(g.vals[ins[0]].shape)
	known, free := 1, -1
	for i, d := range shape {
		switch {
		case d == -1 && free < 0:
			free = i
		case d <= 0:
			return nil, nil, fmt.Errorf("%w: reshape to %v", ErrModel, shape)
		default:
			known *= d
		}
	}
	if free >= 0 {
		if known == 0 || total%known != 0 {
			return nil, nil, fmt.Errorf("%w: reshape %v to %v", ErrModel, g.vals[ins[0]].shape, shape)
		}
		shape[free] = total / known
	}
	if size(shape) != total {
		return nil, nil, fmt.Errorf("%w: reshape %v to %v", ErrModel, g.vals[ins[0]].shape, shape)
	}
	return shape, nil, nil
}

func buildSqueeze(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	in := g.vals[ins[0]].shape
	dims := n.ints("squeeze_dims")
	var out []int
	for i, d := range in {
		if d == 1 && (len(dims) == 0 || slices.Contains(dims, i) || slices.Contains(dims, i-len(in))) {
			continue
		}
		out = append(out, d)
	}
	return out, nil, nil
}

// activation is a fused activation of a convolution or matrix product.
type activation struct {
	kind  string    // "", "Relu", "Relu6", "Prelu"
	alpha []float32 // Prelu's per-channel slopes
}

// fused reads a node's fused_ops: BiasAdd (always first when present)
// then at most one activation. It returns the bias value index (-1 for
// none) and the activation.
func (g *Graph) fused(n *nodeDef, ins []int, first int) (int, activation, error) {
	fo := n.strs("fused_ops")
	bias := -1
	var act activation
	arg := first
	for i, f := range fo {
		switch {
		case f == "BiasAdd" && i == 0:
			if arg >= len(ins) {
				return 0, act, fmt.Errorf("%w: missing bias", ErrModel)
			}
			bias = ins[arg]
			arg++
		case (f == "Relu" || f == "Relu6") && act.kind == "":
			act.kind = f
		case f == "Prelu" && act.kind == "":
			if arg >= len(ins) || g.vals[ins[arg]].konst == nil {
				return 0, act, fmt.Errorf("%w: Prelu without constant slopes", ErrModel)
			}
			act.kind, act.alpha = f, g.vals[ins[arg]].konst
			arg++
		default:
			return 0, act, fmt.Errorf("%w: fused operations %v not supported", ErrModel, fo)
		}
	}
	if bias >= 0 && g.vals[bias].konst == nil {
		return 0, act, fmt.Errorf("%w: bias is not a constant", ErrModel)
	}
	return bias, act, nil
}

// applyBiasAct adds the per-channel bias (may be nil) and applies act to
// the pixels of v (c channels each).
func applyBiasAct(v []float32, c int, bias []float32, act activation) {
	if len(v) == 0 || bias == nil && act.kind == "" {
		return
	}
	if mode, ok := simdMode(c, act); ok {
		var b, a *float32
		if bias != nil {
			b = &bias[0]
		}
		if mode == 2 {
			a = &act.alpha[0]
		}
		addAct(&v[0], &v[0], b, nil, a, len(v), c, mode)
		return
	}
	if bias != nil {
		bias = bias[:c]
		for p := 0; p+c <= len(v); p += c {
			row := v[p : p+c]
			for j := range row {
				row[j] += bias[j]
			}
		}
	}
	switch act.kind {
	case "Relu":
		for i, x := range v {
			if x < 0 {
				v[i] = 0
			}
		}
	case "Relu6":
		for i, x := range v {
			v[i] = relu6(x)
		}
	case "Prelu":
		alpha := act.alpha
		if len(alpha) == 1 {
			for i, x := range v {
				v[i] = prelu(x, alpha[0])
			}
			return
		}
		alpha = alpha[:c]
		for p := 0; p+c <= len(v); p += c {
			row := v[p : p+c]
			for j, x := range row {
				if x < 0 {
					row[j] = alpha[j] * x
				}
			}
		}
	}
}

// simdMode is the addAct mode for act on tensors of c channels, false
// when the assembly cannot do it.
func simdMode(c int, act activation) (int, bool) {
	if !haveSIMD || c%8 != 0 {
		return 0, false
	}
	switch act.kind {
	case "":
		return 0, true
	case "Relu":
		return 1, true
	case "Prelu":
		return 2, len(act.alpha) == c
	}
	return 0, false
}

// window works out one spatial dimension of a convolution or pooling:
// output size and the padding before it.
func window(in, k, stride int, padding string, explicit []int) (out, before int, err error) {
	switch padding {
	case "SAME":
		out = (in + stride - 1) / stride
		total := max((out-1)*stride+k-in, 0)
		return out, total / 2, nil
	case "VALID":
		if in < k {
			return 0, 0, fmt.Errorf("%w: window %d larger than input %d", ErrModel, k, in)
		}
		return (in-k)/stride + 1, 0, nil
	case "EXPLICIT":
		if len(explicit) != 2 {
			return 0, 0, fmt.Errorf("%w: explicit paddings", ErrModel)
		}
		p := in + explicit[0] + explicit[1]
		if p < k {
			return 0, 0, fmt.Errorf("%w: window %d larger than padded input %d", ErrModel, k, p)
		}
		return (p-k)/stride + 1, explicit[0], nil
	}
	return 0, 0, fmt.Errorf("%w: padding %q", ErrModel, padding)
}

// spatial checks the data format, strides and dilations of a 2-D window
// operation and returns the strides (h, w), the padding and the explicit
// paddings per dimension.
func spatial(n *nodeDef) (sh, sw int, padding string, ph, pw []int, err error) {
	if f := n.str("data_format"); f != "" && f != "NHWC" {
		return 0, 0, "", nil, nil, fmt.Errorf("%w: data format %q", ErrModel, f)
	}
	st := n.ints("strides")
	if len(st) != 4 || st[0] != 1 || st[3] != 1 || st[1] < 1 || st[2] < 1 {
		return 0, 0, "", nil, nil, fmt.Errorf("%w: strides %v", ErrModel, st)
	}
	if d := n.ints("dilations"); len(d) != 0 && !slices.Equal(d, []int{1, 1, 1, 1}) {
		return 0, 0, "", nil, nil, fmt.Errorf("%w: dilations %v", ErrModel, d)
	}
	padding = n.str("padding")
	if padding == "EXPLICIT" {
		e := n.ints("explicit_paddings")
		if len(e) != 8 {
			return 0, 0, "", nil, nil, fmt.Errorf("%w: explicit paddings %v", ErrModel, e)
		}
		ph, pw = e[2:4], e[4:6]
	}
	return st[1], st[2], padding, ph, pw, nil
}

func nhwc(shape []int) (h, w, c int, err error) {
	if len(shape) != 4 || shape[0] != 1 {
		return 0, 0, 0, fmt.Errorf("%w: want a [1 H W C] tensor, have %v", ErrModel, shape)
	}
	return shape[1], shape[2], shape[3], nil
}

// buildConv compiles Conv2D and _FusedConv2D: im2col (skipped for 1x1
// stride-1 convolutions, whose input already is the patch matrix) and one
// matrix product with the packed filters, then bias and activation.
func buildConv(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) < 2 {
		return nil, nil, fmt.Errorf("%w: want input and filter", ErrModel)
	}
	h, w, c, err := nhwc(g.vals[ins[0]].shape)
	if err != nil {
		return nil, nil, err
	}
	f := g.vals[ins[1]]
	if f.konst == nil || len(f.shape) != 4 || f.shape[2] != c {
		return nil, nil, fmt.Errorf("%w: filter %v for %d channels", ErrModel, f.shape, c)
	}
	kh, kw, cout := f.shape[0], f.shape[1], f.shape[3]
	sh, sw, padding, ph, pw, err := spatial(n)
	if err != nil {
		return nil, nil, err
	}
	oh, pt, err := window(h, kh, sh, padding, ph)
	if err != nil {
		return nil, nil, err
	}
	ow, pl, err := window(w, kw, sw, padding, pw)
	if err != nil {
		return nil, nil, err
	}
	bias, act := -1, activation{}
	if n.Op == "_FusedConv2D" {
		if bias, act, err = g.fused(n, ins, 2); err != nil {
			return nil, nil, err
		}
	}
	var b []float32
	if bias >= 0 {
		b = g.vals[bias].konst
		if len(b) != cout {
			return nil, nil, fmt.Errorf("%w: bias of %d for %d channels", ErrModel, len(b), cout)
		}
	}
	if act.alpha != nil && len(act.alpha) != cout && len(act.alpha) != 1 {
		return nil, nil, fmt.Errorf("%w: %d slopes for %d channels", ErrModel, len(act.alpha), cout)
	}
	filters := gemm.New(kh*kw*c, cout, f.konst)
	m := oh * ow
	kk := kh * kw * c
	direct := kh == 1 && kw == 1 && sh == 1 && sw == 1 && pt == 0 && pl == 0 && oh == h && ow == w
	var fz *convFuse
	if _, ok := simdMode(cout, activation{}); ok && act.kind == "" {
		// fuseResidual may merge the addition (and activation) that
		// follows into this convolution's bias pass.
		fz = new(convFuse)
		st.kind, st.conv = "conv", fz
	}
	var bp *float32
	if b != nil {
		bp = &b[0]
	}
	run := func(ins [][]float32, out []float32, scratch *[]float32) {
		x := ins[0]
		a := x
		if !direct {
			need := gemm.RoundUp(m, 4) * kk
			if cap(*scratch) < need {
				*scratch = make([]float32, need)
			}
			a = (*scratch)[:need]
			im2col(a, x, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow)
		}
		filters.Mul(m, a, out)
		if fz != nil && fz.residual {
			mode, _ := simdMode(cout, fz.act)
			var alpha *float32
			if mode == 2 {
				alpha = &fz.act.alpha[0]
			}
			addAct(&out[0], &out[0], bp, &ins[len(ins)-1][0], alpha, m*cout, cout, mode)
			return
		}
		applyBiasAct(out[:m*cout], cout, b, act)
	}
	return []int{1, oh, ow, cout}, run, nil
}

// convFuse is what fuseResidual merged into a convolution: the residual
// tensor (the step's last input) added after the bias, then act.
type convFuse struct {
	residual bool
	act      activation
}

// im2col writes the patches of x (h x w x c) into a, one row of kh*kw*c
// values per output pixel, zeros where the window leaves the input.
func im2col(a, x []float32, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow int) {
	kk := kh * kw * c
	for oy := 0; oy < oh; oy++ {
		for ox := 0; ox < ow; ox++ {
			row := a[(oy*ow+ox)*kk : (oy*ow+ox+1)*kk]
			for ky := 0; ky < kh; ky++ {
				iy := oy*sh + ky - pt
				seg := row[ky*kw*c : (ky+1)*kw*c]
				if iy < 0 || iy >= h {
					clear(seg)
					continue
				}
				if ix := ox*sw - pl; ix >= 0 && ix+kw <= w {
					copy(seg, x[(iy*w+ix)*c:(iy*w+ix+kw)*c])
					continue
				}
				for kx := 0; kx < kw; kx++ {
					ix := ox*sw + kx - pl
					dst := seg[kx*c : (kx+1)*c]
					if ix < 0 || ix >= w {
						clear(dst)
						continue
					}
					copy(dst, x[(iy*w+ix)*c:(iy*w+ix+1)*c])
				}
			}
		}
	}
}

// buildDepthwise compiles DepthwiseConv2dNative (channel multiplier 1) and
// its fused form.
func buildDepthwise(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) < 2 {
		return nil, nil, fmt.Errorf("%w: want input and filter", ErrModel)
	}
	h, w, c, err := nhwc(g.vals[ins[0]].shape)
	if err != nil {
		return nil, nil, err
	}
	f := g.vals[ins[1]]
	if f.konst == nil || len(f.shape) != 4 || f.shape[2] != c || f.shape[3] != 1 {
		return nil, nil, fmt.Errorf("%w: depthwise filter %v for %d channels (multiplier 1 only)", ErrModel, f.shape, c)
	}
	kh, kw := f.shape[0], f.shape[1]
	sh, sw, padding, ph, pw, err := spatial(n)
	if err != nil {
		return nil, nil, err
	}
	oh, pt, err := window(h, kh, sh, padding, ph)
	if err != nil {
		return nil, nil, err
	}
	ow, pl, err := window(w, kw, sw, padding, pw)
	if err != nil {
		return nil, nil, err
	}
	bias, act := -1, activation{}
	if n.Op == "FusedDepthwiseConv2dNative" {
		if bias, act, err = g.fused(n, ins, 2); err != nil {
			return nil, nil, err
		}
	}
	var b []float32
	if bias >= 0 {
		b = g.vals[bias].konst
		if len(b) != c {
			return nil, nil, fmt.Errorf("%w: bias of %d for %d channels", ErrModel, len(b), c)
		}
	}
	filter := f.konst
	run := func(ins [][]float32, out []float32, _ *[]float32) {
		depthwise(out, ins[0], filter, b, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow)
		applyBiasAct(out[:oh*ow*c], c, nil, act)
	}
	return []int{1, oh, ow, c}, run, nil
}

// depthwise computes out[oy][ox][ch] = bias[ch] + sum over the window of
// x[iy][ix][ch] * f[ky][kx][ch] (bias may be nil), one output row at a
// time: for each filter tap, the run of output pixels whose input pixel is
// inside the image is one strided multiply-add.
func depthwise(out, x, f, bias []float32, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow int) {
	simd := haveSIMD && c%8 == 0
	wide := haveWide && c%16 == 0
	for oy := 0; oy < oh; oy++ {
		orow := out[oy*ow*c : (oy+1)*ow*c]
		if bias == nil {
			clear(orow)
		} else {
			for p := 0; p < len(orow); p += c {
				copy(orow[p:p+c], bias)
			}
		}
		for ky := 0; ky < kh; ky++ {
			iy := oy*sh + ky - pt
			if iy < 0 || iy >= h {
				continue
			}
			for kx := 0; kx < kw; kx++ {
				lo, hi := tapRange(kx, sw, pl, w, ow)
				if lo >= hi {
					continue
				}
				fw := f[(ky*kw+kx)*c : (ky*kw+kx+1)*c]
				ix := lo*sw + kx - pl
				in := x[(iy*w+ix)*c:]
				o := orow[lo*c : hi*c]
				if wide {
					dwRow512(&o[0], &in[0], &fw[0], hi-lo, c, sw*c)
					continue
				}
				if simd {
					dwRow(&o[0], &in[0], &fw[0], hi-lo, c, sw*c)
					continue
				}
				for p := 0; p < hi-lo; p++ {
					op := o[p*c : p*c+c]
					ip := in[p*sw*c : p*sw*c+c]
					for j := range op {
						op[j] += ip[j] * fw[j]
					}
				}
			}
		}
	}
}

// elementwise compiles an element-wise operation of two tensors where one is
// the other's shape or repeats along the leading dimensions (a scalar, a
// per-channel vector, ...).
func elementwise(op func(a, b float32) float32) opBuilder {
	return func(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
		if len(ins) != 2 {
			return nil, nil, fmt.Errorf("%w: want 2 inputs", ErrModel)
		}
		sa, sb := g.vals[ins[0]].shape, g.vals[ins[1]].shape
		na, nb := size(sa), size(sb)
		big := sa
		if nb > na {
			big = sb
		}
		small := sb
		if nb > na {
			small = sa
		}
		if !suffixOf(small, big) {
			return nil, nil, fmt.Errorf("%w: cannot broadcast %v with %v", ErrModel, sa, sb)
		}
		n0 := size(big)
		run := func(ins [][]float32, out []float32, _ *[]float32) {
			a, b := ins[0], ins[1]
			switch {
			case na == nb:
				a, b, out := a[:n0], b[:n0], out[:n0]
				for i := range out {
					out[i] = op(a[i], b[i])
				}
			case na > nb:
				for p := 0; p < n0; p += nb {
					for j := 0; j < nb; j++ {
						out[p+j] = op(a[p+j], b[j])
					}
				}
			default:
				for p := 0; p < n0; p += na {
					for j := 0; j < na; j++ {
						out[p+j] = op(a[j], b[p+j])
					}
				}
			}
		}
		return slices.Clone(big), run, nil
	}
}

// suffixOf reports whether small broadcasts to big by repetition: after
// dropping leading ones, small's dimensions equal big's last ones.
func suffixOf(small, big []int) bool {
	for len(small) > 0 && small[0] == 1 {
		small = small[1:]
	}
	if len(small) > len(big) {
		return false
	}
	return slices.Equal(small, big[len(big)-len(small):])
}

// buildAdd compiles an addition; one of two same-shaped tensors (the
// residual connections) runs in assembly, and fuseActivations may merge
// the activation that follows into it.
func buildAdd(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) == 2 && slices.Equal(g.vals[ins[0]].shape, g.vals[ins[1]].shape) {
		shape := g.vals[ins[0]].shape
		if c := lastDim(shape); haveSIMD && c%8 == 0 {
			total := size(shape)
			fuse := new(activation)
			st.kind, st.fuse = "add", fuse
			run := func(ins [][]float32, out []float32, _ *[]float32) {
				mode, _ := simdMode(c, *fuse)
				var alpha *float32
				if mode == 2 {
					alpha = &fuse.alpha[0]
				}
				addAct(&out[0], &ins[0][0], nil, &ins[1][0], alpha, total, c, mode)
			}
			return slices.Clone(shape), run, nil
		}
	}
	return elementwise(func(a, b float32) float32 { return a + b })(g, n, ins, st)
}

func buildRelu(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) != 1 {
		return nil, nil, fmt.Errorf("%w: want 1 input", ErrModel)
	}
	st.kind, st.act = "Relu", activation{kind: "Relu"}
	return actStep(g, ins[0], st.act)
}

func buildPrelu(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) != 2 || g.vals[ins[1]].konst == nil {
		return nil, nil, fmt.Errorf("%w: want input and constant slopes", ErrModel)
	}
	alpha := g.vals[ins[1]].konst
	shape := g.vals[ins[0]].shape
	if len(alpha) != 1 && (len(alpha) != lastDim(shape) || !suffixOf(g.vals[ins[1]].shape, shape)) {
		return nil, nil, fmt.Errorf("%w: slopes %v for %v", ErrModel, g.vals[ins[1]].shape, shape)
	}
	st.kind, st.act = "Prelu", activation{kind: "Prelu", alpha: alpha}
	return actStep(g, ins[0], st.act)
}

// actStep applies act to value v into the step's output.
func actStep(g *Graph, v int, act activation) ([]int, runFunc, error) {
	shape := g.vals[v].shape
	total, c := size(shape), lastDim(shape)
	run := func(ins [][]float32, out []float32, _ *[]float32) {
		copy(out[:total], ins[0][:total])
		applyBiasAct(out[:total], c, nil, act)
	}
	return slices.Clone(shape), run, nil
}

func unary(f func(float32) float32) opBuilder {
	return func(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
		if len(ins) != 1 {
			return nil, nil, fmt.Errorf("%w: want 1 input", ErrModel)
		}
		shape := g.vals[ins[0]].shape
		total := size(shape)
		run := func(ins [][]float32, out []float32, _ *[]float32) {
			x := ins[0][:total]
			out = out[:total]
			for i, v := range x {
				out[i] = f(v)
			}
		}
		return slices.Clone(shape), run, nil
	}
}

func buildMaxPool(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	h, w, c, err := nhwc(g.vals[ins[0]].shape)
	if err != nil {
		return nil, nil, err
	}
	ks := n.ints("ksize")
	if len(ks) != 4 || ks[0] != 1 || ks[3] != 1 {
		return nil, nil, fmt.Errorf("%w: ksize %v", ErrModel, ks)
	}
	sh, sw, padding, ph, pw, err := spatial(n)
	if err != nil {
		return nil, nil, err
	}
	oh, pt, err := window(h, ks[1], sh, padding, ph)
	if err != nil {
		return nil, nil, err
	}
	ow, pl, err := window(w, ks[2], sw, padding, pw)
	if err != nil {
		return nil, nil, err
	}
	kh, kw := ks[1], ks[2]
	run := func(ins [][]float32, out []float32, _ *[]float32) {
		maxPool(out, ins[0], h, w, c, kh, kw, sh, sw, pt, pl, oh, ow)
	}
	return []int{1, oh, ow, c}, run, nil
}

// maxPool computes out[oy][ox][ch] = the maximum of x over the window
// (taps outside the image do not count), row by row and tap by tap as
// depthwise does.
func maxPool(out, x []float32, h, w, c, kh, kw, sh, sw, pt, pl, oh, ow int) {
	simd := haveSIMD && c%8 == 0
	negInf := float32(math.Inf(-1))
	for oy := 0; oy < oh; oy++ {
		orow := out[oy*ow*c : (oy+1)*ow*c]
		for i := range orow {
			orow[i] = negInf
		}
		for ky := 0; ky < kh; ky++ {
			iy := oy*sh + ky - pt
			if iy < 0 || iy >= h {
				continue
			}
			for kx := 0; kx < kw; kx++ {
				lo, hi := tapRange(kx, sw, pl, w, ow)
				if lo >= hi {
					continue
				}
				ix := lo*sw + kx - pl
				in := x[(iy*w+ix)*c:]
				o := orow[lo*c : hi*c]
				if simd {
					maxRow(&o[0], &in[0], hi-lo, c, sw*c)
					continue
				}
				for p := 0; p < hi-lo; p++ {
					op := o[p*c : p*c+c]
					ip := in[p*sw*c : p*sw*c+c]
					for j := range op {
						if ip[j] > op[j] {
							op[j] = ip[j]
						}
					}
				}
			}
		}
	}
}

// tapRange is the range [lo, hi) of output columns ox whose input column
// ox*sw + kx - pl lies inside [0, w).
func tapRange(kx, sw, pl, w, ow int) (lo, hi int) {
	if d := pl - kx; d > 0 {
		lo = (d + sw - 1) / sw
	}
	if e := w - 1 - kx + pl; e >= 0 {
		hi = min(ow, e/sw+1)
	}
	return lo, hi
}

// buildPad compiles Pad and PadV2 of a 4-D tensor with constant paddings.
func buildPad(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) < 2 {
		return nil, nil, fmt.Errorf("%w: want input and paddings", ErrModel)
	}
	h, w, c, err := nhwc(g.vals[ins[0]].shape)
	if err != nil {
		return nil, nil, err
	}
	p, err := g.constInts(ins[1])
	if err != nil {
		return nil, nil, err
	}
	if len(p) != 8 || p[0] != 0 || p[1] != 0 || slices.ContainsFunc(p, func(v int) bool { return v < 0 || v > 1<<12 }) {
		return nil, nil, fmt.Errorf("%w: paddings %v", ErrModel, p)
	}
	var fill float32
	if n.Op == "PadV2" {
		if len(ins) != 3 || g.vals[ins[2]].konst == nil || len(g.vals[ins[2]].konst) != 1 {
			return nil, nil, fmt.Errorf("%w: PadV2 value is not a scalar constant", ErrModel)
		}
		fill = g.vals[ins[2]].konst[0]
	}
	oh, ow, oc := h+p[2]+p[3], w+p[4]+p[5], c+p[6]+p[7]
	run := func(ins [][]float32, out []float32, _ *[]float32) {
		x := ins[0]
		o := out[:oh*ow*oc]
		for i := range o {
			o[i] = fill
		}
		for y := 0; y < h; y++ {
			for xx := 0; xx < w; xx++ {
				dst := ((y+p[2])*ow+xx+p[4])*oc + p[6]
				copy(o[dst:dst+c], x[(y*w+xx)*c:(y*w+xx+1)*c])
			}
		}
	}
	return []int{1, oh, ow, oc}, run, nil
}

// buildMatMul compiles MatMul and _FusedMatMul of a [M K] tensor with a
// constant [K N] matrix (no transposes).
func buildMatMul(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	if len(ins) < 2 {
		return nil, nil, fmt.Errorf("%w: want 2 inputs", ErrModel)
	}
	if ta, tb := n.Attr["transpose_a"], n.Attr["transpose_b"]; ta.B != nil && *ta.B || tb.B != nil && *tb.B {
		return nil, nil, fmt.Errorf("%w: transposed operands", ErrModel)
	}
	sa, wv := g.vals[ins[0]].shape, g.vals[ins[1]]
	if len(sa) != 2 || wv.konst == nil || len(wv.shape) != 2 || wv.shape[0] != sa[1] {
		return nil, nil, fmt.Errorf("%w: product of %v and %v", ErrModel, sa, wv.shape)
	}
	m, k, nn := sa[0], sa[1], wv.shape[1]
	bias, act := -1, activation{}
	if n.Op == "_FusedMatMul" {
		var err error
		if bias, act, err = g.fused(n, ins, 2); err != nil {
			return nil, nil, err
		}
	}
	var b []float32
	if bias >= 0 {
		b = g.vals[bias].konst
		if len(b) != nn {
			return nil, nil, fmt.Errorf("%w: bias of %d for %d columns", ErrModel, len(b), nn)
		}
	}
	mat := gemm.New(k, nn, wv.konst)
	run := func(ins [][]float32, out []float32, scratch *[]float32) {
		need := gemm.RoundUp(m, 4) * k
		if cap(*scratch) < need {
			*scratch = make([]float32, need)
		}
		a := (*scratch)[:need]
		copy(a, ins[0][:m*k])
		mat.Mul(m, a, out)
		applyBiasAct(out[:m*nn], nn, b, act)
	}
	return []int{m, nn}, run, nil
}

// buildSoftmax compiles Softmax over the last dimension (computed in
// float64 per row).
func buildSoftmax(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error) {
	shape := g.vals[ins[0]].shape
	if len(shape) == 0 {
		return nil, nil, fmt.Errorf("%w: softmax of a scalar", ErrModel)
	}
	c, total := shape[len(shape)-1], size(shape)
	run := func(ins [][]float32, out []float32, _ *[]float32) {
		for p := 0; p < total; p += c {
			row := ins[0][p : p+c]
			mx := row[0]
			for _, v := range row {
				mx = max(mx, v)
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v - mx))
			}
			for j, v := range row {
				out[p+j] = float32(math.Exp(float64(v-mx)) / sum)
			}
		}
	}
	return slices.Clone(shape), run, nil
}
