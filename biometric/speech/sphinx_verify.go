//go:build cgo

package speech

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <string.h>
#include <pocketsphinx.h>
#include <sphinxbase/fe.h>
#include <sphinxbase/ckd_alloc.h>

// The acoustic model object and its senone-score log are not in
// pocketsphinx's public headers, but libpocketsphinx exports them; the
// decoder's acoustic model is its third field (after the configuration
// and the reference count) in pocketsphinx 5prealpha. sf_acmod finds it
// and checks it against three public accessors (the acoustic model holds
// the decoder's configuration, log-math table and front end as its first,
// second and fourth fields), so that a different library layout is
// detected at start-up rather than misread.
typedef struct acmod_s acmod_t;
extern int acmod_set_senfh(acmod_t *acmod, FILE *senfh);
extern void acmod_grow_feat_buf(acmod_t *acmod, int nfr);

static acmod_t *sf_acmod(ps_decoder_t *ps) {
	void **p = (void **)ps;
	void **a = (void **)p[2];
	if (a == NULL || a[0] != (void *)ps_get_config(ps) || a[1] != (void *)ps_get_logmath(ps) || a[3] != (void *)ps_get_fe(ps)) return NULL;
	return (acmod_t *)a;
}

// sf_cepstra computes the MFCC frames of a whole utterance once, so that
// the several searches of a verification share them, and a work block of
// the same size.
static int sf_cepstra(ps_decoder_t *ps, const int16 *pcm, size_t n, mfcc_t ***cep, mfcc_t ***work, int32 *nfr) {
	fe_t *fe = ps_get_fe(ps);
	if (fe_start_utt(fe) < 0) return -1;
	if (fe_process_utt(fe, pcm, n, cep, nfr) < 0) return -1;
	*work = (mfcc_t **)ckd_calloc_2d(*nfr > 0 ? *nfr : 1, fe_get_output_size(fe), sizeof(mfcc_t));
	return 0;
}

static void sf_free_cepstra(mfcc_t **cep) { ckd_free_2d((void **)cep); }

// sf_decode_cep decodes a copy of the cepstra (in work, as large): the
// decoder normalises its input in place.
static int sf_decode_cep(ps_decoder_t *ps, const char *search, mfcc_t **cep, mfcc_t **work, int nfr) {
	int ncep = fe_get_output_size(ps_get_fe(ps));
	memcpy(work[0], cep[0], (size_t)nfr * ncep * sizeof(mfcc_t));
	if (ps_set_search(ps, search) < 0) return -1;
	if (ps_start_utt(ps) < 0) return -2;
	if (ps_process_cep(ps, work, nfr, FALSE, TRUE) < 0) { ps_end_utt(ps); return -3; }
	if (ps_end_utt(ps) < 0) return -4;
	return 0;
}

// sf_decode_logged decodes like sf_decode_cep and logs every frame's
// senone scores (all of them: the decoder runs with -compallsen) to a
// memory buffer, for sf_decode_logged_scores to decode again with other
// searches without computing the acoustic model a second time.
static int sf_decode_logged(ps_decoder_t *ps, const char *search, mfcc_t **cep, mfcc_t **work, int nfr, char **buf, size_t *size) {
	acmod_t *a = sf_acmod(ps);
	if (a == NULL) return -10;
	FILE *f = open_memstream(buf, size);
	if (f == NULL) return -11;
	if (acmod_set_senfh(a, f) < 0) { acmod_set_senfh(a, NULL); return -12; }
	int rc = sf_decode_cep(ps, search, cep, work, nfr);
	acmod_set_senfh(a, NULL); // closes f, which finishes *buf
	// A whole-utterance decode grows the feature buffer but not the array
	// of senone-file positions that reading the scores back indexes in
	// step with it; size both for this utterance.
	acmod_grow_feat_buf(a, nfr + 16);
	return rc;
}

static int sf_decode_scores(ps_decoder_t *ps, const char *search, char *buf, size_t size) {
	if (ps_set_search(ps, search) < 0) return -1;
	FILE *f = fmemopen(buf, size, "rb");
	if (f == NULL) return -11;
	int rc = ps_decode_senscr(ps, f);
	fclose(f);
	return rc < 0 ? -3 : 0;
}

