//go:build cgo

package speech

import (
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Human English readings for the tests: Debian's
// asterisk-core-sounds-en-g722 holds the prompts of the Asterisk telephone
// exchange recorded by Allison Smith (CC-BY-SA-3.0, see
// docs/biometrics.md), among them every digit and "oh", in G.722 (16 kHz,
// 50-7000 Hz), which ffmpeg decodes. asteriskRender joins the digits into
// a reading as [gcinRender] does for Mandarin; a text that is not digits
// is answered with one of the exchange's spoken sentences (other human
// speech). Nothing of it is committed.

// asteriskDir is where the package keeps the prompts
// (SHENFEN_ASTERISK_SOUNDS_DIR overrides it).
func asteriskDir() string {
	if d := os.Getenv("SHENFEN_ASTERISK_SOUNDS_DIR"); d != "" {
		return d
	}
	return "/usr/share/asterisk/sounds/en_US_f_Allison"
}

// needAsterisk fails t when the prompts or ffmpeg are not installed.
func needAsterisk(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(asteriskDir(), "digits", "7.g722")); err != nil {
		t.Fatalf("asterisk-core-sounds-en-g722 is needed for human English test speech (scripts/setup.d/speech.debs): %v", err)
	}
	needTools(t)
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Fatalf("ffmpeg is needed to decode G.722 (scripts/setup.d/web.debs): %v", err)
	}
}

// asteriskSentences are prompts that say no digit: the other speech of
// the English human voice.
var asteriskSentences = []string{
	"hello-world", "please-try-again", "please-try-call-later", "pls-hold-while-try", "tt-allbusy",
	"tt-monkeysintro", "tt-somethingwrong", "tt-weasels", "conf-getpin", "conf-waitforleader",
	"conf-onlyperson", "call-forwarding", "all-circuits-busy-now", "conf-placeintoconf",
}

// asteriskClip returns the prompt name (a path under asteriskDir without
// its extension) at 16 kHz, silence trimmed.
func asteriskClip(t testing.TB, name string) []int16 {
	t.Helper()
	file := filepath.Join(asteriskDir(), name+".g722")
	return loadClip(t, file, func(out string) []string {
		return []string{"ffmpeg", "-v", "error", "-y", "-i", file, "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", out}
	})
}

// asteriskRender writes a reading of text (English digit words, "oh" for
// zero allowed, commas between them) to a 16 kHz WAV file in dir and
// returns its path; any other text gives a sentence of the exchange,
// chosen by the text.
func asteriskRender(t testing.TB, dir, text string, speed float64) string {
	t.Helper()
	words := strings.Fields(strings.ReplaceAll(text, ",", " , "))
	digits := true
	for _, w := range words {
		if w != "," && w != "oh" && !slices.Contains(digitNames, w) {
			digits = false
		}
	}
	if !digits {
		h := fnv.New64a()
		h.Write([]byte(text))
		words = []string{asteriskSentences[h.Sum64()%uint64(len(asteriskSentences))]}
	}
	return joinReading(t, dir, "asterisk", words, speed, func(w string) []int16 {
		switch i := slices.Index(digitNames, w); {
		case i >= 0:
			return asteriskClip(t, "digits/"+string(rune('0'+i)))
		case w == "oh":
			return asteriskClip(t, "digits/oh")
		default:
			return asteriskClip(t, w)
		}
	})
}
