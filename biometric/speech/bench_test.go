//go:build cgo

package speech

import (
	"context"
	"fmt"
	"maps"
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
	"syscall"
	"testing"
	"time"
)

// The benchmark of the spoken-digit check (scripts/bench.d/speech.sh).
// TestBenchSpeech renders clips with text-to-speech engines, degrades them
// (noise, telephone band, tempo), verifies them and prints the table of
// docs/biometrics.md. Two disjoint sets: the calibration set (espeak-ng
// voices), on which verifyThresholds were chosen, and the test set (other
// voices, other engines), which only measures.

// voice is one text-to-speech voice.
type voice struct {
	engine, name string
	lang         Lang
}

func (v voice) String() string { return v.engine + ":" + v.name }

var (
	calibrationVoices = []voice{
		{"espeak-ng", "en-us", English}, {"espeak-ng", "en-us+klatt2", English},
		{"espeak-ng", "en-us+m3", English}, {"espeak-ng", "en-us+f2", English},
		{"flite", "kal16", English}, {"flite", "kal", English},
		{"espeak-ng", "cmn-latn-pinyin", Mandarin}, {"espeak-ng", "cmn-latn-pinyin+m1", Mandarin},
		{"espeak-ng", "cmn-latn-pinyin+f1", Mandarin}, {"espeak-ng", "cmn-latn-pinyin+klatt", Mandarin},
	}
	// Test voices: none is a calibration voice (nor, for Mandarin, a
	// voice the digit model was trained on: train_test.go). Debian
	// packages no Mandarin synthesiser but espeak-ng and its predecessor
	// espeak 1.48, so Mandarin is tested on espeak-ng variants that
	// calibration and training did not use and on espeak 1.48's voice:
	// two programs of one family, not two independent engines.
	testVoices = []voice{
		{"flite", "slt", English}, {"festival", "ked_diphone", English}, {"festival", "cmu_us_slt_arctic_hts", English},
		{"espeak-ng", "cmn-latn-pinyin+m3", Mandarin}, {"espeak-ng", "cmn-latn-pinyin+f3", Mandarin},
		{"espeak-ng", "cmn-latn-pinyin+klatt3", Mandarin}, {"espeak-ng", "cmn-latn-pinyin+m6", Mandarin},
		{"espeak-ng", "cmn-latn-pinyin+f4", Mandarin},
		{"espeak", "zh", Mandarin}, {"espeak", "zh+f4", Mandarin}, {"espeak", "zh+m3", Mandarin},
		// Recorded people (gcin_test.go, asterisk_test.go): no model was
		// trained or calibrated on them.
		{"gcin", "3", Mandarin}, {"gcin", "5", Mandarin}, {"asterisk", "allison", English},
	}
)

// variants applied to every genuine reading.
var variants = []string{"clean", "noise-45", "noise-35", "band", "tempo0.8", "tempo1.25"}

var pinyinDigits = []string{"ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"}

// say is how a TTS engine is given digits in lang; r picks "yao1" for
// some ones, as Mandarin speakers read them.
func say(digits string, lang Lang, r *rand.Rand) string {
	var w []string
	for _, c := range digits {
		switch {
		case lang == English:
			w = append(w, digitNames[c-'0'])
		case c == '1' && r.IntN(3) == 0:
			w = append(w, "yao1")
		default:
			w = append(w, pinyinDigits[c-'0'])
		}
	}
	return strings.Join(w, ", ")
}

var sentences = map[Lang][]string{
	English: {
		"I would like to open an account", "the quick brown fox jumps over the lazy dog", "hello, my name is john",
		"please open the door", "what time does the train leave", "my card number is on the back",
		"good morning, how are you", "ninety one, twenty three", "thank you very much", "can you hear me now",
		"the weather is nice today", "I forgot my password again",
	},
	Mandarin: {
		"ni3 hao3, wo3 xiang3 kai1 yi2 ge4 zhang4 hu4", "jin1 tian1 tian1 qi4 hen3 hao3", "qing3 da3 kai1 men2",
		"wo3 de5 ming2 zi4 jiao4 li3 ming2", "huo3 che1 ji3 dian3 kai1", "xie4 xie4 ni3", "ni3 ting1 de2 jian4 ma5",
		"wo3 wang4 le5 mi4 ma3", "zao3 shang4 hao3", "shi2 er4, san1 shi2 si4", "qing3 shuo1 man4 yi1 dian3",
		"zhe4 shi4 wo3 de5 shen1 fen4 zheng4",
	},
}