#define SF_WIP 1e-2

// sf_set_jsgf_neutral adds a JSGF search whose path scores are nearly
// all acoustic: language weight 1 (a grammar's alternatives cost only the
// log of their count), no phone insertion penalty and a small word
// insertion penalty (SF_WIP, the same for every word of the challenge and
// of the digit loop, so that the loop does not explain a reading by many
// short words), so that the best path of each search is the best acoustic
// explanation its grammar allows and the searches' scores compare. The
// settings are read from the configuration when the search is created,
// so they are set for its creation and restored after.
static int sf_set_jsgf_neutral(ps_decoder_t *ps, const char *name, const char *jsgf) {
	cmd_ln_t *cfg = ps_get_config(ps);
	double lw = cmd_ln_float_r(cfg, "-lw"), wip = cmd_ln_float_r(cfg, "-wip"), pip = cmd_ln_float_r(cfg, "-pip");
	cmd_ln_set_float_r(cfg, "-lw", 1.0);
	cmd_ln_set_float_r(cfg, "-wip", SF_WIP);
	cmd_ln_set_float_r(cfg, "-pip", 1.0);
	int rc = ps_set_jsgf_string(ps, name, jsgf);
	cmd_ln_set_float_r(cfg, "-lw", lw);
	cmd_ln_set_float_r(cfg, "-wip", wip);
	cmd_ln_set_float_r(cfg, "-pip", pip);
	return rc;
}

// sf_set_forced replaces the per-challenge search. The decoder's current
// search is moved off it first, so that the replaced one is never in use.
static int sf_set_forced(ps_decoder_t *ps, const char *other, const char *name, const char *jsgf) {
	if (ps_set_search(ps, other) < 0) return -1;
	return sf_set_jsgf_neutral(ps, name, jsgf);
}
*/
import "C"

