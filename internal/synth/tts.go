package synth

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strconv"
	"strings"
)

// Rate is the sample rate of every recording synth makes.
const Rate = 16000

// Voice is a text-to-speech voice: Engine "espeak-ng" (Name a voice such
// as "en-us+klatt3" or "cmn", Speed in words a minute) or "flite" (Name a
// voice such as "slt"; Speed unused).
type Voice struct {
	Engine string
	Name   string
	Speed  int
	Lang   Lang
}

func (v Voice) String() string {
	if v.Speed > 0 {
		return fmt.Sprintf("%s %s at %d wpm", v.Engine, v.Name, v.Speed)
	}
	return v.Engine + " " + v.Name
}

// Voices are the synthetic readers, per language, the one the speech
// recogniser reads best first (docs/biometrics.md).
var Voices = map[Lang][]Voice{
	English: {
		{"espeak-ng", "en-us+klatt3", 140, English}, {"espeak-ng", "en-us+klatt3", 120, English},
		{"espeak-ng", "en-us+klatt", 160, English}, {"espeak-ng", "en-us+klatt2", 120, English},
		{"flite", "slt", 0, English}, {"flite", "kal", 0, English},
	},
	Mandarin: {
		{"espeak-ng", "cmn-latn-pinyin", 130, Mandarin}, {"espeak-ng", "cmn-latn-pinyin+f3", 120, Mandarin},
		{"espeak-ng", "cmn-latn-pinyin+klatt3", 130, Mandarin}, {"espeak-ng", "cmn", 130, Mandarin},
	},
}

var (
	englishDigits  = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	mandarinDigits = []string{"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"}
	// pinyinDigits are the Mandarin digits for espeak-ng's voices that read
	// pinyin (cmn-latn-pinyin), tone numbers included.
	pinyinDigits = []string{"ling2", "yi1", "er4", "san1", "si4", "wu3", "liu4", "qi1", "ba1", "jiu3"}
)

// Words spells digits as they are read in lang.
func Words(digits string, lang Lang) (string, error) {
	names := englishDigits
	if lang == Mandarin {
		names = mandarinDigits
	}
	var w []string
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", fmt.Errorf("synth: %q is not digits", digits)
		}
		w = append(w, names[c-'0'])
	}
	return strings.Join(w, " "), nil
}

// Speak renders digits read aloud by v as 16 kHz mono samples (espeak-ng
// or flite, resampled with sox), without added silence.
func Speak(ctx context.Context, v Voice, digits string) ([]int16, error) {
	text, err := Words(digits, v.Lang)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(v.Name, "cmn-latn-pinyin") {
		var w []string
		for _, c := range digits {
			w = append(w, pinyinDigits[c-'0'])
		}
		text = strings.Join(w, " ")
	}
	var tts *exec.Cmd
	switch v.Engine {
	case "espeak-ng":
		tts = exec.CommandContext(ctx, "espeak-ng", "-v", v.Name, "-s", strconv.Itoa(v.Speed), "--stdout", text)
	case "flite":
		tts = exec.CommandContext(ctx, "flite", "-voice", v.Name, "-t", text, "-o", "/dev/stdout")
	default:
		return nil, fmt.Errorf("synth: unknown speech engine %q", v.Engine)
	}
	var raw, errb bytes.Buffer
	tts.Stdout, tts.Stderr = &raw, &errb
	if err := tts.Run(); err != nil {
		return nil, fmt.Errorf("synth: %s (Debian packages espeak-ng, flite): %w: %s", v.Engine, err, errb.String())
	}
	sox := exec.CommandContext(ctx, "sox", "-t", "wav", "-", "-r", strconv.Itoa(Rate), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", "-")
	sox.Stdin = &raw
	var out bytes.Buffer
	errb.Reset()
	sox.Stdout, sox.Stderr = &out, &errb
	if err := sox.Run(); err != nil {
		return nil, fmt.Errorf("synth: sox (Debian package sox): %w: %s", err, errb.String())
	}
	b := out.Bytes()
	if len(b) < 2*Rate/10 {
		return nil, errors.New("synth: the voice produced no speech")
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm, nil
}

// EncodeWAV writes 16-bit PCM mono samples as a WAV file.
func EncodeWAV(pcm []int16, rate int) []byte {
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + 2*len(pcm)))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(rate))
	w(uint32(2 * rate))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(2 * len(pcm)))
	w(pcm)
	return b.Bytes()
}

// DecodeWAV reads a 16-bit PCM mono WAV as EncodeWAV writes it.
func DecodeWAV(b []byte) ([]int16, int, error) {
	if len(b) < 44 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, 0, errors.New("synth: not a WAV file")
	}
	var rate int
	for off := 12; off+8 <= len(b); {
		id, n := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:]))
		body := b[off+8 : min(len(b), off+8+n)]
		switch id {
		case "fmt ":
			if len(body) < 16 || binary.LittleEndian.Uint16(body) != 1 || binary.LittleEndian.Uint16(body[2:]) != 1 || binary.LittleEndian.Uint16(body[14:]) != 16 {
				return nil, 0, errors.New("synth: WAV is not 16-bit PCM mono")
			}
			rate = int(binary.LittleEndian.Uint32(body[4:]))
		case "data":
			if rate == 0 {
				return nil, 0, errors.New("synth: WAV data before its format")
			}
			pcm := make([]int16, len(body)/2)
			for i := range pcm {
				pcm[i] = int16(binary.LittleEndian.Uint16(body[2*i:]))
			}
			return pcm, rate, nil
		}
		off += 8 + n + n%2
	}
	return nil, 0, errors.New("synth: WAV without data")
}

// envelope is the loudness of pcm every hop (RMS over a 30 ms window),
// smoothed and scaled to 0..1 by its 98th percentile.
func envelope(pcm []int16, rate int, hop int) []float64 {
	n := len(pcm) / hop
	win := rate * 30 / 1000
	env := make([]float64, n)
	for i := range env {
		c := i*hop + hop/2
		var s float64
		var k int
		for j := max(0, c-win/2); j < min(len(pcm), c+win/2); j++ {
			v := float64(pcm[j])
			s += v * v
			k++
		}
		if k > 0 {
			env[i] = math.Sqrt(s / float64(k))
		}
	}
	sorted := append([]float64(nil), env...)
	slices.Sort(sorted)
	top := 1.0
	if len(sorted) > 0 {
		top = max(1, sorted[len(sorted)*98/100])
	}
	floor := top * 0.06 // room noise and breath: the mouth stays closed
	for i, v := range env {
		env[i] = math.Max(0, math.Min(1, (v-floor)/(top-floor)))
	}
	// A jaw does not follow the loudness of every glottal pulse: smooth
	// over about 60 ms (attack) / 90 ms (release).
	var y float64
	for i, v := range env {
		a := 0.5
		if v < y {
			a = 0.35
		}
		y += a * (v - y)
		env[i] = y
	}
	return env
}
