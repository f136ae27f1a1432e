//go:build cgo

package speech

import (
	"fmt"
	"math/rand/v2"
	"os/exec"
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