import (
	"context"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// EnglishModelVersion names the English verification: recogniser,
// acoustic model, dictionary and decision. [Verification.Model] carries
// it with "+en" appended.
const EnglishModelVersion = "pocketsphinx-5prealpha/cmusphinx-en-us-ptm/forced-vs-digitloop+phoneloop/v1"

// VerifyModelVersion names the verifications of both languages, as a
// decision records them: English by PocketSphinx ([EnglishModelVersion]),
// Mandarin by the digit model ([MandarinModelVersion]).
const VerifyModelVersion = "en=" + EnglishModelVersion + " zh=" + MandarinModelVersion

// thresholds are the decision thresholds of [Sphinx.Verify] for one
// language, on log-likelihood ratios per frame of the challenge's words,
// in PocketSphinx's log units (about 0.1 nat): the forced alignment of the
// challenge against the free digit loop (digits) and against the phone
// loop (phones), and the worst word's own score against the best senone
// of each frame (word).
type thresholds struct{ digits, phones, word float64 }

// verifyThresholds were chosen on the calibration set of
// scripts/bench.d/speech.sh (espeak-ng voices, 40 English readings in 6
// variants and their impostors; docs/biometrics.md): the most
// lenient values that refused every impostor of that set, each made
// 0.5 stricter.
var verifyThresholds = map[Lang]thresholds{
	English: {digits: -0.9, phones: -40, word: -96.4},
}

// margin is the smallest distance of the scores above their thresholds;
// negative when one of them is below its threshold.
func (t thresholds) margin(s scores) float64 {
	return min(s.digits-t.digits, s.phones-t.phones, s.word-t.word)
}

// acoustic is the margin of the criteria that do not compare digits with
// other digits: whether the recording sounds like digits at all.
func (t thresholds) acoustic(s scores) float64 {
	return min(s.phones-t.phones, s.word-t.word)
}

const searchForced = "forced"

func freeSearch(l Lang) string { return "free_" + string(l) }

// cepstra are the MFCC frames of one utterance, owned by C.
type cepstra struct {
	p, work **C.mfcc_t
	n       int
}

func (d *decoder) cepstra(pcm []int16) (cepstra, error) {
	var cep, work **C.mfcc_t
	var n C.int32
	if C.sf_cepstra(d.ps, (*C.int16)(unsafe.Pointer(&pcm[0])), C.size_t(len(pcm)), &cep, &work, &n) < 0 {
		return cepstra{}, fmt.Errorf("speech: pocketsphinx front end failed")
	}
	return cepstra{p: cep, work: work, n: int(n)}, nil
}

func (c cepstra) free() {
	if c.p != nil {
		C.sf_free_cepstra(c.p)
	}
	if c.work != nil {
		C.sf_free_cepstra(c.work)
	}
}

// runCep decodes the shared cepstra with the named search and returns its
// best path.
func (d *decoder) runCep(search string, c cepstra) ([]segment, error) {
	cs := C.CString(search)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.sf_decode_cep(d.ps, cs, c.p, c.work, C.int(c.n)); rc < 0 {
		return nil, fmt.Errorf("speech: pocketsphinx %s search failed (%d)", search, int(rc))
	}
	return d.segments(), nil
}

// senoneLog holds every frame's senone scores of one decoded utterance, in
// PocketSphinx's senone-dump format, in C memory.
type senoneLog struct {
	buf  *C.char
	size C.size_t
}

func (l *senoneLog) free() {
	if l.buf != nil {
		C.free(unsafe.Pointer(l.buf))
		l.buf = nil
	}
}

// runLogged is runCep that also logs the senone scores for runScores.
func (d *decoder) runLogged(search string, c cepstra, log *senoneLog) ([]segment, error) {
	cs := C.CString(search)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.sf_decode_logged(d.ps, cs, c.p, c.work, C.int(c.n), &log.buf, &log.size); rc < 0 {
		return nil, fmt.Errorf("speech: pocketsphinx %s search failed (%d)", search, int(rc))
	}
	return d.segments(), nil
}

// runScores decodes logged senone scores with the named search.
func (d *decoder) runScores(search string, log *senoneLog) ([]segment, error) {
	cs := C.CString(search)
	defer C.free(unsafe.Pointer(cs))
	if rc := C.sf_decode_scores(d.ps, cs, log.buf, log.size); rc < 0 {
		return nil, fmt.Errorf("speech: pocketsphinx %s search on logged scores failed (%d)", search, int(rc))
	}
	return d.segments(), nil
}

func (d *decoder) segments() []segment {
	var segs []segment
	for it := C.ps_seg_iter(d.ps); it != nil; it = C.ps_seg_next(it) {
		var sf, ef C.int
		var ascr, lscr, lback C.int32
		C.ps_seg_frames(it, &sf, &ef)
		C.ps_seg_prob(it, &ascr, &lscr, &lback)
		segs = append(segs, segment{word: C.GoString(C.ps_seg_word(it)), sf: int(sf), ef: int(ef), ascr: int32(ascr)})
	}
	return segs
}

// addSearch adds (or replaces) a JSGF search with neutral weights.
func (d *decoder) addSearch(name, jsgf string) error {
	other, cn, cg := C.CString(searchPhones), C.CString(name), C.CString(jsgf)
	defer C.free(unsafe.Pointer(other))
	defer C.free(unsafe.Pointer(cn))
	defer C.free(unsafe.Pointer(cg))
	if C.sf_set_forced(d.ps, other, cn, cg) < 0 {
		return fmt.Errorf("speech: pocketsphinx rejected grammar %s", name)
	}
	return nil
}

func (d *decoder) setForced(v vocabulary, challenge string) error {
	other, name := C.CString(searchPhones), C.CString(searchForced)
	gram := C.CString(forcedGrammar(v, challenge))
	defer C.free(unsafe.Pointer(other))
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(gram))
	if C.sf_set_forced(d.ps, other, name, gram) < 0 {
		return fmt.Errorf("speech: pocketsphinx rejected the challenge grammar")
	}
	return nil
}

// hasAcmod reports whether the decoder's acoustic model can be found for
// logging senone scores (see sf_acmod); NewSphinx refuses to start without.
func hasAcmod(ps *C.ps_decoder_t) bool { return C.sf_acmod(ps) != nil }

