package speech

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"sync"
	"time"
)

// MandarinModelVersion names the Mandarin digit verification: the digit
// model (trained here on generated speech, see zh-digits.gob) and the
// decision. [Verification.Model] carries it for Mandarin readings.
const MandarinModelVersion = "shenfen-zh-digits/hmm-espeak-ng-trained/forced-vs-loop/v2"

// zhModelFile is the Mandarin digit model: whole-word HMMs of 零 一 幺 二
// 三 四 五 六 七 八 九, silence and other speech, trained by
// TestTrainMandarinModel (SHENFEN_SPEECH_TRAIN=1) on espeak-ng voices that
// neither the calibration nor the test set of the benchmark uses.
//
//go:embed zh-digits.gob
var zhModelFile []byte

var zhModel = sync.OnceValues(func() (*digitModel, error) { return decodeDigitModel(zhModelFile) })

// hmmThresholds are the decision thresholds of the digit-model
// verification, in nats per frame of the challenge's digits: the forced
// alignment of the challenge against the loop of any digits, other speech
// and silence (digits), the same over the worst challenge word (word), and
// the forced digits' mean log density (fit: audio unlike any speech the
// model knows, such as tones or music, fits neither and is refused here).
type hmmThresholds struct{ digits, word, fit float64 }

// zhThresholds were chosen on the calibration set of
// scripts/bench.d/speech.sh (espeak-ng voices that training did not use,
// 40 readings in 6 variants, each reading checked against 5 other
// challenges and 5 with one digit changed; docs/biometrics.md): the most
// lenient round values that refuse every impostor of that set (the
// closest: -0.72 on digits with -2.79 on word, and -1.18 with -4.88),
// which accept all its 240 genuine trials (the lowest: -0.29 on digits,
// -1.98 on word; fit -44.3, impostor sentences and music -55 and below).
var zhThresholds = hmmThresholds{digits: -0.5, word: -2.5, fit: -52}

// zhWordPenalty is the log probability of entering a word, in the forced
// and in the loop network alike.
const zhWordPenalty = -5

// hmmScores are the parts of a digit-model decision.
type hmmScores struct {
	digits, word, fit float64
	region            float64 // the worst word's ratio over it and the pauses around it
	heard             string
}

func (t hmmThresholds) margin(s hmmScores) float64 {
	return min(s.digits-t.digits, s.word-t.word, s.fit-t.fit)
}

// hmmVerifier is a digit model with its decision settings.
type hmmVerifier struct {
	lang    Lang
	version string
	model   func() (*digitModel, error)
	th      hmmThresholds
	penalty float32
}

// hmmVerifiers are the languages verified by a digit model rather than by
// PocketSphinx.
var hmmVerifiers = map[Lang]*hmmVerifier{
	Mandarin: {lang: Mandarin, version: MandarinModelVersion, model: zhModel, th: zhThresholds, penalty: zhWordPenalty},
}

// verify verifies challenge on 16 kHz pcm with the digit model. The
// trimmed, conditioned speech starts at sample from of the recording.
func (h *hmmVerifier) verify(ctx context.Context, speech []int16, from int, challenge string) (Verification, error) {
	res := Verification{Lang: h.lang, Model: h.version + "+" + string(h.lang)}
	m, err := h.model()
	if err != nil {
		return Verification{}, err
	}
	feats := features(speech)
	scores := m.stateScores(feats)
	if err := ctx.Err(); err != nil {
		return Verification{}, err
	}
	forced, ok := m.forcedNetwork(challenge, h.penalty).viterbi(m, scores)
	if !ok {
		res.Reason = "rejected"
		return res, nil
	}
	loop, ok := m.loopNetwork(h.penalty).viterbi(m, scores)
	if !ok {
		return Verification{}, fmt.Errorf("speech: the %s loop network found no path", h.lang)
	}
	sc := hmmScores{word: math.Inf(1)}
	for _, w := range loop.words {
		if d := m.Words[w.word].Digit; d != 0 {
			sc.heard += string(d)
		}
	}
	var digitFrames int
	var digitScore float64
	var digits []wordSeg
	for _, w := range forced.words {
		if m.Words[w.word].Digit != 0 {
			digits = append(digits, w)
		}
	}
	sc.region = math.Inf(1)
	for i, w := range digits {
		n := w.ef - w.sf + 1
		digitFrames += n
		digitScore += w.score
		sc.word = math.Min(sc.word, (w.score-loop.span(w.sf, w.ef))/float64(n))
		// The word with the pauses around it, up to the neighbouring
		// digits: a wrong digit that the forced path squeezes into a few
		// frames, leaving the said digit's frames to the pauses, still
		// scores the whole gap.
		from, to := 0, len(forced.frame)-1
		if i > 0 {
			from = digits[i-1].ef + 1
		}
		if i+1 < len(digits) {
			to = digits[i+1].sf - 1
		}
		sc.region = math.Min(sc.region, (forced.span(from, to)-loop.span(from, to))/float64(n))
	}
	if digitFrames == 0 {
		res.Reason = "rejected"
		return res, nil
	}
	sc.digits = (forced.total - loop.total) / float64(digitFrames)
	sc.fit = digitScore / float64(digitFrames)
	res.hmm = sc
	res.Score = h.th.margin(sc)
	switch {
	case res.Score >= 0:
		res.Accepted, res.Reason = true, "match"
		offset := time.Duration(from) * time.Second / SampleRate
		for _, w := range forced.words {
			if d := m.Words[w.word].Digit; d != 0 {
				res.Words = append(res.Words, Word{Digit: d,
					Start: offset + time.Duration(w.sf)*frameDur,
					End:   offset + time.Duration(w.ef+1)*frameDur})
			}
		}
	case sc.fit >= h.th.fit && len(sc.heard) > 0:
		res.Reason = "mismatch"
	default:
		res.Reason = "rejected"
	}
	return res, nil
}
