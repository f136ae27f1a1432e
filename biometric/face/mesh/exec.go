package mesh

import (
	"fmt"
	"slices"
	"sync"

	"github.com/shenfen/shenfen/biometric/face/internal/tfjs"
)

// Graph is a TF.js graph model compiled for one input shape (batch 1,
// NHWC) and a chosen set of outputs: the nodes those outputs need, in
// order, each an operation with its shapes worked out at load time, and the
// buffers they write assigned so that a value's memory is reused once its
// last reader has run. It is safe for concurrent use.
type Graph struct {
	name    string
	input   []int // input shape, [1, H, W, C]
	steps   []step
	vals    []value
	outputs []int // value index of each requested output
	slots   []int // buffer sizes
	pool    sync.Pool
}

// value is one tensor of the graph: a constant, or the output of a step
// (in a buffer slot, or sharing its source's buffer for reshapes).
type value struct {
	shape []int
	konst []float32 // constant values, nil for computed ones
	ints  []int32   // int32 constant values (shapes, paddings)
	slot  int       // buffer slot, -1 for constants
}

// step is one operation: it reads the values in and writes value out.
type step struct {
	in  []int
	out int
	run func(ins [][]float32, out []float32, scratch *[]float32)
	// For the fusion of an addition with the activation that follows it:
	// kind is "add" (with fuse, the activation the run applies) or the
	// activation's name (with act).
	kind string
	op   string // the node's operation, for diagnostics
	fuse *activation
	act  activation
	conv *convFuse // for kind "conv"
}

// arena is one run's buffers.
type arena struct {
	bufs    [][]float32
	input   []float32 // the input, with slack
	scratch []float32
}