// addVocabularies adds the words of every language missing from the
// model's dictionary and one free-digit search per language.
func addVocabularies(ps *C.ps_decoder_t) error {
	for lang, v := range vocabularies {
		for i, wp := range v.prons {
			w, p := C.CString(wp[0]), C.CString(wp[1])
			update := C.int(0)
			if i == len(v.prons)-1 {
				update = 1
			}
			rc := C.ps_add_word(ps, w, p, update)
			C.free(unsafe.Pointer(w))
			C.free(unsafe.Pointer(p))
			if rc < 0 {
				return fmt.Errorf("speech: pocketsphinx refused the %s word %s", lang, wp[0])
			}
		}
		name, gram := C.CString(freeSearch(lang)), C.CString(freeGrammar(v))
		rc := C.sf_set_jsgf_neutral(ps, name, gram)
		C.free(unsafe.Pointer(name))
		C.free(unsafe.Pointer(gram))
		if rc < 0 {
			return fmt.Errorf("speech: pocketsphinx rejected the %s digit loop", lang)
		}
	}
	return nil
}

// pathScore is the acoustic score of a decoded path and the frames its
// digit words cover.
func pathScore(segs []segment) (ascr int64, digits string, digitFrames int) {
	for _, sg := range segs {
		ascr += int64(sg.ascr)
		if c, ok := digitOf(sg.word); ok {
			digits += string(c)
			digitFrames += sg.ef - sg.sf + 1
		}
	}
	return ascr, digits, digitFrames
}

// spanScore is the acoustic score a decoded path gives frames sf..ef: the
// scores of its segments inside the span, and the share of those that
// straddle its ends in proportion to their frames inside.
func spanScore(path []segment, sf, ef int) float64 {
	var total float64
	for _, sg := range path {
		lo, hi := max(sg.sf, sf), min(sg.ef, ef)
		if lo > hi || sg.ef < sg.sf {
			continue
		}
		total += float64(sg.ascr) * float64(hi-lo+1) / float64(sg.ef-sg.sf+1)
	}
	return total
}

// Verify implements [Verifier]. It resamples pcm to 16 kHz if needed,
// trims leading and trailing silence and conditions the level. Mandarin
// is then verified by the digit model (see [MandarinModelVersion]);
// English by PocketSphinx, as follows. The forced alignment of the
// challenge digits is decoded first, with every senone of the acoustic
// model scored in every frame; those scores are logged and decoded again
// by the competing searches, a loop of any digits and a loop of free
// phones, so that the acoustic model is computed once and all three paths
// are scored against the same per-frame reference. The challenge is
// accepted when every log-likelihood ratio (see [thresholds]) reaches its
// threshold; the forced alignment gives the digits' times.
func (s *Sphinx) Verify(ctx context.Context, pcm []int16, rate int, challenge string, lang Lang) (Verification, error) {
	if !validChallenge(challenge) {
		return Verification{}, ErrBadChallenge
	}
	if !lang.Valid() {
		return Verification{}, fmt.Errorf("%w: %q", ErrBadLang, lang)
	}
	if rate <= 0 {
		return Verification{}, fmt.Errorf("%w: sample rate %d", ErrUnsupportedFormat, rate)
	}
	model := EnglishModelVersion
	if h, ok := hmmVerifiers[lang]; ok {
		model = h.version
	}
	res := Verification{Lang: lang, Model: model + "+" + string(lang),
		Duration: time.Duration(len(pcm)) * time.Second / time.Duration(rate)}
	if err := ctx.Err(); err != nil {
		return Verification{}, err
	}
	a := Resample(Audio{Samples: pcm, Rate: rate}, SampleRate)
	from, to := voicedSpan(a.Samples, SampleRate)
	if to-from < SampleRate/10 {
		res.Reason = "silent"
		return res, nil
	}
	speech := condition(a.Samples[from:to])
	if h, ok := hmmVerifiers[lang]; ok {
		out, err := h.verify(ctx, speech, from, challenge)
		if err != nil {
			return Verification{}, err
		}
		out.Duration = res.Duration
		return out, nil
	}
	d, err := s.acquire(ctx)
	if err != nil {
		return Verification{}, err
	}
	defer s.release(d)
	cep, err := d.cepstra(speech)
	if err != nil {
		return Verification{}, err
	}
	defer cep.free()
	var log senoneLog
	defer log.free()
	out, err := s.verifyCep(ctx, d, cep, &log, from, challenge, lang)
	if err != nil {
		return Verification{}, err
	}
	out.Duration = res.Duration
	return out, nil
}

