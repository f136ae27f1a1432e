//go:build cgo

package speech

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Human Mandarin readings for the tests: Debian's gcin-voice package holds
// recordings of every Mandarin syllable in every tone by two speakers
// (/usr/share/gcin-voice/ogg/<zhuyin><tone>/<speaker>.ogg; speaker 3 under
// GPL-3 or LGPL-3, speaker 5 under CC-BY-3.0, see docs/biometrics.md).
// gcinRender joins the syllables of a pinyin text into a reading, with the
// pauses, level and pitch of a person reading digits off a screen. Nothing
// of it is committed: the clips are made at test time.

// gcinSpeakers are the speakers of gcin-voice.
var gcinSpeakers = []string{"3", "5"}

// gcinDir is where gcin-voice keeps its syllables
// (SHENFEN_GCIN_VOICE_DIR overrides it).
func gcinDir() string {
	if d := os.Getenv("SHENFEN_GCIN_VOICE_DIR"); d != "" {
		return d
	}
	return "/usr/share/gcin-voice/ogg"
}

// needGcin fails t when gcin-voice is not installed.
func needGcin(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(gcinDir(), "ㄙㄢ", "5.ogg")); err != nil {
		t.Fatalf("gcin-voice is needed for human Mandarin test speech (scripts/setup.d/speech.debs): %v", err)
	}
}

// Pinyin to zhuyin (bopomofo), as gcin-voice names its folders.
var (
	zhuyinInitials = map[string]string{
		"b": "ㄅ", "p": "ㄆ", "m": "ㄇ", "f": "ㄈ", "d": "ㄉ", "t": "ㄊ", "n": "ㄋ", "l": "ㄌ",
		"g": "ㄍ", "k": "ㄎ", "h": "ㄏ", "j": "ㄐ", "q": "ㄑ", "x": "ㄒ",
		"zh": "ㄓ", "ch": "ㄔ", "sh": "ㄕ", "r": "ㄖ", "z": "ㄗ", "c": "ㄘ", "s": "ㄙ",
	}
	zhuyinFinals = map[string]string{
		"a": "ㄚ", "o": "ㄛ", "e": "ㄜ", "ai": "ㄞ", "ei": "ㄟ", "ao": "ㄠ", "ou": "ㄡ",
		"an": "ㄢ", "en": "ㄣ", "ang": "ㄤ", "eng": "ㄥ", "er": "ㄦ", "ong": "ㄨㄥ",
		"i": "ㄧ", "ia": "ㄧㄚ", "ie": "ㄧㄝ", "iao": "ㄧㄠ", "iu": "ㄧㄡ", "ian": "ㄧㄢ",
		"in": "ㄧㄣ", "iang": "ㄧㄤ", "ing": "ㄧㄥ", "iong": "ㄩㄥ",
		"u": "ㄨ", "ua": "ㄨㄚ", "uo": "ㄨㄛ", "uai": "ㄨㄞ", "ui": "ㄨㄟ", "uan": "ㄨㄢ",
		"un": "ㄨㄣ", "uang": "ㄨㄤ",
		"v": "ㄩ", "ve": "ㄩㄝ", "van": "ㄩㄢ", "vn": "ㄩㄣ",
	}
	// zhuyinWhole are the syllables written with y and w, and those of
	// zh ch sh r z c s with the empty rime.
	zhuyinWhole = map[string]string{
		"yi": "ㄧ", "ya": "ㄧㄚ", "ye": "ㄧㄝ", "yao": "ㄧㄠ", "you": "ㄧㄡ", "yan": "ㄧㄢ",
		"yin": "ㄧㄣ", "yang": "ㄧㄤ", "ying": "ㄧㄥ", "yong": "ㄩㄥ",
		"yu": "ㄩ", "yue": "ㄩㄝ", "yuan": "ㄩㄢ", "yun": "ㄩㄣ",
		"wu": "ㄨ", "wa": "ㄨㄚ", "wo": "ㄨㄛ", "wai": "ㄨㄞ", "wei": "ㄨㄟ", "wan": "ㄨㄢ",
		"wen": "ㄨㄣ", "wang": "ㄨㄤ", "weng": "ㄨㄥ",
		"zhi": "ㄓ", "chi": "ㄔ", "shi": "ㄕ", "ri": "ㄖ", "zi": "ㄗ", "ci": "ㄘ", "si": "ㄙ",
	}
)

