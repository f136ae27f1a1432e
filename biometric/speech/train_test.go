//go:build cgo

package speech

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The training of the Mandarin digit model (zh-digits.gob). It runs only
// with SHENFEN_SPEECH_TRAIN=1 (scripts/train-speech-zh.sh) and needs
// espeak-ng. The voices are espeak-ng's pinyin Mandarin voice with
// variants that neither the calibration set nor the test set of the
// benchmark (bench_test.go) uses; other texts than the benchmark's
// sentences train the "other speech" model.

var trainVariants = []string{
	"m2", "m4", "m5", "m7", "m8", "f2", "f5", "klatt2", "klatt4", "klatt5", "klatt6",
	"adam", "Andy", "aunty", "benjamin", "david", "linda", "max", "paul", "robert", "steph", "quincy", "Annie", "Lee",
}

// zhWords are the model's digit pronunciations: pinyin and digit.
var zhWords = []trainWord{
	{"ling2", '0'}, {"yi1", '1'}, {"yao1", '1'}, {"er4", '2'}, {"san1", '3'}, {"si4", '4'},
	{"wu3", '5'}, {"liu4", '6'}, {"qi1", '7'}, {"ba1", '8'}, {"jiu3", '9'},
}

// trainSentences are Mandarin texts (pinyin) other than digits, for the
// "other speech" model; none is a benchmark sentence.
var trainSentences = []string{
	"wo3 men5 ming2 tian1 qu4 shang1 dian4 mai3 dong1 xi1", "zhe4 ge4 wen4 ti2 hen3 jian3 dan1",
	"ta1 zai4 yin2 hang2 gong1 zuo4", "qing3 ba3 zhao4 pian4 fang4 zai4 zhuo1 shang4",
	"ni3 jia1 li2 zhe4 li3 yuan3 bu4 yuan3", "wo3 xi3 huan1 he1 cha2", "kuai4 yao4 xia4 yu3 le5",
	"zhe4 ben3 shu1 shi4 shei2 de5", "ma1 ma5 zai4 chu2 fang2 zuo4 fan4", "gong1 gong4 qi4 che1 lai2 le5",
	"ni3 kan4 jian4 wo3 de5 yao4 shi5 le5 ma5", "xue2 sheng1 men5 zai4 cao1 chang3 shang4 pao3 bu4",
	"shi2 dian3 ban4 kai1 hui4", "ta1 shuo1 ta1 hen3 lei4", "wo3 xiang3 qu4 bei3 jing1 lv3 you2",
	"fu2 wu4 yuan2 qing3 gei3 wo3 yi1 bei1 shui3", "zhu4 ni3 sheng1 ri4 kuai4 le4",
	"ke3 yi3 bang1 wo3 yi2 xia4 ma5", "cheng2 shi4 de5 ye4 wan3 hen3 mei3", "dui4 bu5 qi3 wo3 lai2 wan3 le5",
	"zhong1 guo2 ren2 min2", "ni3 men5 hao3", "shou3 ji1 mei2 dian4 le5", "shen1 fen4 zheng4 hao4 ma3",
}

// utterance is one training recording's features and, for readings, the
// words it holds (model word indices), or nil for other speech.
type utterance struct {
	feats [][]float32
	words []int
	span  [2]int // the speech frames of a single word, for the flat start
}

func TestTrainMandarinModel(t *testing.T) {
	if os.Getenv("SHENFEN_SPEECH_TRAIN") == "" {
		t.Skip("set SHENFEN_SPEECH_TRAIN=1 (scripts/train-speech-zh.sh) to train the Mandarin digit model")
	}
	var voices []string
	for _, v := range trainVariants {
		voices = append(voices, "cmn-latn-pinyin+"+v)
	}
	trainModel(t, trainSpec{version: MandarinModelVersion, voices: voices, words: zhWords,
		sentences: trainSentences, seed: 2026, out: "zh-digits.gob"})
}