// verifyCep verifies challenge on the cepstra of the 16 kHz samples that
// start at sample from of the recording.
// The senone scores are computed by the forced alignment and logged in
// log, or, when log already holds them (an earlier search of the same
// cepstra logged them), read from it.
func (s *Sphinx) verifyCep(ctx context.Context, d *decoder, cep cepstra, log *senoneLog, from int, challenge string, lang Lang) (Verification, error) {
	v := vocabularies[lang]
	res := Verification{Lang: lang, Model: EnglishModelVersion + "+" + string(lang)}
	if err := d.setForced(v, challenge); err != nil {
		return Verification{}, err
	}
	var forced []segment
	var err error
	if log.buf == nil {
		forced, err = d.runLogged(searchForced, cep, log)
	} else {
		forced, err = d.runScores(searchForced, log)
	}
	if err != nil {
		return Verification{}, err
	}
	fAscr, fDigits, fFrames := pathScore(forced)
	if fDigits != challenge || fFrames == 0 {
		// The search found no complete path through the challenge (it
		// gives a partial best path when the beam lost every full one).
		res.Reason = "rejected"
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return Verification{}, err
	}
	free, err := d.runScores(freeSearch(lang), log)
	if err != nil {
		return Verification{}, err
	}
	dAscr, heard, _ := pathScore(free)
	if err := ctx.Err(); err != nil {
		return Verification{}, err
	}
	phones, err := d.runScores(searchPhones, log)
	if err != nil {
		return Verification{}, err
	}
	pAscr, _, _ := pathScore(phones)
	sc := scores{
		digits: float64(fAscr-dAscr) / float64(fFrames),
		phones: float64(fAscr-pAscr) / float64(fFrames),
		word:   math.Inf(1),
		wordD:  math.Inf(1),
		wordP:  math.Inf(1),
		heard:  heard,
	}
	if heard == challenge {
		// The best digit string is the challenge itself: the best
		// competing (other) digits score lower, so the ratio against
		// them is positive. (The two searches' scores of the same word
		// sequence can differ by their search structure: a word's
		// cross-word contexts, the grammar's null transitions.)
		sc.digits = math.Max(sc.digits, 0)
	}
	var wordAscr int64
	for _, sg := range forced {
		n := sg.ef - sg.sf + 1
		if _, ok := digitOf(sg.word); ok {
			wordAscr += int64(sg.ascr)
			sc.word = math.Min(sc.word, float64(sg.ascr)/float64(n))
			sc.wordD = math.Min(sc.wordD, (float64(sg.ascr)-spanScore(free, sg.sf, sg.ef))/float64(n))
			sc.wordP = math.Min(sc.wordP, (float64(sg.ascr)-spanScore(phones, sg.sf, sg.ef))/float64(n))
			if sc.short == 0 || n < sc.short {
				sc.short = n
			}
		} else if sg.word != "<sil>" && sg.word != "(NULL)" {
			sc.filler += n
		}
	}
	sc.mean = float64(wordAscr) / float64(fFrames)
	th := verifyThresholds[lang]
	res.Score = th.margin(sc)
	res.scores = sc
	switch {
	case res.Score >= 0:
		res.Accepted, res.Reason = true, "match"
		offset := time.Duration(from) * time.Second / SampleRate
		for _, sg := range forced {
			if c, ok := digitOf(sg.word); ok {
				res.Words = append(res.Words, Word{Digit: c,
					Start: offset + time.Duration(sg.sf)*frameDur,
					End:   offset + time.Duration(sg.ef+1)*frameDur})
			}
		}
	case th.acoustic(sc) >= 0 && len(heard) > 0:
		// Speech that fits digits well, but not the challenge's.
		res.Reason = "mismatch"
	default:
		res.Reason = "rejected"
	}
	return res, nil
}
