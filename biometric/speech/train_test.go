//go:build cgo

package speech

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The training of the digit models: zh-digits.gob (Mandarin) and
// en-digits.gob (English), by one trainer with a specification per
// language (trainSpecs). It runs only with SHENFEN_SPEECH_TRAIN=zh or
// SHENFEN_SPEECH_TRAIN=en (scripts/train-speech-zh.sh,
// scripts/train-speech-en.sh) and needs the speech tools of
// scripts/setup.d/speech.debs. Every training voice is outside the
// benchmark's calibration and test sets (bench_test.go; a speaker that two
// engines share is noted there), and other texts than the benchmark's
// sentences train the "other speech" model. Every clip is a voice's
// reading at a random rate, then degraded at random as recordings are:
// formant and pitch shift, tempo, the telephone band, level and white
// noise up to -30 dBFS. Seeded: the same packages give the same model.

// trainVoice is a training voice and the number of rounds of clips it
// gives: the engines with few voices give more rounds, so that espeak-ng's
// many variants do not outweigh them.
type trainVoice struct {
	voice
	rounds int
}

// trainSpec is what one language's digit model is trained on.
type trainSpec struct {
	lang      Lang
	version   string
	voices    []trainVoice
	words     []trainWord
	sentences []string
	seed      uint64
	out       string
	// comps are the mixture components of the word states in each round
	// of re-estimation; otherComps those of the other-speech state.
	comps      []int
	otherComps int
}

type trainWord = struct {
	name  string
	digit byte
}

// zhTrainVariants are espeak-ng variants for Mandarin training that the
// benchmark's Mandarin calibration and test sets do not use.
var zhTrainVariants = []string{
	"m2", "m4", "m5", "m7", "m8", "f2", "f5", "klatt2", "klatt4", "klatt5", "klatt6",
	"adam", "Andy", "aunty", "benjamin", "david", "linda", "max", "paul", "robert", "steph", "quincy", "Annie", "Lee",
}

// enTrainVariants are espeak-ng US English variants for English training
// that the benchmark's English calibration set does not use.
var enTrainVariants = []string{
	"m1", "m2", "m4", "m5", "m7", "f1", "f3", "f4", "f5", "klatt", "klatt3", "klatt4",
	"Andy", "aunty", "linda", "max", "steph", "Annie",
}

// zhWords are the Mandarin model's digit pronunciations: pinyin and digit.
var zhWords = []trainWord{
	{"ling2", '0'}, {"yi1", '1'}, {"yao1", '1'}, {"er4", '2'}, {"san1", '3'}, {"si4", '4'},
	{"wu3", '5'}, {"liu4", '6'}, {"qi1", '7'}, {"ba1", '8'}, {"jiu3", '9'},
}

// enWords are the English model's digit words.
var enWords = []trainWord{{"zero", '0'}, {"oh", '0'}, {"one", '1'}, {"two", '2'}, {"three", '3'}, {"four", '4'},
	{"five", '5'}, {"six", '6'}, {"seven", '7'}, {"eight", '8'}, {"nine", '9'}}