// zhuyin returns the zhuyin and tone (1..5) of a pinyin syllable with its
// tone digit ("jiu3": "ㄐㄧㄡ", 3).
func zhuyin(syl string) (string, int, error) {
	if len(syl) < 2 || syl[len(syl)-1] < '1' || syl[len(syl)-1] > '5' {
		return "", 0, fmt.Errorf("pinyin %q: no tone digit", syl)
	}
	tone := int(syl[len(syl)-1] - '0')
	s := strings.ReplaceAll(strings.ReplaceAll(syl[:len(syl)-1], "ü", "v"), "u:", "v")
	if z, ok := zhuyinWhole[s]; ok {
		return z, tone, nil
	}
	ini := ""
	for _, n := range []int{2, 1} {
		if len(s) > n {
			if z, ok := zhuyinInitials[s[:n]]; ok {
				ini, s = z, s[n:]
				break
			}
		}
	}
	// After j, q and x, u is ü.
	if ini == "ㄐ" || ini == "ㄑ" || ini == "ㄒ" {
		if strings.HasPrefix(s, "u") {
			s = "v" + s[1:]
		}
	}
	fin, ok := zhuyinFinals[s]
	if !ok || (ini == "" && s == "") {
		return "", 0, fmt.Errorf("pinyin %q: unknown syllable", syl)
	}
	return ini + fin, tone, nil
}

