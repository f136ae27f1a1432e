package speech

import (
	"math"
	"math/cmplx"
	"math/rand/v2"
	"testing"
)

func TestFFT(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]complex128, 64)
	for i := range x {
		x[i] = complex(r.NormFloat64(), r.NormFloat64())
	}
	want := make([]complex128, len(x))
	for k := range want {
		for n, v := range x {
			want[k] += v * cmplx.Exp(complex(0, -2*math.Pi*float64(k*n)/float64(len(x))))
		}
	}
	fft(x)
	for k := range x {
		if cmplx.Abs(x[k]-want[k]) > 1e-9 {
			t.Fatalf("bin %d: %v, want %v", k, x[k], want[k])
		}
	}
}

func TestFeatures(t *testing.T) {
	if features(make([]int16, featFrame-1)) != nil {
		t.Fatal("features of less than a frame")
	}
	// A tone that moves, with noise: every dimension normalised.
	r := rand.New(rand.NewPCG(3, 4))
	pcm := make([]int16, SampleRate)
	for i := range pcm {
		f := 300 + 2000*float64(i)/float64(len(pcm))
		pcm[i] = int16(8000*math.Sin(2*math.Pi*f*float64(i)/SampleRate) + 100*r.NormFloat64())
	}
	f := features(pcm)
	if want := 1 + (len(pcm)-featFrame)/featHop; len(f) != want {
		t.Fatalf("%d frames, want %d", len(f), want)
	}
	for k := range featDim {
		var s, s2 float64
		for _, x := range f {
			s += float64(x[k])
			s2 += float64(x[k]) * float64(x[k])
		}
		m := s / float64(len(f))
		if math.Abs(m) > 1e-3 || math.Abs(s2/float64(len(f))-m*m-1) > 1e-2 {
			t.Fatalf("dimension %d: mean %.4f, second moment %.4f", k, m, s2/float64(len(f)))
		}
	}
}

// toyModel has two one-state "digits" and silence over one feature
// dimension, told apart by their means.
func toyModel() *digitModel {
	g := func(mu float32) mixture {
		gs := gaussian{Mean: make([]float32, featDim), IVar: make([]float32, featDim)}
		for k := range featDim {
			gs.IVar[k] = 1
		}
		gs.Mean[0] = mu
		return mixture{gs}
	}
	return &digitModel{
		States: []mixture{g(0), g(5), g(-5), g(10)},
		Words: []wordHMM{
			{Name: "sil", States: []int{0}},
			{Name: "one", Digit: '1', States: []int{1, 1}},
			{Name: "two", Digit: '2', States: []int{2, 2}},
			{Name: "other", States: []int{3}},
		},
	}
}

func frames(means ...float32) [][]float32 {
	out := make([][]float32, len(means))
	for i, m := range means {
		out[i] = make([]float32, featDim)
		out[i][0] = m
	}
	return out
}

func TestViterbi(t *testing.T) {
	m := toyModel()
	f := frames(0, 0, 5, 5, 5, 0, -5, -5, 5, 5, 0)
	sc := m.stateScores(f)
	p, ok := m.forcedNetwork("121", -1).viterbi(m, sc)
	if !ok {
		t.Fatal("no forced path")
	}
	var got []wordSeg
	for _, w := range p.words {
		if m.Words[w.word].Digit != 0 {
			got = append(got, w)
		}
	}
	want := [][2]int{{2, 4}, {6, 7}, {8, 9}}
	if len(got) != len(want) {
		t.Fatalf("words %+v", p.words)
	}
	for i, w := range got {
		if w.sf != want[i][0] || w.ef != want[i][1] {
			t.Fatalf("word %d at %d..%d, want %v", i, w.sf, w.ef, want[i])
		}
	}
	// The path's score is its frames' scores and the penalties.
	var sum float64
	for _, v := range p.frame {
		sum += float64(v)
	}
	if math.Abs(sum-3-p.total) > 1e-3 {
		t.Fatalf("total %.3f, frames %.3f", p.total, sum)
	}
	// The loop hears the same digits; forced "122" fits worse.
	loop, _ := m.loopNetwork(-1).viterbi(m, sc)
	if math.Abs(loop.total-p.total) > 1e-3 {
		t.Fatalf("loop %.3f, forced %.3f", loop.total, p.total)
	}
	worse, ok := m.forcedNetwork("122", -1).viterbi(m, sc)
	if !ok || worse.total > p.total-10 {
		t.Fatalf("forced 122: %v %.3f against %.3f", ok, worse.total, p.total)
	}
	// Too few frames for four two-frame words.
	if _, ok := m.forcedNetwork("1212", -1).viterbi(m, sc[:7]); ok {
		t.Fatal("a path through 8 states in 7 frames")
	}
}

func TestMandarinModel(t *testing.T) {
	m, err := zhModel()
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != MandarinModelVersion {
		t.Fatalf("model %q, code %q: retrain (scripts/train-speech-zh.sh)", m.Version, MandarinModelVersion)
	}
	for d := byte('0'); d <= '9'; d++ {
		if len(m.digitWords(d)) == 0 {
			t.Fatalf("no word for %c", d)
		}
	}
	if m.word("sil") < 0 || m.word("other") < 0 {
		t.Fatal("no silence or other-speech model")
	}
	if _, err := decodeDigitModel([]byte("not a model")); err == nil {
		t.Fatal("garbage decoded")
	}
}