// zhTrainSentences are Mandarin texts (pinyin) other than digits, for the
// "other speech" model; none is a benchmark sentence.
var zhTrainSentences = []string{
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

// enTrainSentences are English texts other than digits; none is a
// benchmark sentence.
var enTrainSentences = []string{
	"we are going to the market tomorrow", "this question is very simple", "she works at the bank",
	"put the pictures on the table", "is your house far from here", "I like to drink tea", "it is going to rain",
	"whose book is this", "mother is cooking in the kitchen", "the bus is coming", "did you see my keys",
	"the students are running on the field", "the meeting starts at half past ten", "he says he is tired",
	"I want to travel to the north", "could I have a glass of water", "happy birthday to you",
	"can you help me for a moment", "the city is beautiful at night", "sorry I am late", "good evening everybody",
	"my phone battery is empty", "where is the station", "let me think about it",
}

// trainSpecs are the digit models trained here.
var trainSpecs = map[Lang]func() trainSpec{
	Mandarin: func() trainSpec {
		var vs []trainVoice
		for _, v := range zhTrainVariants {
			vs = append(vs, trainVoice{voice{"espeak-ng", "cmn-latn-pinyin+" + v, Mandarin}, 1})
		}
		return trainSpec{lang: Mandarin, version: MandarinModelVersion, voices: vs, words: zhWords,
			sentences: zhTrainSentences, seed: 2026, out: "zh-digits.gob",
			comps: []int{1, 1, 2, 2, 4, 4, 4}, otherComps: 16}
	},
	English: func() trainSpec {
		var vs []trainVoice
		for _, v := range enTrainVariants {
			vs = append(vs, trainVoice{voice{"espeak-ng", "en-us+" + v, English}, 1})
		}
		for _, v := range []string{"en-gb-x-rp", "en-029", "en-gb-scotland"} {
			vs = append(vs, trainVoice{voice{"espeak-ng", v, English}, 1})
		}
		// Voices of the other engines: flite's awb (Scottish English,
		// male) and rms (US, male), FreeTTS's kevin16 and festival's
		// kal_diphone (US, male: both Kevin Lenzo, the speaker of flite's
		// kal and kal16, which the calibration set holds).
		for _, v := range []voice{{"flite", "awb", English}, {"flite", "rms", English}, {"freetts", "kevin16", English}, {"festival", "kal_diphone", English}} {
			vs = append(vs, trainVoice{v, trainRounds(6)})
		}
		return trainSpec{lang: English, version: englishDigitModelVersion, voices: vs, words: enWords,
			sentences: enTrainSentences, seed: 2027, out: "en-digits.gob",
			comps: []int{1, 1, 2, 2, 4, 4, 8, 8}, otherComps: 32}
	},
}

// trainRounds is n, or SHENFEN_SPEECH_TRAIN_ROUNDS (a smaller
// configuration to try the trainer quickly).
func trainRounds(n int) int {
	if v, err := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_TRAIN_ROUNDS")); err == nil && v > 0 {
		return v
	}
	return n
}

// TestTrainDigitModel trains the digit model of the language
// SHENFEN_SPEECH_TRAIN names and writes it to the package directory.
func TestTrainDigitModel(t *testing.T) {
	lang := Lang(os.Getenv("SHENFEN_SPEECH_TRAIN"))
	spec, ok := trainSpecs[lang]
	if !ok {
		t.Skip("set SHENFEN_SPEECH_TRAIN=zh or en (scripts/train-speech-zh.sh, train-speech-en.sh) to train a digit model")
	}
	trainModel(t, spec())
}

// utterance is one training recording's features and, for readings, the
// words it holds (model word indices), or nil for other speech.
type utterance struct {
	feats [][]float32
	words []int
	span  [2]int // the speech frames of a single word, for the flat start
}

// trainJob is one training clip: what is read, by whom, and how the
// recording is degraded.
type trainJob struct {
	v        voice
	text     string
	words    []int
	isolated bool
	speed    float64 // the engine's speaking rate, ×
	espeakP  int     // espeak-ng pitch, 0..99
	cents    int     // formant and pitch shift (sox pitch), 0 for none
	tempo    float64 // sox tempo, 1 for none
	band     bool    // 300-3400 Hz at 8 kHz
	gainDB   float64 // level below -3 dBFS peak
	noiseDB  float64 // white noise RMS, 0 for none
	seed     uint64
	raw      string // pre-rendered file (FreeTTS)
}