// TestTrainEnglishModel trains an English digit model the same way, on
// espeak-ng US English voices that the benchmark's calibration set does
// not use (its test set has none): an experiment against PocketSphinx
// (SHENFEN_SPEECH_TRAIN=en, writes en-digits.gob; TestBenchSpeech uses it
// with SHENFEN_SPEECH_EN_MODEL=FILE).
func TestTrainEnglishModel(t *testing.T) {
	if os.Getenv("SHENFEN_SPEECH_TRAIN") != "en" {
		t.Skip("set SHENFEN_SPEECH_TRAIN=en to train the experimental English digit model")
	}
	var voices []string
	for _, v := range enTrainVariants {
		voices = append(voices, "en-us+"+v)
	}
	// SHENFEN_SPEECH_TRAIN_MORE="flite:awb festival:kal_diphone": train on
	// voices of other engines too (an experiment: the benchmark's test
	// set must then leave them out).
	voices = append(voices, strings.Fields(os.Getenv("SHENFEN_SPEECH_TRAIN_MORE"))...)
	words := []trainWord{{"zero", '0'}, {"oh", '0'}, {"one", '1'}, {"two", '2'}, {"three", '3'}, {"four", '4'},
		{"five", '5'}, {"six", '6'}, {"seven", '7'}, {"eight", '8'}, {"nine", '9'}}
	trainModel(t, trainSpec{version: "shenfen-en-digits/hmm-espeak-ng-trained/forced-vs-loop/v0", voices: voices,
		words: words, sentences: enTrainSentences, seed: 2027, out: "en-digits.gob"})
}

var enTrainVariants = []string{
	"m1", "m2", "m4", "m5", "m7", "m8", "f1", "f3", "f4", "f5", "klatt", "klatt3", "klatt4", "klatt5", "klatt6",
	"adam", "Andy", "aunty", "benjamin", "david", "linda", "max", "paul", "robert", "steph", "quincy", "Annie", "Lee",
}

var enTrainSentences = []string{
	"we are going to the market tomorrow", "this question is very simple", "she works at the bank",
	"put the pictures on the table", "is your house far from here", "I like to drink tea", "it is going to rain",
	"whose book is this", "mother is cooking in the kitchen", "the bus is coming", "did you see my keys",
	"the students are running on the field", "the meeting starts at half past ten", "he says he is tired",
	"I want to travel to the north", "could I have a glass of water", "happy birthday to you",
	"can you help me for a moment", "the city is beautiful at night", "sorry I am late", "good evening everybody",
	"my phone battery is empty", "where is the station", "let me think about it",
}

// trainSpec is what one language's digit model is trained on.
type trainSpec struct {
	version   string
	voices    []string // espeak-ng voices, or engine:voice of another engine
	words     []trainWord
	sentences []string
	seed      uint64
	out       string
}

type trainWord = struct {
	name  string
	digit byte
}