// render synthesises text with v into a WAV file in dir and returns its
// path; degrade turns it into a recording: 16-bit mono at 16 kHz (8 kHz
// for the telephone band), its peak normalised to -3 dBFS (as a phone's
// automatic gain leaves it), half a second of digital silence around it,
// and the variant's tempo, band or noise applied.
func render(t testing.TB, dir string, v voice, text string, speed float64) string {
	t.Helper()
	raw := filepath.Join(dir, "raw.wav")
	switch v.engine {
	case "espeak-ng", "espeak":
		run(t, v.engine, "-v", v.name, "-s", fmt.Sprint(int(150*speed)), "-w", raw, text)
	case "flite":
		run(t, "flite", "-voice", v.name, "--setf", fmt.Sprintf("duration_stretch=%.2f", 1/speed), "-t", text, "-o", raw)
	case "festival":
		txt := filepath.Join(dir, "text.txt")
		if err := os.WriteFile(txt, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		run(t, "text2wave", "-eval", "(voice_"+v.name+")", "-eval",
			fmt.Sprintf("(Parameter.set 'Duration_Stretch %.2f)", 1/speed), "-o", raw, txt)
	case "gcin":
		// Human recordings of syllables (gcin_test.go).
		return gcinRender(t, dir, v.name, text, speed)
	case "asterisk":
		// Human recordings of digits and prompts (asterisk_test.go).
		return asteriskRender(t, dir, text, speed)
	default:
		t.Fatalf("unknown engine %s", v.engine)
	}
	return raw
}

// degrade applies the variant to the rendered file raw.
func degrade(t testing.TB, dir, raw, variant string) Audio {
	t.Helper()
	out := filepath.Join(dir, "out.wav")
	args := []string{"-R", raw, "-c", "1", "-b", "16", out}
	rate := 16000
	switch variant {
	case "tempo0.8":
		args = append(args, "tempo", "-s", "0.8")
	case "tempo1.25":
		args = append(args, "tempo", "-s", "1.25")
	case "band":
		rate = 8000
		args = append(args, "sinc", "300-3400")
	}
	args = append(args, "rate", "-v", fmt.Sprint(rate), "norm", "-3", "pad", "0.5", "0.5")
	run(t, "sox", args...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(variant, "noise") {
		db, _ := strconv.Atoi(strings.TrimPrefix(variant, "noise"))
		addNoise(a.Samples, float64(db), rand.New(rand.NewPCG(uint64(len(a.Samples)), 7)))
	}
	return a
}

// addNoise mixes white Gaussian noise of the given RMS level (dBFS) into s.
func addNoise(s []int16, dbfs float64, r *rand.Rand) {
	rms := 32768 * math.Pow(10, dbfs/20)
	for i := range s {
		s[i] = toInt16(float64(s[i]) + r.NormFloat64()*rms)
	}
}

// nonSpeech renders audio that holds no reading: silence, room noise,
// tones and music, 3 to 5 s at 16 kHz.
func nonSpeech(t testing.TB, dir string, kind string, r *rand.Rand) Audio {
	t.Helper()
	out := filepath.Join(dir, "ns.wav")
	dur := fmt.Sprintf("%.1f", 3+2*r.Float64())
	base := []string{"-R", "-n", "-r", "16000", "-c", "1", "-b", "16", out, "synth", dur}
	switch kind {
	case "silence":
		run(t, "sox", append(base, "sine", "0", "vol", "0")...)
	case "room-noise":
		run(t, "sox", append(base, "pinknoise", "vol", fmt.Sprintf("%.3f", 0.01+0.05*r.Float64()))...)
	case "tone":
		f := 200 + r.IntN(1800)
		run(t, "sox", append(base, "sine", fmt.Sprint(f), "sine", fmt.Sprint(f*3/2), "vol", "0.3", "tremolo", "3", "80")...)
	case "music":
		// A melody of plucked notes with a chord under it.
		var notes []string
		scale := []int{0, 2, 4, 5, 7, 9, 11, 12}
		for i := 0; i < 12; i++ {
			notes = append(notes, fmt.Sprintf("%%%d", scale[r.IntN(len(scale))]-r.IntN(2)*12))
		}
		mel := filepath.Join(dir, "mel.wav")
		var parts []string
		for i, n := range notes {
			p := filepath.Join(dir, fmt.Sprintf("n%02d.wav", i))
			run(t, "sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", p, "synth", "0.3", "pluck", n, "vol", "0.5")
			parts = append(parts, p)
		}
		run(t, "sox", append(parts, mel)...)
		chord := filepath.Join(dir, "chord.wav")
		run(t, "sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", chord, "synth", "3.6", "sine", "%-12", "sine", "%-8", "sine", "%-5", "vol", "0.15")
		run(t, "sox", "-R", "-m", mel, chord, "-b", "16", out, "pad", "0.3", "0.3")
	default:
		t.Fatalf("unknown kind %s", kind)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(b, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// trial is one verification of the benchmark.
type trial struct {
	set, kind, variant string // kind: genuine, other-challenge, one-digit, three, five, sentence, silence, ...
	voice              voice
	lang               Lang
	said, challenge    string
	v                  Verification
	silent             bool // refused by the activity check before recognition
	cpu                time.Duration
}

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var r syscall.Rusage
	syscall.Getrusage(1 /* RUSAGE_THREAD */, &r)
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}

// verifyAudio runs the enrollment's speech check on a (as VerifyWAV
// does, without the WAV encoding) and measures its CPU time on this
// thread.
func verifyAudio(t testing.TB, rec *Sphinx, a Audio, challenge string, lang Lang) (Verification, bool, time.Duration) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start := threadCPU()
	v, err := VerifyWAV(context.Background(), rec, EncodeWAV(a), challenge, lang)
	cpu := threadCPU() - start
	if err != nil {
		t.Fatal(err)
	}
	return v, v.Reason == "silent", cpu
}

func otherChallenge(r *rand.Rand, not string) string {
	for {
		if c := randomDigits(r); c != not {
			return c
		}
	}
}

func oneDigitChanged(r *rand.Rand, c string) string {
	b := []byte(c)
	i := r.IntN(len(b))
	old := b[i]
	for b[i] == old {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// runSet verifies n readings per language with the voices of a set, in
// every variant, and the impostor trials, on workers goroutines.
func runSet(t *testing.T, rec *Sphinx, set string, voices []voice, n int, seed uint64) []trial {
	type job struct {
		voice  voice
		text   string
		speed  float64
		noise  string  // non-speech kind
		trials []trial // variants and challenges of this reading
	}
	r := rand.New(rand.NewPCG(seed, 11))
	var jobs []job
	for _, lang := range []Lang{English, Mandarin} {
		if only := os.Getenv("SHENFEN_SPEECH_LANG"); only != "" && only != string(lang) {
			continue
		}
		var vs []voice
		skip := strings.Fields(os.Getenv("SHENFEN_SPEECH_SKIP_VOICES")) // voices an experiment trained on
		for _, v := range voices {
			if v.lang == lang && !slices.Contains(skip, v.String()) {
				vs = append(vs, v)
			}
		}
		for i := range n {
			v := vs[i%len(vs)]
			d := randomDigits(r)
			speed := 0.85 + 0.3*r.Float64()
			j := job{voice: v, text: say(d, lang, r), speed: speed}
			for _, variant := range variants {
				j.trials = append(j.trials, trial{set: set, kind: "genuine", variant: variant, voice: v, lang: lang, said: d, challenge: d})
			}
			// Impostors on the clean clip: another challenge (a replay of
			// an earlier reading), one digit changed.
			// With SHENFEN_SPEECH_IMPOSTORS_<lang>=k (SHENFEN_SPEECH_IMPOSTORS_zh=5),
			// every reading of that language is checked against k other
			// challenges and k with one digit changed; otherwise half the
			// readings against one, half against the other.
			other := func() trial {
				return trial{set: set, kind: "other-challenge", variant: "clean", voice: v, lang: lang, said: d, challenge: otherChallenge(r, d)}
			}
			changed := func() trial {
				return trial{set: set, kind: "one-digit-changed", variant: "clean", voice: v, lang: lang, said: d, challenge: oneDigitChanged(r, d)}
			}
			if k, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_IMPOSTORS_" + string(lang))); k > 0 {
				for range k {
					j.trials = append(j.trials, other(), changed())
				}
			} else if i%2 == 0 {
				j.trials = append(j.trials, other())
			} else {
				j.trials = append(j.trials, changed())
			}
			jobs = append(jobs, j)
			// Three or five digits read, for a quarter of the readings.
			switch i % 8 {
			case 2:
				jobs = append(jobs, job{voice: v, text: say(d[:3], lang, r), speed: speed, trials: []trial{{set: set, kind: "three-digits", variant: "clean", voice: v, lang: lang, said: d[:3], challenge: d}}})
			case 6:
				e := d + string(rune('0'+r.IntN(10)))
				jobs = append(jobs, job{voice: v, text: say(e, lang, r), speed: speed, trials: []trial{{set: set, kind: "five-digits", variant: "clean", voice: v, lang: lang, said: e, challenge: d}}})
			}
		}
		for i, s := range sentences[lang] {
			for k := range 2 {
				v := vs[(i+k)%len(vs)]
				jobs = append(jobs, job{voice: v, text: s, speed: 1, trials: []trial{{set: set, kind: "sentence", variant: []string{"clean", "noise-45"}[k], voice: v, lang: lang, said: "-", challenge: randomDigits(r)}}})
			}
		}
		for _, kind := range []string{"silence", "room-noise", "tone", "music"} {
			for range 5 {
				jobs = append(jobs, job{noise: kind, trials: []trial{{set: set, kind: kind, variant: "-", lang: lang, said: "-", challenge: randomDigits(r)}}})
			}
		}
	}
	out := make([][]trial, len(jobs))
	var wg sync.WaitGroup
	next := make(chan int)
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		dir := t.TempDir()
		wr := rand.New(rand.NewPCG(seed, uint64(workers)))
		wg.Go(func() {
			for i := range next {
				j := jobs[i]
				raw := ""
				if j.noise == "" {
					raw = render(t, dir, j.voice, j.text, j.speed)
				}
				for _, tr := range j.trials {
					var a Audio
					if j.noise != "" {
						a = nonSpeech(t, dir, j.noise, wr)
					} else {
						a = degrade(t, dir, raw, tr.variant)
					}
					tr.v, tr.silent, tr.cpu = verifyAudio(t, rec, a, tr.challenge, tr.lang)
					out[i] = append(out[i], tr)
				}
			}
		})
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	var all []trial
	for _, o := range out {
		all = append(all, o...)
	}
	return all
}

// TestBenchSpeech is the benchmark; it runs only when SHENFEN_SPEECH_BENCH
// is set to the number of genuine readings per language and set.
func TestBenchSpeech(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_BENCH"))
	if n <= 0 {
		t.Skip("set SHENFEN_SPEECH_BENCH=N (scripts/bench.d/speech.sh) to run the speech benchmark")
	}
	for _, tool := range []string{"espeak-ng", "espeak", "sox", "flite", "text2wave"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/setup.d/speech.debs): %v", tool, err)
		}
	}
	needGcin(t)
	needAsterisk(t)
	rec, err := NewSphinx(SphinxConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	useEnglishModel(t)
	calN := n / 2
	if v, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_CALIBRATION")); v > 0 {
		calN = v
	}
	cal := runSet(t, rec, "calibration", calibrationVoices, calN, 1)
	var test []trial
	if os.Getenv("SHENFEN_SPEECH_SETS") != "calibration" {
		test = runSet(t, rec, "test", testVoices, n, 2)
	}
	if f := os.Getenv("SHENFEN_SPEECH_TRIALS"); f != "" {
		writeTrials(t, f, append(cal, test...))
	}
	fmt.Println(benchTable(cal, test))
	for _, lang := range slices.Sorted(maps.Keys(hmmVerifiers)) {
		if th, k, n, ok := chooseThresholds(cal, lang); ok {
			fmt.Printf("%s: thresholds by the calibration rule (chooseThresholds): digits %.2f, word %.2f, fit %.0f (%d of %d calibration genuine trials; in use: %+v)\n",
				lang, th.digits, th.word, th.fit, k, n, hmmVerifiers[lang].th)
		}
	}
	if len(test) == 0 {
		return
	}
}

// useEnglishModel verifies English with the digit model in the file
// SHENFEN_SPEECH_EN_MODEL (an experiment; SHENFEN_SPEECH_EN_THRESHOLDS
// = "digits,word,fit" sets its thresholds) until the test ends.
func useEnglishModel(t *testing.T) {
	f := os.Getenv("SHENFEN_SPEECH_EN_MODEL")
	if f == "" {
		return
	}
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeDigitModel(b)
	if err != nil {
		t.Fatal(err)
	}
	th := zhThresholds
	if f := strings.Split(os.Getenv("SHENFEN_SPEECH_EN_THRESHOLDS"), ","); len(f) == 3 {
		th.digits, _ = strconv.ParseFloat(f[0], 64)
		th.word, _ = strconv.ParseFloat(f[1], 64)
		th.fit, _ = strconv.ParseFloat(f[2], 64)
	}
	old, had := hmmVerifiers[English]
	hmmVerifiers[English] = &hmmVerifier{lang: English, version: m.Version,
		model: func() (*digitModel, error) { return m, nil }, th: th, penalty: zhWordPenalty}
	t.Cleanup(func() {
		if had {
			hmmVerifiers[English] = old
		} else {
			delete(hmmVerifiers, English)
		}
	})
}

// chooseThresholds applies the rule the digit models' thresholds are
// chosen by to the calibration trials of lang: over a grid (digits -1.5
// to 0 by 0.1, word -5 to 0 by 0.25, fit -60 to -52 by 2), the strictest
// thresholds (by digits/1.5 + word/5; the most lenient fit among equals)
// whose acceptance of the genuine trials is within 1% of the best grid
// point's, among those that accept no impostor. Impostor trials whose
// free loop heard the checked challenge itself are left out: no threshold
// on the ratios against the loop can refuse them. ok is false without
// digit-model trials.
func chooseThresholds(trials []trial, lang Lang) (th hmmThresholds, accepted, genuine int, ok bool) {
	type point struct{ d, w, f float64 }
	var gen, imp []hmmScores
	for _, x := range trials {
		h := x.v.hmm
		if x.lang != lang || x.silent || h.fit == 0 {
			continue
		}
		switch {
		case x.kind == "genuine":
			gen = append(gen, h)
		case h.heard != x.challenge:
			imp = append(imp, h)
		}
	}
	if len(gen) == 0 {
		return th, 0, 0, false
	}
	pass := func(p point, h hmmScores) bool { return h.digits >= p.d && h.word >= p.w && h.fit >= p.f }
	type result struct {
		p point
		k int
	}
	var ok1 []result
	best := 0
	for di := -15; di <= 0; di++ {
		for wi := -20; wi <= 0; wi++ {
			for fi := -60; fi <= -52; fi += 2 {
				p := point{float64(di) / 10, float64(wi) / 4, float64(fi)}
				if slices.ContainsFunc(imp, func(h hmmScores) bool { return pass(p, h) }) {
					continue
				}
				k := 0
				for _, h := range gen {
					if pass(p, h) {
						k++
					}
				}
				ok1 = append(ok1, result{p, k})
				best = max(best, k)
			}
		}
	}
	var pick *result
	for i, r := range ok1 {
		if float64(r.k) < float64(best)-0.01*float64(len(gen)) {
			continue
		}
		if pick == nil || r.p.d/1.5+r.p.w/5 > pick.p.d/1.5+pick.p.w/5 {
			pick = &ok1[i]
		}
	}
	if pick == nil {
		return th, 0, len(gen), false
	}
	return hmmThresholds{digits: pick.p.d, word: pick.p.w, fit: pick.p.f}, pick.k, len(gen), true
}

// writeTrials writes every trial's scores as TSV for calibration.
func writeTrials(t *testing.T, path string, trials []trial) {
	var b strings.Builder
	b.WriteString("set\tlang\tkind\tvariant\tvoice\tsaid\tchallenge\treason\taccepted\tscore\tdigits\tphones\tmean\tword\tshort\tfiller\theard\tcpu_ms\twordD\twordP\n")
	for _, x := range trials {
		s := x.v.scores
		if _, ok := hmmVerifiers[x.lang]; ok {
			// The digit model's scores in the same columns: digits,
			// fit (as mean), word, region (as wordD).
			h := x.v.hmm
			s = scores{digits: h.digits, mean: h.fit, word: h.word, wordD: h.region, heard: h.heard}
		}
		fmt.Fprintf(&b, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%v\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%s\t%.1f\t%.3f\t%.3f\n",
			x.set, x.lang, x.kind, x.variant, x.voice, x.said, x.challenge, x.v.Reason, x.v.Accepted, x.v.Score,
			s.digits, s.phones, s.mean, s.word, s.short, s.filler, s.heard, float64(x.cpu.Microseconds())/1000, s.wordD, s.wordP)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// wilsonUpper is the upper bound of the 95% Wilson score interval of k
// successes in n trials.
func wilsonUpper(k, n int) float64 {
	if n == 0 {
		return 1
	}
	const z = 1.959964
	p := float64(k) / float64(n)
	d := 1 + z*z/float64(n)
	c := p + z*z/(2*float64(n))
	m := z * math.Sqrt(p*(1-p)/float64(n)+z*z/(4*float64(n)*float64(n)))
	return (c + m) / d
}

// wilsonLower is the lower bound of the same interval.
func wilsonLower(k, n int) float64 {
	if n == 0 {
		return 0
	}
	const z = 1.959964
	p := float64(k) / float64(n)
	d := 1 + z*z/float64(n)
	c := p + z*z/(2*float64(n))
	m := z * math.Sqrt(p*(1-p)/float64(n)+z*z/(4*float64(n)*float64(n)))
	return (c - m) / d
}

// benchTable is the Markdown table of docs/biometrics.md.
func benchTable(sets ...[]trial) string {
	var b strings.Builder
	b.WriteString("| set | language | trials | accepted | rate | 95% bounds (Wilson) | goal |\n|---|---|---|---|---|---|---|\n")
	for _, trials := range sets {
		if len(trials) == 0 {
			continue
		}
		for _, lang := range []Lang{English, Mandarin} {
			row := func(label string, genuine bool, keep func(trial) bool) {
				k, n := 0, 0
				for _, x := range trials {
					if x.lang == lang && keep(x) {
						n++
						if x.v.Accepted {
							k++
						}
					}
				}
				if n == 0 {
					return
				}
				goal, bound := "", ""
				if genuine {
					bound = fmt.Sprintf("≥ %.1f%%", 100*wilsonLower(k, n))
				} else {
					bound = fmt.Sprintf("≤ %.1f%%", 100*wilsonUpper(k, n))
				}
				switch {
				case genuine && label == "genuine, clean":
					goal = "≥ 97%"
				case genuine:
					goal = "≥ 90%"
				case strings.Contains(label, "challenge") || strings.Contains(label, "digit changed"):
					goal = "≤ 0.5%"
				default:
					goal = "≤ 1%"
				}
				fmt.Fprintf(&b, "| %s | %s | %s: %d | %d | %.1f%% | %s | %s |\n", trials[0].set, lang, label, n, k, 100*float64(k)/float64(n), bound, goal)
			}
			for _, variant := range variants {
				row("genuine, "+variant, true, func(x trial) bool { return x.kind == "genuine" && x.variant == variant })
			}
			row("another challenge", false, func(x trial) bool { return x.kind == "other-challenge" })
			row("one digit changed", false, func(x trial) bool { return x.kind == "one-digit-changed" })
			row("three digits read", false, func(x trial) bool { return x.kind == "three-digits" })
			row("five digits read", false, func(x trial) bool { return x.kind == "five-digits" })
			row("non-digit speech", false, func(x trial) bool { return x.kind == "sentence" })
			row("silence, room noise", false, func(x trial) bool { return x.kind == "silence" || x.kind == "room-noise" })
			row("tones, music", false, func(x trial) bool { return x.kind == "tone" || x.kind == "music" })
		}
	}
	// CPU per genuine clip, normalised to 4 s of audio, per language.
	for _, lang := range []Lang{English, Mandarin} {
		var per4s []float64
		for _, trials := range sets {
			for _, x := range trials {
				if x.lang == lang && x.kind == "genuine" && x.v.Duration > 0 {
					per4s = append(per4s, float64(x.cpu)/float64(x.v.Duration)*4000)
				}
			}
		}
		if len(per4s) > 0 {
			slices.Sort(per4s)
			fmt.Fprintf(&b, "\nCPU per genuine %s clip, scaled to 4 s of audio, on the verifying thread: median %.0f ms, 90th percentile %.0f ms (%d clips).\n",
				lang, per4s[len(per4s)/2], per4s[len(per4s)*9/10], len(per4s))
		}
	}
	return b.String()
}
