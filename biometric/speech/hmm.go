package speech

import (
	"bytes"
	"encoding/gob"
	"fmt"
	"math"
)

// A digitModel is a small whole-word acoustic model: every pronunciation
// of every digit, silence and "other speech" (garbage) is a left-to-right
// hidden Markov model whose states emit [features] through diagonal
// Gaussian mixtures. It is trained here on generated speech (see
// train_test.go) and decoded by [network.viterbi].
type digitModel struct {
	Version string
	States  []mixture
	Words   []wordHMM
}

// wordHMM is one pronunciation: a chain of states (indices into
// digitModel.States), each visited at least one frame, no skips.
type wordHMM struct {
	Name   string
	Digit  byte // '0'..'9'; 0 for silence and garbage
	States []int
}

// gaussian is one diagonal component; Const holds its log weight and
// normalisation, so that its log density at x is
// Const - ½ Σ (x-Mean)²·IVar.
type gaussian struct {
	Mean, IVar []float32
	Const      float32
}

// mixture is a state's output distribution.
type mixture []gaussian

// logLik is the log density of x under m.
func (m mixture) logLik(x []float32) float32 {
	best := float32(math.Inf(-1))
	var vals [16]float32
	for i, g := range m {
		var d float32
		for k, mu := range g.Mean {
			e := x[k] - mu
			d += e * e * g.IVar[k]
		}
		v := g.Const - 0.5*d
		if i < len(vals) {
			vals[i] = v
		}
		best = max(best, v)
	}
	if len(m) <= 1 || len(m) > len(vals) {
		return best
	}
	var s float64
	for _, v := range vals[:len(m)] {
		s += math.Exp(float64(v - best))
	}
	return best + float32(math.Log(s))
}

func (m *digitModel) word(name string) int {
	for i, w := range m.Words {
		if w.Name == name {
			return i
		}
	}
	return -1
}

// stateScores are the log densities of every state of the model for every
// frame: scores[t][s].
func (m *digitModel) stateScores(feats [][]float32) [][]float32 {
	out := make([][]float32, len(feats))
	flat := make([]float32, len(feats)*len(m.States))
	for t, x := range feats {
		out[t] = flat[t*len(m.States) : (t+1)*len(m.States)]
		for s, mx := range m.States {
			out[t][s] = mx.logLik(x)
		}
	}
	return out
}

func (m *digitModel) encode() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode(m); err != nil {
		return nil, fmt.Errorf("speech: encode digit model: %w", err)
	}
	return b.Bytes(), nil
}

func decodeDigitModel(b []byte) (*digitModel, error) {
	var m digitModel
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&m); err != nil {
		return nil, fmt.Errorf("speech: decode digit model: %w", err)
	}
	for _, w := range m.Words {
		for _, s := range w.States {
			if s < 0 || s >= len(m.States) {
				return nil, fmt.Errorf("speech: digit model: word %s has state %d of %d", w.Name, s, len(m.States))
			}
		}
		if len(w.States) == 0 {
			return nil, fmt.Errorf("speech: digit model: word %s has no state", w.Name)
		}
	}
	return &m, nil
}

// network is a graph of words to decode: a path starts at an entry node,
// follows next edges and ends at an exit node; entering a node costs its
// penalty (a log probability, <= 0).
type network struct {
	nodes []netNode
}

type netNode struct {
	word        int
	next        []int
	entry, exit bool
	penalty     float32
}

func (n *network) add(word int, penalty float32) int {
	n.nodes = append(n.nodes, netNode{word: word, penalty: penalty})
	return len(n.nodes) - 1
}

func (n *network) link(from, to int) { n.nodes[from].next = append(n.nodes[from].next, to) }

// wordSeg is one word of a decoded path: frames sf..ef (inclusive) and the
// sum of its frames' state log densities.
type wordSeg struct {
	word   int
	sf, ef int
	score  float64
}

// path is the best path of a network through an utterance: its words and
// the log density of each frame along it.
type path struct {
	words []wordSeg
	frame []float32
	total float64
}

// span is the sum of the path's frame scores over frames sf..ef.
func (p path) span(sf, ef int) float64 {
	var s float64
	for t := max(sf, 0); t <= ef && t < len(p.frame); t++ {
		s += float64(p.frame[t])
	}
	return s
}