// trainJobs draws the clips of spec from r: for every voice and round,
// each word alone twice, 12 four-digit readings (with and without commas)
// and 4 other sentences.
func trainJobs(spec trainSpec, r *rand.Rand) []trainJob {
	wordIndex := func(name string) int {
		return slices.IndexFunc(spec.words, func(w trainWord) bool { return w.name == name })
	}
	var jobs []trainJob
	add := func(v voice, text string, words []int, isolated bool) {
		j := trainJob{v: v, text: text, words: words, isolated: isolated,
			speed: 0.7 + 0.75*r.Float64(), espeakP: 20 + r.IntN(60), tempo: 1, seed: r.Uint64()}
		if v.engine != "espeak-ng" || r.IntN(3) == 0 {
			j.cents = -300 + r.IntN(800)
		}
		if r.IntN(4) == 0 {
			j.tempo = 0.8 + 0.45*r.Float64()
		}
		j.band = r.IntN(4) == 0
		j.gainDB = -12 * r.Float64()
		j.noiseDB = []float64{0, 0, -55, -50, -45, -40, -35, -32, -30}[r.IntN(9)]
		jobs = append(jobs, j)
	}
	for _, tv := range spec.voices {
		for range tv.rounds {
			for _, w := range spec.words {
				for range 2 {
					add(tv.voice, w.name, []int{wordIndex(w.name)}, true)
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
				add(tv.voice, strings.Join(names, sep), words, false)
			}
			for range 4 {
				add(tv.voice, spec.sentences[r.IntN(len(spec.sentences))], nil, false)
			}
		}
	}
	return jobs
}

func trainModel(t *testing.T, spec trainSpec) {
	for _, tool := range []string{"espeak-ng", "sox", "flite", "java"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/setup.d/speech.debs): %v", tool, err)
		}
	}
	r := rand.New(rand.NewPCG(spec.seed, 12))
	dir := t.TempDir()
	jobs := trainJobs(spec, r)
	// FreeTTS starts a Java machine per call: each of its voices renders
	// all its texts in one.
	byVoice := map[voice][]int{}
	for i, j := range jobs {
		if j.v.engine == "freetts" {
			byVoice[j.v] = append(byVoice[j.v], i)
		}
	}
	for v, idx := range byVoice {
		var texts []string
		for _, i := range idx {
			texts = append(texts, jobs[i].text)
		}
		paths := freettsBatch(t, filepath.Join(dir, "freetts-"+v.name), v.name, texts)
		for k, i := range idx {
			jobs[i].raw = paths[k]
		}
	}
	utts := make([]utterance, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := range runtime.GOMAXPROCS(0) {
		wdir := filepath.Join(dir, fmt.Sprint("w", w))
		if err := os.MkdirAll(wdir, 0o755); err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			for i := range next {
				utts[i] = trainClip(t, wdir, jobs[i])
				utts[i].words = jobs[i].words
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var isolated, readings, other []utterance
	for i, j := range jobs {
		switch {
		case j.isolated:
			isolated = append(isolated, utts[i])
		case j.words != nil:
			readings = append(readings, utts[i])
		default:
			other = append(other, utts[i])
		}
	}
	t.Logf("%d voices, %d isolated words, %d readings, %d other sentences", len(spec.voices), len(isolated), len(readings), len(other))

	m := &digitModel{Version: spec.version}
	for _, w := range spec.words {
		m.Words = append(m.Words, wordHMM{Name: w.name, Digit: w.digit})
	}
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
	m.States = append(m.States, fitMixture(garbage, spec.otherComps))
	m.Words = append(m.Words, wordHMM{Name: "other", States: []int{g, g, g}})

	// Embedded re-estimation: align every reading and word with its
	// words, re-fit every state on its frames; grow the mixtures.
	all := append(slices.Clone(isolated), readings...)
	for iter, comps := range spec.comps {
		frames := make([]map[int][][]float32, len(all))
		totals := make([]float64, len(all))
		parallel(len(all), func(i int) {
			u := all[i]
			alts := make([][]int, len(u.words))
			for k, w := range u.words {
				alts[k] = []int{w}
			}
			p, ok := m.sequenceNetwork(alts, 0).viterbi(m, m.stateScores(u.feats))
			if !ok {
				return
			}
			totals[i] = p.total
			frames[i] = map[int][][]float32{}
			for _, ws := range p.words {
				seg := u.feats[ws.sf : ws.ef+1]
				for k, s := range alignWord(m, m.Words[ws.word].States, seg) {
					frames[i][s] = append(frames[i][s], seg[k])
				}
			}
		})
		merged := map[int][][]float32{}
		var total float64
		for i := range all {
			total += totals[i]
			for s, fs := range frames[i] {
				merged[s] = append(merged[s], fs...)
			}
		}
		t.Logf("iteration %d: %d components, mean log density per utterance %.1f", iter, comps, total/float64(len(all)))
		states := make([]int, 0, len(m.States))
		for s := range m.States {
			if s == g {
				continue
			}
			if len(merged[s]) < 8*comps {
				t.Logf("state %d: %d frames", s, len(merged[s]))
				continue
			}
			states = append(states, s)
		}
		fitted := make([]mixture, len(states))
		parallel(len(states), func(i int) { fitted[i] = fitMixture(merged[states[i]], comps) })
		for i, s := range states {
			m.States[s] = fitted[i]
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

// parallel calls f(0..n-1) on GOMAXPROCS goroutines.
func parallel(n int, f func(int)) {
	var wg sync.WaitGroup
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

// freettsBatch renders texts with a FreeTTS voice in one run and returns
// the files, in order.
func freettsBatch(t *testing.T, dir, name string, texts []string) []string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lines := filepath.Join(dir, "lines.txt")
	if err := os.WriteFile(lines, []byte(strings.Join(texts, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, "java", "-jar", freettsJar, "-voice", name, "-dumpMultiAudio", filepath.Join(dir, "u.wav"), "-lines", lines)
	out := make([]string, len(texts))
	for i := range texts {
		out[i] = filepath.Join(dir, fmt.Sprintf("u%d.wav", i))
		if _, err := os.Stat(out[i]); err != nil {
			t.Fatalf("freetts rendered fewer files than lines: %v", err)
		}
	}
	return out
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

// freettsJar is FreeTTS's command-line synthesiser (Debian freetts).
const freettsJar = "/usr/share/java/freetts.jar"

// trainClip renders and degrades j and returns its features as the
// verifier computes them (trimmed, conditioned), with the span of its
// speech frames for a single word.
func trainClip(t *testing.T, dir string, j trainJob) utterance {
	t.Helper()
	raw := j.raw
	tempo := j.tempo
	switch {
	case raw != "":
		// Pre-rendered (FreeTTS, no rate setting): the rate by tempo.
		tempo *= j.speed
	case j.v.engine == "espeak-ng":
		raw = filepath.Join(dir, "raw.wav")
		run(t, "espeak-ng", "-v", j.v.name, "-s", fmt.Sprint(int(150*j.speed)), "-p", fmt.Sprint(j.espeakP), "-w", raw, j.text)
	default:
		raw = render(t, dir, j.v, j.text, j.speed)
	}
	out := filepath.Join(dir, "train.wav")
	args := []string{"-R", raw, "-c", "1", "-b", "16", out}
	if j.cents != 0 {
		args = append(args, "pitch", fmt.Sprint(j.cents))
	}
	if tempo != 1 {
		args = append(args, "tempo", "-s", fmt.Sprintf("%.3f", tempo))
	}
	rate := SampleRate
	if j.band {
		args = append(args, "sinc", "300-3400")
		rate = 8000
	}
	args = append(args, "rate", "-v", fmt.Sprint(rate))
	run(t, "sox", args...)
	b, err := os.ReadFile(out)
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
	g := math.Pow(10, j.gainDB/20)
	for i, v := range pcm {
		pcm[i] = toInt16(float64(v) * g)
	}
	clean := slices.Clone(pcm)
	if j.noiseDB != 0 {
		addNoise(pcm, j.noiseDB, rand.New(rand.NewPCG(j.seed, 13)))
	}
	from, to := voicedSpan(pcm, SampleRate)
	sp := condition(pcm[from:to])
	u := utterance{feats: features(sp)}
	// The speech frames: 10 ms frames of the clean clip within 35 dB of
	// the loudest.
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
