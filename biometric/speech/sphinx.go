//go:build cgo

package speech

/*
#cgo pkg-config: pocketsphinx sphinxbase
#include <stdlib.h>
#include <pocketsphinx.h>
#include <sphinxbase/err.h>

static ps_decoder_t *sf_init(int argc, char **argv) {
	err_set_logfp(NULL);
	cmd_ln_t *cfg = cmd_ln_parse_r(NULL, ps_args(), argc, argv, TRUE);
	if (cfg == NULL) return NULL;
	ps_decoder_t *ps = ps_init(cfg);
	cmd_ln_free_r(cfg);
	return ps;
}

// sf_decode runs one whole utterance through the named search.
// sf_add_phones adds one dictionary word per phone, "ph_<phone>".
static int sf_add_phones(ps_decoder_t *ps, char **words, char **phones, int n) {
	for (int i = 0; i < n; i++) {
		if (ps_add_word(ps, words[i], phones[i], i == n - 1) < 0) return -1;
	}
	return 0;
}

// sf_set_phones_search adds the phone-loop search with its own beams:
// the JSGF search reads them from the decoder's configuration when it is
// created, so they are set for its creation and restored after.
static int sf_set_phones_search(ps_decoder_t *ps, const char *name, const char *jsgf, double beam, double pbeam, double wbeam, long maxhmmpf) {
	cmd_ln_t *cfg = ps_get_config(ps);
	double b0 = cmd_ln_float_r(cfg, "-beam"), p0 = cmd_ln_float_r(cfg, "-pbeam"), w0 = cmd_ln_float_r(cfg, "-wbeam");
	long m0 = cmd_ln_int_r(cfg, "-maxhmmpf");
	cmd_ln_set_float_r(cfg, "-beam", beam);
	cmd_ln_set_float_r(cfg, "-pbeam", pbeam);
	cmd_ln_set_float_r(cfg, "-wbeam", wbeam);
	cmd_ln_set_int_r(cfg, "-maxhmmpf", maxhmmpf);
	int rc = ps_set_jsgf_string(ps, name, jsgf);
	cmd_ln_set_float_r(cfg, "-beam", b0);
	cmd_ln_set_float_r(cfg, "-pbeam", p0);
	cmd_ln_set_float_r(cfg, "-wbeam", w0);
	cmd_ln_set_int_r(cfg, "-maxhmmpf", m0);
	return rc;
}

static int sf_decode(ps_decoder_t *ps, const char *search, const int16 *pcm, size_t n) {
	if (ps_set_search(ps, search) < 0) return -1;
	if (ps_start_utt(ps) < 0) return -2;
	if (ps_process_raw(ps, pcm, n, FALSE, TRUE) < 0) { ps_end_utt(ps); return -3; }
	if (ps_end_utt(ps) < 0) return -4;
	return 0;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"
)

// ModelVersion names the recogniser, acoustic model, grammar and rejection
// settings of [Sphinx.Digits]; decisions record it so a change of any of
// them is visible. v3: the four digits heard are verified as a challenge
// (see [VerifyModelVersion]).
const ModelVersion = "pocketsphinx-5prealpha/cmusphinx-en-us-ptm/jsgf-4digits+verify/v3"

// DefaultModelDir is where Debian's pocketsphinx-en-us package puts the
// US English model.
const DefaultModelDir = "/usr/share/pocketsphinx/model/en-us"

// SphinxConfig configures [NewSphinx]. Zero fields take defaults.
type SphinxConfig struct {
	// ModelDir holds en-us/ (the acoustic model), cmudict-en-us.dict and
	// en-us-phone.lm.bin.
	ModelDir string
	// Decoders bounds how many recognitions run at once (each decoder holds
	// its own copy of the model, about 40 MB); default GOMAXPROCS.
	Decoders int
}

// Sphinx is the PocketSphinx [Recognizer]. Decoders are not thread-safe, so
// Sphinx keeps a pool of them, created on demand up to SphinxConfig.Decoders.
type Sphinx struct {
	args    []string
	phoneLM string
	size    int
	idle    chan *decoder
	mu      sync.Mutex
	created int
	closed  bool
}

type decoder struct {
	ps *C.ps_decoder_t
}

const (
	searchDigits = "digits"
	searchPhones = "phones"
)

var digitWords = map[string]byte{
	"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3',
	"four": '4', "five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9',
}

const grammar = `#JSGF V1.0;
grammar digits;
public <digits> = <d> <d> <d> <d>;
<d> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
`

// phoneSet is the model's phone inventory; the phone loop is every
// sequence of them, the alternative hypothesis to "four digits".
var phoneSet = strings.Fields("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y Z ZH")

var phoneLoopGrammar = func() string {
	var w []string
	for _, p := range phoneSet {
		w = append(w, "ph_"+strings.ToLower(p))
	}
	return "#JSGF V1.0;\ngrammar phones;\npublic <loop> = <p>+;\n<p> = " + strings.Join(w, " | ") + ";\n"
}()

func addPhones(ps *C.ps_decoder_t) error {
	n := len(phoneSet)
	words := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
	prons := C.malloc(C.size_t(n) * C.size_t(unsafe.Sizeof(uintptr(0))))
	defer C.free(words)
	defer C.free(prons)
	ws := unsafe.Slice((**C.char)(words), n)
	pr := unsafe.Slice((**C.char)(prons), n)
	for i, p := range phoneSet {
		ws[i] = C.CString("ph_" + strings.ToLower(p))
		pr[i] = C.CString(p)
	}
	defer func() {
		for i := range n {
			C.free(unsafe.Pointer(ws[i]))
			C.free(unsafe.Pointer(pr[i]))
		}
	}()
	if C.sf_add_phones(ps, (**C.char)(words), (**C.char)(prons), C.int(n)) < 0 {
		return errors.New("speech: pocketsphinx refused the phone words")
	}
	return nil
}

// ErrClosed is returned by a [Sphinx] used after Close.
var ErrClosed = errors.New("speech: recogniser closed")

// NewSphinx checks the model files and loads a first decoder so that a
// broken installation fails at start-up, not at the first enrollment.
func NewSphinx(cfg SphinxConfig) (*Sphinx, error) {
	if cfg.ModelDir == "" {
		cfg.ModelDir = DefaultModelDir
	}
	if cfg.Decoders <= 0 {
		cfg.Decoders = runtime.GOMAXPROCS(0)
	}
	hmm := filepath.Join(cfg.ModelDir, "en-us")
	dict := filepath.Join(cfg.ModelDir, "cmudict-en-us.dict")
	phoneLM := filepath.Join(cfg.ModelDir, "en-us-phone.lm.bin")
	for _, f := range []string{filepath.Join(hmm, "mdef"), dict, phoneLM} {
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("speech: model: %w", err)
		}
	}
	s := &Sphinx{
		args: []string{"shenfen",
			"-hmm", hmm,
			"-dict", dict,
			"-samprate", "16000",
			// Spectral noise subtraction estimates the noise from the
			// first frames; on clean recordings it eats fricatives
			// ("seven" heard as "one").
			"-remove_noise", "no",
			// The front end's voice activity detector drops frames it
			// takes for silence; word times must count every frame.
			"-remove_silence", "no",
			// Every senone is scored in every frame, so that each
			// frame's scores are relative to the same best senone in
			// every search and paths of different searches compare.
			"-compallsen", "yes",
			"-bestpath", "no",
			"-topn", "2",
			"-logfn", os.DevNull,
		},
		phoneLM: phoneLM,
		size:    cfg.Decoders,
		idle:    make(chan *decoder, cfg.Decoders),
		created: 1,
	}
	d, err := s.newDecoder()
	if err != nil {
		return nil, err
	}
	s.idle <- d
	return s, nil
}

func (s *Sphinx) newDecoder() (*decoder, error) {
	argv := make([]*C.char, len(s.args))
	for i, a := range s.args {
		argv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range argv {
			C.free(unsafe.Pointer(p))
		}
	}()
	ps := C.sf_init(C.int(len(argv)), (**C.char)(unsafe.Pointer(&argv[0])))
	if ps == nil {
		return nil, errors.New("speech: pocketsphinx failed to load the model")
	}
	d := &decoder{ps: ps}
	name, gram := C.CString(searchDigits), C.CString(grammar)
	phones := C.CString(searchPhones)
	defer C.free(unsafe.Pointer(name))
	defer C.free(unsafe.Pointer(gram))
	defer C.free(unsafe.Pointer(phones))
	if C.ps_set_jsgf_string(ps, name, gram) < 0 {
		d.free()
		return nil, errors.New("speech: pocketsphinx rejected the digit grammar")
	}
	if err := addPhones(ps); err != nil {
		d.free()
		return nil, err
	}
	if err := addVocabularies(ps); err != nil {
		d.free()
		return nil, err
	}
	if !hasAcmod(ps) {
		d.free()
		return nil, errors.New("speech: this libpocketsphinx does not have the 5prealpha decoder layout that logging senone scores relies on")
	}
	loop := C.CString(phoneLoopGrammar)
	defer C.free(unsafe.Pointer(loop))
	if C.sf_set_phones_search(ps, phones, loop, C.double(phoneBeam), C.double(phonePBeam), C.double(phoneWBeam), C.long(phoneMaxHMMs)) < 0 {
		d.free()
		return nil, errors.New("speech: pocketsphinx rejected the phone loop")
	}
	return d, nil
}

// Beams of the phone-loop search (PocketSphinx's -beam, -pbeam, -wbeam and
// -maxhmmpf; the digit grammar keeps the defaults 1e-48, 1e-48, 7e-29 and
// 30000). The loop keeps nearly every senone of the model active, so its
// search costs about four times the grammar's; narrower beams cut that by
// about a third. docs/biometrics.md gives the effect on acceptance.
const (
	phoneBeam    = 1e-30
	phonePBeam   = 1e-30
	phoneWBeam   = 1e-20
	phoneMaxHMMs = 30000
)

func (d *decoder) free() { C.ps_free(d.ps) }

func (s *Sphinx) acquire(ctx context.Context) (*decoder, error) {
	select {
	case d := <-s.idle:
		return d, nil
	default:
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.created < s.size {
		s.created++
		s.mu.Unlock()
		d, err := s.newDecoder()
		if err != nil {
			s.mu.Lock()
			s.created--
			s.mu.Unlock()
		}
		return d, err
	}
	s.mu.Unlock()
	select {
	case d := <-s.idle:
		return d, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Sphinx) release(d *decoder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		d.free()
		s.created--
		return
	}
	s.idle <- d
}

// Close frees the idle decoders; decoders in use are freed when their
// recognition ends. Later calls to Digits return ErrClosed.
func (s *Sphinx) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for {
		select {
		case d := <-s.idle:
			d.free()
			s.created--
		default:
			return nil
		}
	}
}

// segment is one word (or phone) of a decoded path.
type segment struct {
	word   string
	sf, ef int
	ascr   int32
}

// Digits implements [Recognizer]. pcm must be 16 kHz. It recognises four
// digits with a free four-digit grammar, then verifies them as if they were
// the challenge (see [Sphinx.Verify]): Result.Score is the verification's
// margin and Confidence is exp(Score/10), capped at 1.
//
// Deprecated: use [Sphinx.Verify], which checks the challenge itself and
// gives word times.
func (s *Sphinx) Digits(ctx context.Context, pcm []int16, sampleRate int) (Result, error) {
	if sampleRate != SampleRate {
		return Result{}, fmt.Errorf("%w: recogniser needs %d Hz, got %d", ErrUnsupportedFormat, SampleRate, sampleRate)
	}
	res := Result{Model: ModelVersion}
	if len(pcm) == 0 {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	d, err := s.acquire(ctx)
	if err != nil {
		return Result{}, err
	}
	defer s.release(d)
	from, to := voicedSpan(pcm, sampleRate)
	cep, err := d.cepstra(condition(pcm[from:to]))
	if err != nil {
		return Result{}, err
	}
	defer cep.free()
	var log senoneLog
	defer log.free()
	gram, err := d.runLogged(searchDigits, cep, &log)
	if err != nil {
		return Result{}, err
	}
	res.Frames = cep.n
	_, heard, frames := pathScore(gram)
	if len(heard) != ChallengeLen || frames == 0 {
		return res, nil
	}
	res.Digits, res.SpeechFrames = heard, frames
	v, err := s.verifyCep(ctx, d, cep, &log, from, heard, English)
	if err != nil {
		return Result{}, err
	}
	res.Score = v.Score
	res.Confidence = math.Min(1, math.Exp(res.Score/10))
	res.Accepted = v.Accepted
	return res, nil
}