func trainModel(t *testing.T, spec trainSpec) {
	if _, err := exec.LookPath("espeak-ng"); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(spec.seed, 12))
	dir := t.TempDir()
	m := &digitModel{Version: spec.version}
	for _, w := range spec.words {
		m.Words = append(m.Words, wordHMM{Name: w.name, Digit: w.digit})
	}
	wordIndex := func(name string) int {
		return slices.IndexFunc(spec.words, func(w trainWord) bool { return w.name == name })
	}
	var isolated, readings, other []utterance
	for _, voice := range spec.voices {
		for _, w := range spec.words {
			for range 2 {
				u := trainClip(t, dir, voice, w.name, r)
				u.words = []int{wordIndex(w.name)}
				isolated = append(isolated, u)
			}
		}
		for range 12 {
			var names []string
			var words []int
			for range 4 {
				w := spec.words[r.IntN(len(spec.words))]
				names = append(names, w.name)
				words = append(words, wordIndex(w.name))
			}
			sep := " "
			if r.IntN(2) == 0 {
				sep = ", "
			}
			u := trainClip(t, dir, voice, strings.Join(names, sep), r)
			u.words = words
			readings = append(readings, u)
		}
		for range 4 {
			other = append(other, trainClip(t, dir, voice, spec.sentences[r.IntN(len(spec.sentences))], r))
		}
	}
	t.Logf("%d isolated words, %d readings, %d other sentences", len(isolated), len(readings), len(other))

	// Flat start: each word's speech frames cut evenly into its states.
	lengths := make([][]int, len(spec.words))
	for _, u := range isolated {
		lengths[u.words[0]] = append(lengths[u.words[0]], u.span[1]-u.span[0]+1)
	}
	var silFrames [][]float32
	stateFrames := map[int][][]float32{}
	for i := range spec.words {
		slices.Sort(lengths[i])
		n := min(max(int(float64(lengths[i][len(lengths[i])/4])/3.0), 3), 14)
		for range n {
			m.Words[i].States = append(m.Words[i].States, len(m.States))
			m.States = append(m.States, nil)
		}
	}
	for _, u := range isolated {
		w := m.Words[u.words[0]]
		n := u.span[1] - u.span[0] + 1
		for t, x := range u.feats {
			if t < u.span[0] || t > u.span[1] {
				silFrames = append(silFrames, x)
				continue
			}
			s := w.States[min((t-u.span[0])*len(w.States)/n, len(w.States)-1)]
			stateFrames[s] = append(stateFrames[s], x)
		}
	}
	for s := range m.States {
		m.States[s] = fitMixture(stateFrames[s], 1)
	}
	sil := len(m.States)
	m.States = append(m.States, fitMixture(silFrames, 4))
	m.Words = append(m.Words, wordHMM{Name: "sil", States: []int{sil}})
	// Other speech: the sentences' frames, in one state of many
	// components, three frames at least.
	var garbage [][]float32
	for _, u := range other {
		garbage = append(garbage, u.feats...)
	}
	g := len(m.States)
	m.States = append(m.States, fitMixture(garbage, 16))
	m.Words = append(m.Words, wordHMM{Name: "other", States: []int{g, g, g}})

	// Embedded re-estimation: align every reading and word with its
	// words, re-fit every state on its frames; grow the mixtures.
	all := append(slices.Clone(isolated), readings...)
	for iter, comps := range []int{1, 1, 2, 2, 4, 4, 4} {
		frames := map[int][][]float32{}
		var total float64
		for _, u := range all {
			alts := make([][]int, len(u.words))
			for i, w := range u.words {
				alts[i] = []int{w}
			}
			p, ok := m.sequenceNetwork(alts, 0).viterbi(m, m.stateScores(u.feats))
			if !ok {
				continue
			}
			total += p.total
			for _, ws := range p.words {
				st := m.Words[ws.word].States
				// Recover the state of each frame: re-align the word alone.
				seg := u.feats[ws.sf : ws.ef+1]
				for t, s := range alignWord(m, st, seg) {
					frames[s] = append(frames[s], seg[t])
				}
			}
		}
		t.Logf("iteration %d: %d components, mean log density per utterance %.1f", iter, comps, total/float64(len(all)))
		for s := range m.States {
			if s == g {
				continue
			}
			if len(frames[s]) < 8*comps {
				t.Logf("state %d: %d frames", s, len(frames[s]))
				continue
			}
			m.States[s] = fitMixture(frames[s], comps)
		}
	}
	b, err := m.encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec.out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes, %d states", spec.out, len(b), len(m.States))
}

// alignWord assigns each frame of seg to one of the word's states in
// order (a Viterbi alignment of a left-to-right chain).
func alignWord(m *digitModel, states []int, seg [][]float32) []int {
	n := &network{}
	tmp := &digitModel{States: m.States, Words: []wordHMM{{States: states}}}
	k := n.add(0, 0)
	n.nodes[k].entry, n.nodes[k].exit = true, true
	T := len(seg)
	out := make([]int, T)
	if T < len(states) {
		for t := range out {
			out[t] = states[t*len(states)/T]
		}
		return out
	}
	// Back-trace by position: run the chain's Viterbi directly.
	sc := tmp.stateScores(seg)
	S := len(states)
	neg := float32(math.Inf(-1))
	prev := make([]float32, S)
	cur := make([]float32, S)
	bp := make([][]int8, T)
	for j := range prev {
		prev[j] = neg
	}
	prev[0] = sc[0][states[0]]
	for t := 1; t < T; t++ {
		bp[t] = make([]int8, S)
		for j := range S {
			best, arg := prev[j], int8(0)
			if j > 0 && prev[j-1] > best {
				best, arg = prev[j-1], 1
			}
			cur[j] = best + sc[t][states[j]]
			bp[t][j] = arg
		}
		prev, cur = cur, prev
	}
	j := S - 1
	for t := T - 1; t >= 0; t-- {
		out[t] = states[j]
		if t > 0 {
			j -= int(bp[t][j])
		}
	}
	return out
}

