//go:build cgo

package speech

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// pinyinText is how the tests give Mandarin digits to espeak-ng's pinyin
// voice.
func pinyinText(digits string) string {
	var w []string
	for _, c := range digits {
		w = append(w, pinyinDigits[c-'0'])
	}
	return strings.Join(w, ", ")
}

// shift prepends d of silence to a.
func shift(a Audio, d time.Duration) Audio {
	n := int(d.Seconds() * float64(a.Rate))
	return Audio{Samples: append(make([]int16, n), a.Samples...), Rate: a.Rate}
}

// TestVerify covers acceptance, the word times and each refusal the
// enrollment relies on, on generated clips (espeak-ng, sox).
func TestVerify(t *testing.T) {
	needTools(t)
	rec := recognizer(t)
	dir := t.TempDir()
	decode := func(b []byte) Audio {
		a, err := Decode(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	en := decode(generate(t, dir, clip{text: spoken("7503"), voice: "en-us+klatt2", speed: 140}))
	zh := decode(generate(t, dir, clip{text: pinyinText("6185"), voice: "cmn-latn-pinyin", speed: 140}))
	tests := []struct {
		name      string
		audio     Audio
		challenge string
		lang      Lang
		accept    bool
		reasons   string // accepted reasons, space separated
	}{
		{"english", en, "7503", English, true, "match"},
		{"english, 44.1 kHz, noise", decode(generate(t, dir, clip{text: spoken("8360"), voice: "en-us+klatt", speed: 160, noise: 0.005, rate: 44100})), "8360", English, true, "match"},
		{"english, 8 kHz", decode(generate(t, dir, clip{text: spoken("2044"), voice: "en-us+klatt3", speed: 140, rate: 8000})), "2044", English, true, "match"},
		{"mandarin", zh, "6185", Mandarin, true, "match"},
		{"another challenge", en, "1234", English, false, "mismatch rejected"},
		{"one digit changed", en, "7513", English, false, "mismatch rejected"},
		{"digits in another order", en, "7530", English, false, "mismatch rejected"},
		{"three digits read", decode(generate(t, dir, clip{text: spoken("750"), voice: "en-us+klatt2", speed: 140})), "7503", English, false, "mismatch rejected"},
		{"five digits read", decode(generate(t, dir, clip{text: spoken("75039"), voice: "en-us+klatt2", speed: 140})), "7503", English, false, "mismatch rejected"},
		{"english read, mandarin expected", en, "7503", Mandarin, false, "mismatch rejected"},
		{"mandarin, another challenge", zh, "6188", Mandarin, false, "mismatch rejected"},
		{"sentence", decode(generate(t, dir, clip{text: "I would like to open an account", voice: "en-us+klatt2", speed: 150})), "7503", English, false, "rejected"},
		{"mandarin, one digit changed", zh, "6195", Mandarin, false, "mismatch rejected"},
		{"mandarin, 幺 for one, 8 kHz, noise", decode(generate(t, dir, clip{text: "yao1, er4, ling2, jiu3", voice: "cmn-latn-pinyin+m1", speed: 160, noise: 0.01, rate: 8000})), "1209", Mandarin, true, "match"},
		{"mandarin, three digits read", decode(generate(t, dir, clip{text: pinyinText("618"), voice: "cmn-latn-pinyin", speed: 140})), "6185", Mandarin, false, "mismatch rejected"},
		{"mandarin, five digits read", decode(generate(t, dir, clip{text: pinyinText("61857"), voice: "cmn-latn-pinyin", speed: 140})), "6185", Mandarin, false, "mismatch rejected"},
		{"mandarin sentence", decode(generate(t, dir, clip{text: "ni3 hao3, wo3 xiang3 kai1 yi2 ge4 zhang4 hu4", voice: "cmn-latn-pinyin", speed: 140})), "6185", Mandarin, false, "rejected"},
		{"silence", Audio{Samples: make([]int16, 3*16000), Rate: 16000}, "1234", English, false, "silent"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := VerifyWAV(context.Background(), rec, EncodeWAV(tc.audio), tc.challenge, tc.lang)
			if err != nil {
				t.Fatal(err)
			}
			if v.Accepted != tc.accept || !strings.Contains(" "+tc.reasons+" ", " "+v.Reason+" ") {
				t.Fatalf("got accepted %v, reason %q (score %.2f, %+v), want %v, %s", v.Accepted, v.Reason, v.Score, v.scores, tc.accept, tc.reasons)
			}
			if v.Lang != tc.lang || (v.Reason != "silent" && !strings.HasSuffix(v.Model, "+"+string(tc.lang))) {
				t.Fatalf("lang %q, model %q", v.Lang, v.Model)
			}
			if want := time.Duration(len(tc.audio.Samples)) * time.Second / time.Duration(tc.audio.Rate); v.Duration != want {
				t.Fatalf("duration %v, want %v", v.Duration, want)
			}
			if !tc.accept {
				if len(v.Words) != 0 {
					t.Fatalf("refusal with words %v", v.Words)
				}
				return
			}
			if len(v.Words) != ChallengeLen {
				t.Fatalf("words %v", v.Words)
			}
			var prev time.Duration
			for i, w := range v.Words {
				if w.Digit != tc.challenge[i] || w.Start < prev || w.End <= w.Start || w.End > v.Duration {
					t.Fatalf("word %d %+v after %v in %v", i, w, prev, v.Duration)
				}
				prev = w.End
			}
			// The clips have half a second of silence before the speech.
			if s := v.Words[0].Start; s < 400*time.Millisecond || s > 900*time.Millisecond {
				t.Fatalf("first digit starts at %v", s)
			}
		})
	}
}

// TestVerifyWordTimes checks that word times count from the first sample
// of the original recording: the same reading with 1.5 s more silence
// before it, at another sample rate, gives times 1.5 s later.
func TestVerifyWordTimes(t *testing.T) {
	needTools(t)
	rec := recognizer(t)
	a, err := Decode(generate(t, t.TempDir(), clip{text: spoken("8360"), voice: "en-us+klatt", speed: 150, rate: 44100}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := VerifyWAV(context.Background(), rec, EncodeWAV(a), "8360", English)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := VerifyWAV(context.Background(), rec, EncodeWAV(shift(a, 1500*time.Millisecond)), "8360", English)
	if err != nil {
		t.Fatal(err)
	}
	if !v1.Accepted || !v2.Accepted {
		t.Fatalf("not accepted: %+v / %+v", v1, v2)
	}
	for i := range v1.Words {
		ds := v2.Words[i].Start - v1.Words[i].Start - 1500*time.Millisecond
		de := v2.Words[i].End - v1.Words[i].End - 1500*time.Millisecond
		if ds.Abs() > 30*time.Millisecond || de.Abs() > 30*time.Millisecond {
			t.Fatalf("word %d: %+v then %+v", i, v1.Words[i], v2.Words[i])
		}
	}
}

func TestVerifyErrors(t *testing.T) {
	rec := recognizer(t)
	good := EncodeWAV(Audio{Samples: make([]int16, 16000), Rate: 16000})
	loud := make([]int16, 32000)
	for i := range loud {
		loud[i] = toInt16(40000 * math.Sin(float64(i)*2*math.Pi*300/16000))
	}
	for _, tc := range []struct {
		name      string
		wav       []byte
		challenge string
		lang      Lang
		want      error
	}{
		{"three digits", good, "123", English, ErrBadChallenge},
		{"letters", good, "12a4", English, ErrBadChallenge},
		{"language", good, "1234", Lang("fr"), ErrBadLang},
		{"empty language", good, "1234", "", ErrBadLang},
		{"not wav", []byte("OggS not a wav file at all"), "1234", English, ErrNotWAV},
		{"empty", nil, "1234", English, ErrNotWAV},
		{"too short", EncodeWAV(Audio{Samples: make([]int16, 100), Rate: 16000}), "1234", English, ErrTooShort},
		{"too long", EncodeWAV(Audio{Samples: make([]int16, 16*16000), Rate: 16000}), "1234", English, ErrTooLong},
		{"clipped", EncodeWAV(Audio{Samples: loud, Rate: 16000}), "1234", English, ErrClipped},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := VerifyWAV(context.Background(), rec, tc.wav, tc.challenge, tc.lang); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	pcm := make([]int16, 16000)
	if _, err := rec.Verify(context.Background(), pcm, 16000, "1234", "de"); !errors.Is(err, ErrBadLang) {
		t.Fatalf("bad language: %v", err)
	}
	if _, err := rec.Verify(context.Background(), pcm, 0, "1234", English); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("rate 0: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := rec.Verify(ctx, pcm, 16000, "1234", English); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
}