// slack is the number of floats every buffer has past its values, so the
// 4-row GEMM kernel may read and write whole blocks of rows.
func slack(shape []int) int {
	if len(shape) == 0 {
		return 4
	}
	return 4 * shape[len(shape)-1]
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// loadGraph reads dir/name.json with its weights and compiles it for the
// input shape in (batch first) and the named output nodes.
func loadGraph(dir, name string, in []int, outputs ...string) (*Graph, error) {
	nodes, consts, err := readModel(dir, name)
	if err != nil {
		return nil, err
	}
	g, err := compile(nodes, consts, in, outputs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g.name = name
	return g, nil
}

func compile(nodes []nodeDef, consts map[string]tfjs.Tensor, in []int, outputs []string) (*Graph, error) {
	byName := make(map[string]*nodeDef, len(nodes))
	for i := range nodes {
		byName[nodes[i].Name] = &nodes[i]
	}
	g := &Graph{input: slices.Clone(in)}
	index := make(map[string]int)
	visiting := make(map[string]bool)
	var visit func(name string) (int, error)
	visit = func(name string) (int, error) {
		if v, ok := index[name]; ok {
			return v, nil
		}
		if visiting[name] {
			return 0, fmt.Errorf("%w: cycle at node %q", ErrModel, name)
		}
		visiting[name] = true
		n, ok := byName[name]
		if !ok {
			return 0, fmt.Errorf("%w: no node %q", ErrModel, name)
		}
		var ins []int
		for _, s := range n.Input {
			src, ok, err := inputName(s)
			if err != nil {
				return 0, err
			}
			if !ok {
				continue
			}
			v, err := visit(src)
			if err != nil {
				return 0, err
			}
			ins = append(ins, v)
		}
		v, err := g.add(n, ins, consts)
		if err != nil {
			return 0, fmt.Errorf("node %q (%s): %w", n.Name, n.Op, err)
		}
		index[name] = v
		return v, nil
	}
	for _, o := range outputs {
		v, err := visit(o)
		if err != nil {
			return nil, err
		}
		g.outputs = append(g.outputs, v)
	}
	g.fuseActivations()
	g.fuseResidual()
	g.assignSlots()
	g.pool.New = func() any {
		a := &arena{bufs: make([][]float32, len(g.slots))}
		for i, n := range g.slots {
			a.bufs[i] = make([]float32, n)
		}
		return a
	}
	return g, nil
}

// fuseActivations merges an activation into the addition before it when
// the activation is the sum's only reader: one pass over memory instead
// of two.
func (g *Graph) fuseActivations() {
	readers := make([]int, len(g.vals))
	for _, s := range g.steps {
		for _, v := range s.in {
			readers[v]++
		}
	}
	for _, v := range g.outputs {
		readers[v]++
	}
	producer := make(map[int]int)
	for i, s := range g.steps {
		producer[s.out] = i
	}
	drop := make([]bool, len(g.steps))
	for _, s := range g.steps {
		if s.kind == "Relu" || s.kind == "Prelu" {
			if j, ok := producer[s.in[0]]; ok && g.steps[j].kind == "add" && readers[s.in[0]] == 1 {
				if _, ok := simdMode(lastDim(g.vals[s.out].shape), s.act); ok {
					*g.steps[j].fuse = s.act
					g.steps[j].out = s.out
					drop[producer[s.out]] = true
				}
			}
		}
	}
	kept := make([]step, 0, len(g.steps))
	for i, s := range g.steps {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	g.steps = kept
}

// fuseResidual merges an addition (with its fused activation) into the
// convolution that computes one of its operands, when the convolution's
// output is read by nothing else and the other operand is ready before the
// convolution runs: the bias, the residual and the activation in one pass.
func (g *Graph) fuseResidual() {
	readers := make([]int, len(g.vals))
	for _, s := range g.steps {
		for _, v := range s.in {
			readers[v]++
		}
	}
	for _, v := range g.outputs {
		readers[v]++
	}
	producer := make(map[int]int)
	for i, s := range g.steps {
		producer[s.out] = i
	}
	ready := func(v, before int) bool {
		p, ok := producer[v]
		return !ok || p < before
	}
	drop := make([]bool, len(g.steps))
	for i := range g.steps {
		s := &g.steps[i]
		if s.kind != "add" || len(s.in) != 2 {
			continue
		}
		for j := range 2 {
			ci, ok := producer[s.in[j]]
			if !ok || g.steps[ci].kind != "conv" || readers[s.in[j]] != 1 {
				continue
			}
			c := &g.steps[ci]
			other := s.in[1-j]
			if !ready(other, ci) || !slices.Equal(g.vals[other].shape, g.vals[c.out].shape) {
				continue
			}
			c.conv.residual, c.conv.act = true, *s.fuse
			c.in = append(c.in, other)
			c.out = s.out
			drop[i] = true
			break
		}
	}
	kept := make([]step, 0, len(g.steps))
	for i, s := range g.steps {
		if !drop[i] {
			kept = append(kept, s)
		}
	}
	g.steps = kept
}

func lastDim(shape []int) int {
	if len(shape) == 0 {
		return 1
	}
	return shape[len(shape)-1]
}

// assignSlots gives every computed value a buffer, reusing the buffer of a
// value whose last reader has run. Reshapes share their source's buffer.
func (g *Graph) assignSlots() {
	root := make([]int, len(g.vals))
	for i := range root {
		root[i] = i
	}
	alias := make(map[int]bool)
	for _, s := range g.steps {
		if s.run == nil { // an alias step
			root[s.out] = root[s.in[0]]
			alias[s.out] = true
		}
	}
	last := make([]int, len(g.vals))
	for i, s := range g.steps {
		for _, v := range s.in {
			last[root[v]] = i
		}
	}
	for _, v := range g.outputs {
		last[root[v]] = len(g.steps)
	}
	var free []int
	for i, s := range g.steps {
		if s.run != nil {
			need := size(g.vals[s.out].shape) + slack(g.vals[s.out].shape)
			slot := -1
			for j, f := range free {
				if g.slots[f] >= need && (slot < 0 || g.slots[f] < g.slots[free[slot]]) {
					slot = j
				}
			}
			if slot >= 0 {
				g.vals[s.out].slot = free[slot]
				free = slices.Delete(free, slot, slot+1)
			} else {
				g.vals[s.out].slot = len(g.slots)
				g.slots = append(g.slots, need)
			}
		}
		for _, v := range s.in {
			r := root[v]
			if last[r] == i && g.vals[r].slot >= 0 && !slices.Contains(free, g.vals[r].slot) {
				free = append(free, g.vals[r].slot)
			}
		}
	}
	for v := range g.vals {
		if alias[v] {
			g.vals[v].slot = g.vals[root[v]].slot
		}
	}
}

// Run executes the graph on in (the input tensor's values, NHWC) and
// returns copies of the requested outputs' values.
func (g *Graph) Run(in []float32) ([][]float32, error) {
	if len(in) != size(g.input) {
		return nil, fmt.Errorf("mesh: %s: input has %d values, want %d for shape %v", g.name, len(in), size(g.input), g.input)
	}
	a := g.pool.Get().(*arena)
	defer g.pool.Put(a)
	if len(a.input) == 0 {
		a.input = make([]float32, size(g.input)+slack(g.input))
	}
	copy(a.input, in)
	get := func(v int) []float32 {
		val := &g.vals[v]
		switch {
		case val.konst != nil:
			return val.konst
		case val.slot < 0:
			return a.input
		}
		return a.bufs[val.slot]
	}
	ins := make([][]float32, 0, 4)
	for _, s := range g.steps {
		if s.run == nil {
			continue
		}
		ins = ins[:0]
		for _, v := range s.in {
			ins = append(ins, get(v))
		}
		s.run(ins, get(s.out), &a.scratch)
	}
	out := make([][]float32, len(g.outputs))
	for i, v := range g.outputs {
		out[i] = slices.Clone(get(v)[:size(g.vals[v].shape)])
	}
	return out, nil
}

// Shape returns the shape of the i-th requested output.
func (g *Graph) Shape(i int) []int { return slices.Clone(g.vals[g.outputs[i]].shape) }

// newValue appends a value and returns its index.
func (g *Graph) newValue(v value) int {
	g.vals = append(g.vals, v)
	return len(g.vals) - 1
}

// add compiles node n whose inputs are the values ins.
func (g *Graph) add(n *nodeDef, ins []int, consts map[string]tfjs.Tensor) (int, error) {
	switch n.Op {
	case "Const":
		c, ok := consts[n.Name]
		if !ok {
			return 0, fmt.Errorf("%w: no weights", ErrModel)
		}
		return g.newValue(value{shape: c.Shape, konst: c.F, ints: c.I, slot: -1}), nil
	case "Placeholder":
		return g.newValue(value{shape: slices.Clone(g.input), slot: -1}), nil
	}
	for _, v := range ins {
		if g.vals[v].konst == nil && g.vals[v].ints != nil && n.Op != "Reshape" && n.Op != "Pad" && n.Op != "PadV2" && n.Op != "ConcatV2" {
			return 0, fmt.Errorf("%w: int32 operand", ErrModel)
		}
	}
	build, ok := ops[n.Op]
	if !ok {
		return 0, fmt.Errorf("%w: operation %s not supported", ErrModel, n.Op)
	}
	var st step
	shape, run, err := build(g, n, ins, &st)
	if err != nil {
		return 0, err
	}
	if run == nil && g.vals[ins[0]].slot < 0 && g.vals[ins[0]].konst != nil {
		// A reshape of a constant is a constant.
		return g.newValue(value{shape: shape, konst: g.vals[ins[0]].konst, slot: -1}), nil
	}
	out := g.newValue(value{shape: shape})
	// Constant operands are read straight from the graph; only computed
	// inputs and the placeholder are inputs of the step.
	st.in, st.out, st.run, st.op = ins, out, run, n.Op
	g.steps = append(g.steps, st)
	return out, nil
}

// opBuilder compiles one node: its output shape and the function that
// computes it (nil for an operation that only reinterprets its first
// input's buffer, such as Reshape).
type opBuilder func(g *Graph, n *nodeDef, ins []int, st *step) ([]int, runFunc, error)

var ops map[string]opBuilder

func init() {
	ops = map[string]opBuilder{
		"Identity":                   buildAlias,
		"Reshape":                    buildReshape,
		"Squeeze":                    buildSqueeze,
		"_FusedConv2D":               buildConv,
		"Conv2D":                     buildConv,
		"DepthwiseConv2dNative":      buildDepthwise,
		"FusedDepthwiseConv2dNative": buildDepthwise,
		"AddV2":                      buildAdd,
		"Add":                        buildAdd,
		"BiasAdd":                    elementwise(func(a, b float32) float32 { return a + b }),
		"Sub":                        elementwise(func(a, b float32) float32 { return a - b }),
		"Mul":                        elementwise(func(a, b float32) float32 { return a * b }),
		"Maximum":                    elementwise(func(a, b float32) float32 { return max(a, b) }),
		"Minimum":                    elementwise(func(a, b float32) float32 { return min(a, b) }),
		"Prelu":                      buildPrelu,
		"Relu":                       buildRelu,
		"Relu6":                      unary(relu6),
		"Sigmoid":                    unary(sigmoid),
		"MaxPool":                    buildMaxPool,
		"Pad":                        buildPad,
		"PadV2":                      buildPad,
		"MatMul":                     buildMatMul,
		"_FusedMatMul":               buildMatMul,
		"Softmax":                    buildSoftmax,
	}
}
