//go:build cgo

package speech

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"testing"
)

// TestVerifyHeldOut verifies a few readings by voices that neither the
// training of the digit models nor the calibration of their thresholds
// used (voices of the benchmark's test set, bench_test.go), clean, with
// white noise at -35 dBFS and in the telephone band, and checks each
// clean reading against another challenge and against the challenge with
// one digit changed. It is the benchmark in small: the genuine readings
// must pass at a rate somewhat below the benchmark's (English, by
// PocketSphinx: 14 of 18 at 8ebec75; the benchmark's mean over these
// variants is 81%; Mandarin 18 of 18), and no impostor may.
func TestVerifyHeldOut(t *testing.T) {
	for _, tool := range []string{"espeak-ng", "espeak", "sox", "flite", "text2wave"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/setup.d/speech.debs): %v", tool, err)
		}
	}
	rec := recognizer(t)
	for _, tc := range []struct {
		lang     Lang
		voices   []voice
		readings int
		min      int // genuine trials accepted, of 3 per reading
	}{
		{English, []voice{{"flite", "slt", English}, {"festival", "ked_diphone", English}, {"festival", "cmu_us_slt_arctic_hts", English}}, 6, 13},
		{Mandarin, []voice{{"espeak-ng", "cmn-latn-pinyin+m3", Mandarin}, {"espeak-ng", "cmn-latn-pinyin+f4", Mandarin}, {"espeak", "zh+f4", Mandarin}}, 6, 17},
	} {
		t.Run(string(tc.lang), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			r := rand.New(rand.NewPCG(31, 7))
			accepted, impostors := 0, 0
			var log []string
			for i := range tc.readings {
				v := tc.voices[i%len(tc.voices)]
				d := randomDigits(r)
				raw := render(t, dir, v, say(d, tc.lang, r), 0.9+0.2*r.Float64())
				for _, variant := range []string{"clean", "noise-35", "band"} {
					a := degrade(t, dir, raw, variant)
					res, _, _ := verifyAudio(t, rec, a, d, tc.lang)
					if res.Accepted {
						accepted++
					} else {
						log = append(log, fmt.Sprintf("%s %s %s refused: %s %+v", v, variant, d, res.Reason, res.hmm))
					}
					if variant != "clean" {
						continue
					}
					for _, c := range []string{otherChallenge(r, d), oneDigitChanged(r, d)} {
						if res, _, _ := verifyAudio(t, rec, a, c, tc.lang); res.Accepted {
							impostors++
							log = append(log, fmt.Sprintf("%s reading %s accepted as %s: %+v", v, d, c, res.hmm))
						}
					}
				}
			}
			t.Logf("%d of %d genuine trials accepted, %d of %d impostor trials", accepted, 3*tc.readings, impostors, 2*tc.readings)
			if accepted < tc.min || impostors > 0 {
				t.Errorf("%d of %d genuine trials accepted (want at least %d), %d of %d impostor trials accepted (want 0):\n%v",
					accepted, 3*tc.readings, tc.min, impostors, 2*tc.readings, log)
			}
		})
	}
}

func TestChooseThresholds(t *testing.T) {
	g := func(d, w, f float64) trial {
		return trial{kind: "genuine", lang: Mandarin, v: Verification{hmm: hmmScores{digits: d, word: w, fit: f, heard: "1234"}}}
	}
	imp := func(d, w, f float64, heard string) trial {
		return trial{kind: "one-digit-changed", lang: Mandarin, challenge: "1235", v: Verification{hmm: hmmScores{digits: d, word: w, fit: f, heard: heard}}}
	}
	var trials []trial
	for range 99 {
		trials = append(trials, g(-0.2, -0.5, -50))
	}
	trials = append(trials, g(-1.2, -4, -50)) // an outlier the strict choice gives up (1%)
	for _, tc := range []struct {
		name   string
		extra  []trial
		want   hmmThresholds
		k      int
		wantOK bool
	}{
		{"no impostor", nil, hmmThresholds{-0.2, -0.5, -60}, 99, true},
		{"an impostor close to the genuine", []trial{imp(-0.3, -0.6, -50, "1234")}, hmmThresholds{-0.2, -0.5, -60}, 99, true},
		{"an impostor between", []trial{imp(-0.25, -0.4, -50, "1234"), imp(-0.1, -0.55, -50, "1234")}, hmmThresholds{-0.2, -0.5, -60}, 99, true},
		{"an impostor the loop heard as the challenge is left out", []trial{imp(0, 0, -40, "1235")}, hmmThresholds{-0.2, -0.5, -60}, 99, true},
		{"an impostor no threshold refuses", []trial{imp(0, 0, -40, "1234")}, hmmThresholds{}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			th, k, n, ok := chooseThresholds(append(slices.Clone(trials), tc.extra...), Mandarin)
			if ok != tc.wantOK || (ok && (th != tc.want || k != tc.k || n != 100)) {
				t.Fatalf("got %+v, %d of %d, %v; want %+v, %d of 100, %v", th, k, n, ok, tc.want, tc.k, tc.wantOK)
			}
		})
	}
	if _, _, _, ok := chooseThresholds(trials, English); ok {
		t.Fatal("thresholds chosen without English trials")
	}
}