// fitMixture fits a diagonal Gaussian mixture of comps components to
// frames by hard-assignment EM, starting from split means.
func fitMixture(frames [][]float32, comps int) mixture {
	const varFloor = 0.02
	fit := func(groups [][][]float32) mixture {
		var mx mixture
		total := 0
		for _, gr := range groups {
			total += len(gr)
		}
		for _, gr := range groups {
			if len(gr) == 0 {
				continue
			}
			mean := make([]float64, featDim)
			sq := make([]float64, featDim)
			for _, x := range gr {
				for k, v := range x {
					mean[k] += float64(v)
					sq[k] += float64(v) * float64(v)
				}
			}
			g := gaussian{Mean: make([]float32, featDim), IVar: make([]float32, featDim)}
			c := math.Log(float64(len(gr))/float64(total)) - 0.5*featDim*math.Log(2*math.Pi)
			for k := range featDim {
				mu := mean[k] / float64(len(gr))
				v := max(sq[k]/float64(len(gr))-mu*mu, varFloor)
				g.Mean[k], g.IVar[k] = float32(mu), float32(1/v)
				c -= 0.5 * math.Log(v)
			}
			g.Const = float32(c)
			mx = append(mx, g)
		}
		return mx
	}
	mx := fit([][][]float32{frames})
	for len(mx) < comps {
		// Split every component along its standard deviation.
		var next mixture
		for _, g := range mx {
			for _, sign := range []float32{-0.2, 0.2} {
				h := gaussian{Mean: make([]float32, featDim), IVar: g.IVar, Const: g.Const}
				for k := range featDim {
					h.Mean[k] = g.Mean[k] + sign/float32(math.Sqrt(float64(g.IVar[k])))
				}
				next = append(next, h)
			}
		}
		mx = next
		for range 6 {
			groups := make([][][]float32, len(mx))
			for _, x := range frames {
				best, arg := float32(math.Inf(-1)), 0
				for i, g := range mx {
					if v := (mixture{g}).logLik(x); v > best {
						best, arg = v, i
					}
				}
				groups[arg] = append(groups[arg], x)
			}
			mx = fit(groups)
		}
	}
	return mx
}

// trainClip renders text with an espeak-ng voice at a random rate and
// pitch, adds noise at a random level (or none), and returns its features
// as the verifier computes them (trimmed, conditioned).
func trainClip(t *testing.T, dir, vname, text string, r *rand.Rand) utterance {
	t.Helper()
	raw := filepath.Join(dir, "train.wav")
	speed := 100 + r.IntN(120)
	pitch := 20 + r.IntN(60)
	if engine, name, ok := strings.Cut(vname, ":"); ok {
		// Another engine ("flite:awb"): its own rate, no pitch.
		raw = render(t, dir, voice{engine, name, English}, text, float64(speed)/150)
	} else {
		run(t, "espeak-ng", "-v", vname, "-s", fmt.Sprint(speed), "-p", fmt.Sprint(pitch), "-w", raw, text)
	}
	b, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(b, Limits{MinDuration: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	a = Resample(a, SampleRate)
	// Half a second of silence around it, as in a recording.
	pad := make([]int16, SampleRate/2)
	pcm := append(append(slices.Clone(pad), a.Samples...), pad...)
	peakNormalise(pcm)
	clean := slices.Clone(pcm)
	if lvl := []float64{0, -55, -50, -45, -40, -35, -32}[r.IntN(7)]; lvl != 0 {
		addNoise(pcm, lvl, r)
	}
	from, to := voicedSpan(pcm, SampleRate)
	sp := condition(pcm[from:to])
	u := utterance{feats: features(sp)}
	// The speech frames: 10 ms frames within 35 dB of the loudest.
	e := make([]float64, len(u.feats))
	top := math.Inf(-1)
	for i := range e {
		var s float64
		for _, v := range clean[from+i*featHop : from+i*featHop+featFrame] {
			s += float64(v) * float64(v)
		}
		e[i] = 10 * math.Log10(s+1)
		top = max(top, e[i])
	}
	u.span = [2]int{-1, -1}
	for i, v := range e {
		if v > top-35 {
			if u.span[0] < 0 {
				u.span[0] = i
			}
			u.span[1] = i
		}
	}
	return u
}

// peakNormalise scales s so that its peak is at -3 dBFS.
func peakNormalise(s []int16) {
	peak := 0
	for _, v := range s {
		peak = max(peak, abs16(v))
	}
	if peak == 0 {
		return
	}
	g := 32768 * math.Pow(10, -3.0/20) / float64(peak)
	for i, v := range s {
		s[i] = toInt16(float64(v) * g)
	}
}