// gcinFolder is the folder of a syllable in gcin-voice: no mark for tone
// 1, 2..4 for tones 2 to 4, "1" for the neutral tone; when the speaker
// has no recording in that tone, another tone's, then the rime's.
func gcinFolder(speaker, syl string) (string, error) {
	z, tone, err := zhuyin(syl)
	if err != nil {
		return "", err
	}
	// A syllable that the speaker did not record in its tone is read in
	// another (speaker 5 lacks 42 of the 1200).
	try := []string{z + fmt.Sprint(tone), z, z + "4", z + "2", z + "3", z + "1"}
	switch tone {
	case 1:
		try[0] = z
	case 5:
		try[0] = z + "1"
	}
	// Nor in any tone (speaker 5 has no ㄌㄩ): its rime alone, for
	// other speech only (every digit is recorded by both, TestZhuyin).
	if _, rime, ok := strings.Cut(z, strings.Split(z, "")[0]); ok && rime != "" {
		for _, f := range slices.Clone(try) {
			try = append(try, strings.Replace(f, z, rime, 1))
		}
	}
	for _, f := range try {
		if _, err := os.Stat(filepath.Join(gcinDir(), f, speaker+".ogg")); err == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("gcin-voice has no %s (%s) by speaker %s", syl, z, speaker)
}

// gcinSyllable returns the speaker's recording of syl, at 16 kHz with the
// silence before and after trimmed.
func gcinSyllable(t testing.TB, speaker, syl string) []int16 {
	t.Helper()
	folder, err := gcinFolder(speaker, syl)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(gcinDir(), folder, speaker+".ogg")
	return loadClip(t, file, func(out string) []string {
		return []string{"sox", "-R", file, "-c", "1", "-b", "16", out, "rate", "-v", "16000"}
	})
}

// trimSilence cuts the 5 ms blocks at both ends of s that are more than
// db below its loudest block.
func trimSilence(s []int16, db float64) []int16 {
	const blk = 80
	n := len(s) / blk
	if n == 0 {
		return s
	}
	e := make([]float64, n)
	top := 0.0
	for i := range e {
		for _, v := range s[i*blk : (i+1)*blk] {
			e[i] += float64(v) * float64(v)
		}
		top = max(top, e[i])
	}
	floor := top * math.Pow(10, -db/10)
	lo, hi := 0, n-1
	for lo < hi && e[lo] < floor {
		lo++
	}
	for hi > lo && e[hi] < floor {
		hi--
	}
	return s[lo*blk : (hi+1)*blk]
}

// gcinRender writes a reading of text (pinyin syllables with tone digits,
// spaces and commas between them) by gcin-voice speaker to a 16 kHz WAV
// file in dir and returns its path (see [joinReading]).
func gcinRender(t testing.TB, dir, speaker, text string, speed float64) string {
	t.Helper()
	words := strings.Fields(strings.ReplaceAll(text, ",", " , "))
	return joinReading(t, dir, "gcin/"+speaker, words, speed, func(w string) []int16 { return gcinSyllable(t, speaker, w) })
}

// joinReading joins the recordings of words (clip gives each; "," is a
// pause) into a reading, writes it to a 16 kHz WAV file in dir and
// returns its path. It is drawn from a seed made of the arguments, so
// that the same call gives the same clip: a pause of 40 to 300 ms between
// words (100 to 450 ms at a comma), each word's level within ±3 dB, and
// the whole reading's tempo (speed, then ±10%) and pitch (±80 cents)
// changed by sox.
func joinReading(t testing.TB, dir, who string, words []string, speed float64, clip func(string) []int16) string {
	t.Helper()
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%.4f", who, strings.Join(words, " "), speed)
	r := rand.New(rand.NewPCG(h.Sum64(), 3))
	var pcm []int16
	gap := func(lo, hi float64) {
		pcm = append(pcm, make([]int16, int((lo+(hi-lo)*r.Float64())*SampleRate))...)
	}
	for i, w := range words {
		if w == "," {
			gap(0.06, 0.15)
			continue
		}
		if i > 0 {
			gap(0.04, 0.3)
		}
		g := math.Pow(10, (6*r.Float64()-3)/20)
		for _, v := range clip(w) {
			pcm = append(pcm, toInt16(float64(v)*g))
		}
	}
	joined := filepath.Join(dir, "joined.wav")
	if err := os.WriteFile(joined, EncodeWAV(Audio{Samples: pcm, Rate: SampleRate}), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.wav")
	tempo := speed * (0.9 + 0.2*r.Float64())
	cents := -80 + r.IntN(161)
	run(t, "sox", "-R", joined, raw, "tempo", "-s", fmt.Sprintf("%.3f", tempo), "pitch", fmt.Sprint(cents), "rate", "-v", "16000")
	return raw
}

// clipCache holds decoded recordings (16 kHz, silence trimmed) by file.
var clipCache = struct {
	sync.Mutex
	m map[string][]int16
}{m: map[string][]int16{}}

// loadClip decodes a recording with the command that writes it as a WAV
// file at 16 kHz (decode gets the output path), trims the silence around
// it and keeps it in clipCache.
func loadClip(t testing.TB, file string, decode func(out string) []string) []int16 {
	t.Helper()
	clipCache.Lock()
	s, ok := clipCache.m[file]
	clipCache.Unlock()
	if ok {
		return s
	}
	out := filepath.Join(t.TempDir(), "clip.wav")
	cmd := decode(out)
	run(t, cmd[0], cmd[1:]...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(b, Limits{MinDuration: 0.01})
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	s = trimSilence(Resample(a, SampleRate).Samples, 40)
	clipCache.Lock()
	clipCache.m[file] = s
	clipCache.Unlock()
	return s
}

// TestZhuyin checks the pinyin to zhuyin conversion on the digits and
// on every syllable of the benchmark's Mandarin sentences, and that
// gcin-voice has each of them for both speakers.
func TestZhuyin(t *testing.T) {
	for _, c := range []struct{ pinyin, zhuyin string }{
		{"ling2", "ㄌㄧㄥ2"}, {"yi1", "ㄧ"}, {"yao1", "ㄧㄠ"}, {"er4", "ㄦ4"}, {"san1", "ㄙㄢ"},
		{"si4", "ㄙ4"}, {"wu3", "ㄨ3"}, {"liu4", "ㄌㄧㄡ4"}, {"qi1", "ㄑㄧ"}, {"ba1", "ㄅㄚ"},
		{"jiu3", "ㄐㄧㄡ3"}, {"lv3", "ㄌㄩ3"}, {"xue2", "ㄒㄩㄝ2"}, {"zhuang4", "ㄓㄨㄤ4"}, {"shi4", "ㄕ4"},
	} {
		z, tone, err := zhuyin(c.pinyin)
		if err != nil {
			t.Fatal(err)
		}
		if tone > 1 {
			z += fmt.Sprint(tone)
		}
		if z != c.zhuyin {
			t.Errorf("%s: %s, want %s", c.pinyin, z, c.zhuyin)
		}
	}
	for _, bad := range []string{"san", "xx1", "", "q1"} {
		if _, _, err := zhuyin(bad); err == nil {
			t.Errorf("%q converted", bad)
		}
	}
	needGcin(t)
	// Speaker 5 has no ㄌㄩ: read as ㄩ3.
	if f, err := gcinFolder("5", "lv3"); err != nil || f != "ㄩ3" {
		t.Errorf("lv3 by speaker 5: %q, %v; want ㄩ3", f, err)
	}
	texts := append(slices.Clone(sentences[Mandarin]), strings.Join(pinyinDigits, " ")+" yao1")
	for _, s := range texts {
		for _, w := range strings.Fields(strings.ReplaceAll(s, ",", " ")) {
			for _, spk := range gcinSpeakers {
				if _, err := gcinFolder(spk, w); err != nil {
					t.Error(err)
				}
			}
		}
	}
}

// humanVoices are the recorded human voices of the tests: gcin-voice's
// two Mandarin speakers and Asterisk's English prompts.
var humanVoices = []voice{{"gcin", "3", Mandarin}, {"gcin", "5", Mandarin}, {"asterisk", "allison", English}}

// TestBenchHuman measures the spoken-digit check on human readings
// (humanVoices; SHENFEN_SPEECH_LANG=zh or en keeps one language), with the
// benchmark's variants and impostors (runSet): SHENFEN_SPEECH_HUMAN=N
// readings per voice, SHENFEN_SPEECH_IMPOSTORS_zh and
// SHENFEN_SPEECH_TRIALS as for TestBenchSpeech. It prints one table per
// voice and, for Mandarin, one for both speakers.
func TestBenchHuman(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_HUMAN"))
	if n <= 0 {
		t.Skip("set SHENFEN_SPEECH_HUMAN=N to measure the spoken-digit check on N human readings per recorded voice")
	}
	needTools(t)
	only := Lang(os.Getenv("SHENFEN_SPEECH_LANG"))
	rec := recognizer(t)
	useEnglishModel(t)
	var sets [][]trial
	var both, all []trial
	for i, v := range humanVoices {
		if only != "" && v.lang != only {
			continue
		}
		if v.engine == "gcin" {
			needGcin(t)
		} else {
			needAsterisk(t)
		}
		t.Setenv("SHENFEN_SPEECH_LANG", string(v.lang))
		set := runSet(t, rec, v.String(), []voice{v}, n, uint64(300+i))
		sets = append(sets, set)
		all = append(all, set...)
		for _, x := range set {
			if v.engine == "gcin" {
				x.set = "gcin:3+5"
				both = append(both, x)
			}
		}
	}
	if f := os.Getenv("SHENFEN_SPEECH_TRIALS"); f != "" {
		writeTrials(t, f, all)
	}
	fmt.Println(benchTable(append(sets, both)...))
}
