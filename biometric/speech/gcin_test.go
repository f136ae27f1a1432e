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
// 1, 2..4 for tones 2 to 4, "1" for the neutral tone (when recorded;
// otherwise the syllable's tone-1, then any, recording).
func gcinFolder(speaker, syl string) (string, error) {
	z, tone, err := zhuyin(syl)
	if err != nil {
		return "", err
	}
	var try []string
	switch tone {
	case 1:
		try = []string{z}
	case 5:
		try = []string{z + "1", z, z + "4", z + "2", z + "3"}
	default:
		try = []string{z + fmt.Sprint(tone)}
	}
	for _, f := range try {
		if _, err := os.Stat(filepath.Join(gcinDir(), f, speaker+".ogg")); err == nil {
			return f, nil
		}
	}
	return "", fmt.Errorf("gcin-voice has no %s (%s) by speaker %s", syl, z, speaker)
}

// gcinCache holds decoded syllables (16 kHz, silence trimmed) by speaker
// and folder.
var gcinCache = struct {
	sync.Mutex
	m map[string][]int16
}{m: map[string][]int16{}}

// gcinSyllable returns the speaker's recording of syl, at 16 kHz with the
// silence before and after trimmed.
func gcinSyllable(t testing.TB, speaker, syl string) []int16 {
	t.Helper()
	folder, err := gcinFolder(speaker, syl)
	if err != nil {
		t.Fatal(err)
	}
	key := speaker + "/" + folder
	gcinCache.Lock()
	s, ok := gcinCache.m[key]
	gcinCache.Unlock()
	if ok {
		return s
	}
	out := filepath.Join(t.TempDir(), "syllable.wav")
	run(t, "sox", "-R", filepath.Join(gcinDir(), folder, speaker+".ogg"), "-c", "1", "-b", "16", out, "rate", "-v", "16000")
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Decode(b, Limits{MinDuration: 0.01})
	if err != nil {
		t.Fatalf("gcin-voice %s: %v", key, err)
	}
	s = trimSilence(a.Samples, 40)
	gcinCache.Lock()
	gcinCache.m[key] = s
	gcinCache.Unlock()
	return s
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
// file in dir and returns its path. It is drawn from a seed made of the
// arguments, so that the same call gives the same clip: a pause of 40 to
// 300 ms between syllables (100 to 450 ms at a comma), each syllable's
// level within ±3 dB, and the whole reading's tempo (speed, then ±10%)
// and pitch (±80 cents) changed by sox.
func gcinRender(t testing.TB, dir, speaker, text string, speed float64) string {
	t.Helper()
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%.4f", speaker, text, speed)
	r := rand.New(rand.NewPCG(h.Sum64(), 3))
	var pcm []int16
	gap := func(lo, hi float64) {
		pcm = append(pcm, make([]int16, int((lo+(hi-lo)*r.Float64())*SampleRate))...)
	}
	words := strings.Fields(strings.ReplaceAll(text, ",", " , "))
	for i, w := range words {
		if w == "," {
			gap(0.06, 0.15)
			continue
		}
		if i > 0 {
			gap(0.04, 0.3)
		}
		g := math.Pow(10, (6*r.Float64()-3)/20)
		for _, v := range gcinSyllable(t, speaker, w) {
			pcm = append(pcm, toInt16(float64(v)*g))
		}
	}
	joined := filepath.Join(dir, "gcin-joined.wav")
	if err := os.WriteFile(joined, EncodeWAV(Audio{Samples: pcm, Rate: SampleRate}), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "raw.wav")
	tempo := speed * (0.9 + 0.2*r.Float64())
	cents := -80 + r.IntN(161)
	run(t, "sox", "-R", joined, raw, "tempo", "-s", fmt.Sprintf("%.3f", tempo), "pitch", fmt.Sprint(cents), "rate", "-v", "16000")
	return raw
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

// TestBenchHumanMandarin measures the Mandarin verification on human
// readings (gcin-voice, both speakers), with the benchmark's variants and
// impostors (runSet): SHENFEN_SPEECH_HUMAN=N readings per speaker,
// SHENFEN_SPEECH_IMPOSTORS_zh and SHENFEN_SPEECH_TRIALS as for
// TestBenchSpeech. It prints one table per speaker and one for both.
func TestBenchHumanMandarin(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SHENFEN_SPEECH_HUMAN"))
	if n <= 0 {
		t.Skip("set SHENFEN_SPEECH_HUMAN=N to measure the Mandarin check on N human readings per gcin-voice speaker")
	}
	needTools(t)
	needGcin(t)
	t.Setenv("SHENFEN_SPEECH_LANG", string(Mandarin))
	rec := recognizer(t)
	var sets [][]trial
	var both []trial
	for i, spk := range gcinSpeakers {
		set := runSet(t, rec, "gcin:"+spk, []voice{{"gcin", spk, Mandarin}}, n, uint64(300+i))
		sets = append(sets, set)
		for _, x := range set {
			x.set = "gcin:3+5"
			both = append(both, x)
		}
	}
	if f := os.Getenv("SHENFEN_SPEECH_TRIALS"); f != "" {
		writeTrials(t, f, both)
	}
	fmt.Println(benchTable(append(sets, both)...))
}