// viterbi finds the best path of n through the frames whose state scores
// are given (from [digitModel.stateScores]). Transitions inside a word
// are free (a state is left or kept at no cost); ok is false when no path
// fits (fewer frames than the shortest path's states).
func (n *network) viterbi(m *digitModel, scores [][]float32) (path, bool) {
	T := len(scores)
	if T == 0 {
		return path{}, false
	}
	// Global state index of node i, position j: base[i]+j.
	base := make([]int, len(n.nodes)+1)
	for i, nd := range n.nodes {
		base[i+1] = base[i] + len(m.Words[nd.word].States)
	}
	S := base[len(n.nodes)]
	preds := make([][]int, len(n.nodes))
	for i, nd := range n.nodes {
		for _, j := range nd.next {
			preds[j] = append(preds[j], i)
		}
	}
	neg := float32(math.Inf(-1))
	prev, cur := make([]float32, S), make([]float32, S)
	bp := make([]int32, T*S)
	for s := range prev {
		prev[s] = neg
	}
	for i, nd := range n.nodes {
		if nd.entry {
			prev[base[i]] = nd.penalty + scores[0][m.Words[nd.word].States[0]]
			bp[base[i]] = -1
		}
	}
	for t := 1; t < T; t++ {
		row := bp[t*S : (t+1)*S]
		sc := scores[t]
		for i, nd := range n.nodes {
			st := m.Words[nd.word].States
			b := base[i]
			// Entry: stay in the first state, or come from a
			// predecessor's last state.
			best, arg := prev[b], int32(b)
			for _, p := range preds[i] {
				e := base[p+1] - 1
				if v := prev[e] + nd.penalty; v > best {
					best, arg = v, int32(e)
				}
			}
			cur[b], row[b] = best+sc[st[0]], arg
			for j := 1; j < len(st); j++ {
				g := b + j
				best, arg := prev[g], int32(g)
				if v := prev[g-1]; v > best {
					best, arg = v, int32(g-1)
				}
				cur[g], row[g] = best+sc[st[j]], arg
			}
		}
		prev, cur = cur, prev
	}
	end, endScore := -1, neg
	for i, nd := range n.nodes {
		if e := base[i+1] - 1; nd.exit && prev[e] > endScore {
			end, endScore = e, prev[e]
		}
	}
	if end < 0 || math.IsInf(float64(endScore), -1) {
		return path{}, false
	}
	// Back-trace the states, then cut them into words.
	states := make([]int, T)
	s := end
	for t := T - 1; t >= 0; t-- {
		states[t] = s
		if t > 0 {
			s = int(bp[t*S+s])
		}
	}
	nodeOf := func(g int) (int, int) {
		lo, hi := 0, len(n.nodes)-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if base[mid] <= g {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo, g - base[lo]
	}
	p := path{frame: make([]float32, T), total: float64(endScore)}
	lastNode, lastPos := -1, -1
	for t, g := range states {
		nd, pos := nodeOf(g)
		w := n.nodes[nd].word
		p.frame[t] = scores[t][m.Words[w].States[pos]]
		if nd != lastNode || pos < lastPos {
			p.words = append(p.words, wordSeg{word: w, sf: t, ef: t})
		}
		ws := &p.words[len(p.words)-1]
		ws.ef = t
		ws.score += float64(p.frame[t])
		lastNode, lastPos = nd, pos
	}
	return p, true
}

// digitWords returns the model's pronunciations of digit d.
func (m *digitModel) digitWords(d byte) []int {
	var out []int
	for i, w := range m.Words {
		if w.Digit == d {
			out = append(out, i)
		}
	}
	return out
}

// forcedNetwork is the challenge's digits in order, each with its
// pronunciations, with optional silence before, between and after;
// entering a digit costs wordPenalty, as in [digitModel.loopNetwork].
func (m *digitModel) forcedNetwork(digits string, wordPenalty float32) *network {
	alts := make([][]int, len(digits))
	for i := range len(digits) {
		alts[i] = m.digitWords(digits[i])
	}
	return m.sequenceNetwork(alts, wordPenalty)
}

// sequenceNetwork is a sequence of words, each one of its alternatives,
// with optional silence before, between and after.
func (m *digitModel) sequenceNetwork(alts [][]int, wordPenalty float32) *network {
	n := &network{}
	sil := m.word("sil")
	var prevWords []int
	prevSil := n.add(sil, 0)
	n.nodes[prevSil].entry = true
	for i, a := range alts {
		var ws []int
		for _, w := range a {
			k := n.add(w, wordPenalty)
			ws = append(ws, k)
			n.link(prevSil, k)
			for _, p := range prevWords {
				n.link(p, k)
			}
			if i == 0 {
				n.nodes[k].entry = true
			}
		}
		s := n.add(sil, 0)
		for _, k := range ws {
			n.link(k, s)
		}
		prevWords, prevSil = ws, s
	}
	for _, k := range prevWords {
		n.nodes[k].exit = true
	}
	n.nodes[prevSil].exit = true
	return n
}

// loopNetwork is any sequence of digits, other speech (garbage) and
// silence: the competing hypothesis. Entering a digit or garbage costs
// wordPenalty, so that the loop does not explain one word by many.
func (m *digitModel) loopNetwork(wordPenalty float32) *network {
	n := &network{}
	for i, w := range m.Words {
		pen := wordPenalty
		if w.Name == "sil" {
			pen = 0
		}
		k := n.add(i, pen)
		n.nodes[k].entry, n.nodes[k].exit = true, true
	}
	for i := range n.nodes {
		for j := range n.nodes {
			if i != j || n.nodes[i].word != m.word("sil") {
				n.link(i, j)
			}
		}
	}
	return n
}
