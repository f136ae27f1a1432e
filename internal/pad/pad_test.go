package pad_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"image"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/biometric/speech"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/internal/pad"
	"github.com/shenfen/shenfen/internal/synth"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/engines"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store/storetest"
)

// The presentation-attack suite. Every presentation goes through the
// enrollment HTTP API (challenge, then the signed multipart submission, as
// the wallet sends it) to a proofing.Service with the real face engine and
// speech recogniser; only the rate limits are off (the suite makes many
// attempts per citizen). The citizens are the people of the shared face set
// with at least two photos: one is the registry portrait, the others are
// what their phone's camera sees (and what an attacker found of them).
//
// SHENFEN_PAD_ATTEMPTS (default 2) attempts per attack species and
// SHENFEN_PAD_GENUINE (default 3) genuine sessions; SHENFEN_PAD_REPORT
// names a file to write the ISO/IEC 30107-3 table to.

type citizen struct {
	rec      registry.Record
	portrait *synth.Photo
	camera   []*synth.Photo // other photos of the person
	earlier  *synth.Session // the last genuine session submitted (for replays)
}

type world struct {
	srv      *httptest.Server
	store    proofing.Store
	speech   proofing.DigitRecognizer
	citizens []*citizen
	skipped  []string
}

type recordMap map[registry.IDNumber]registry.Record

func (m recordMap) Get(_ context.Context, id registry.IDNumber) (registry.Record, error) {
	r, ok := m[id]
	if !ok {
		return registry.Record{}, registry.ErrNotFound
	}
	return r, nil
}

func (m recordMap) Index(id registry.IDNumber) []byte { return []byte("idx:" + string(id)) }

type signers struct{ iss *credtest.Issuer }

func (s signers) Chain(context.Context) (crypto.Signer, []*x509.Certificate, error) {
	return s.iss.Signer(), s.iss.Chain, nil
}

// sameShot is the face distance under which two files are one photograph
// (resized or recompressed), not two photos of a person.
const sameShot = 0.25

func newWorld(t *testing.T) *world {
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (scripts/setup.d/enrollment.debs): %v", tool, err)
		}
	}
	dir, err := face.DefaultModelDir()
	if err != nil {
		t.Fatal(err)
	}
	fe, err := face.Load(dir)
	if err != nil {
		t.Fatalf("face engine (scripts/setup.sh installs the model): %v", err)
	}
	rec, err := speech.NewSphinx(speech.SphinxConfig{})
	if err != nil {
		t.Fatalf("speech recogniser (scripts/setup.sh installs pocketsphinx): %v", err)
	}
	faceChecker, speechChecker := engines.Face{Engine: fe}, engines.Speech{Verifier: rec}
	w := &world{speech: speechChecker}
	ctx := context.Background()
	loc := synth.EngineLocator{Engine: fe}
	faces := credtest.FacesDir()
	people, err := os.ReadDir(faces)
	if err != nil {
		t.Fatalf("face photos (SHENFEN_FACES_DIR): %v", err)
	}
	records := recordMap{}
	for i, p := range people {
		if !p.IsDir() || p.Name() == "group" {
			continue
		}
		files, _ := filepath.Glob(filepath.Join(faces, p.Name(), "*"))
		slices.Sort(files)
		type shot struct {
			photo *synth.Photo
			desc  face.Descriptor
			raw   []byte
		}
		var shots []shot
		for _, f := range files {
			ext := strings.ToLower(filepath.Ext(f))
			if (ext != ".jpg" && ext != ".jpeg" && ext != ".png") || strings.Contains(f, "small") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			img, _, err := image.Decode(bytes.NewReader(b))
			if err != nil {
				continue
			}
			fc, err := fe.Analyze(ctx, img)
			if err != nil {
				w.skipped = append(w.skipped, fmt.Sprintf("%s/%s: %v", p.Name(), filepath.Base(f), err))
				continue
			}
			ph, err := synth.LoadPhoto(ctx, loc, p.Name()+"/"+filepath.Base(f), b)
			if err != nil {
				continue
			}
			shots = append(shots, shot{ph, fc.Descriptor, b})
		}
		if len(shots) < 2 {
			continue
		}
		c := &citizen{portrait: shots[0].photo}
		for _, s := range shots[1:] {
			d := face.Distance(shots[0].desc, s.desc)
			switch {
			case d < sameShot:
				w.skipped = append(w.skipped, fmt.Sprintf("%s: the portrait's own photograph (distance %.3f)", s.photo.Name, d))
			case d >= face.Threshold:
				// A genuine pair the face matcher does not match: the face
				// stack's error rate (docs/biometrics.md), not this suite's.
				w.skipped = append(w.skipped, fmt.Sprintf("%s: does not match the portrait (distance %.3f)", s.photo.Name, d))
			default:
				c.camera = append(c.camera, s.photo)
			}
		}
		if len(c.camera) == 0 {
			continue
		}
		id, err := registry.MakeIDNumber("110105", time.Date(1970+i, 1, 1+i, 0, 0, 0, 0, time.UTC), 10+i)
		if err != nil {
			t.Fatal(err)
		}
		tmpl, _ := shots[0].desc.MarshalBinary()
		c.rec = registry.Record{IDNumber: id, Name: p.Name(), Sex: id.Sex(), BirthDate: id.BirthDate(), Address: "北京市东城区 1 号",
			Authority: "北京市公安局东城分局", ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Status: registry.StatusValid,
			Portrait: shots[0].raw, PortraitType: "image/jpeg", FaceTemplate: tmpl}
		records[id] = c.rec
		w.citizens = append(w.citizens, c)
	}
	if len(w.citizens) < 2 {
		t.Fatalf("the suite needs two people with two matching photos each in %s; found %d", faces, len(w.citizens))
	}
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{9}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	iss, err := credtest.NewIssuer("pad", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	w.store = storetest.SQLite(t).Proofing()
	svc, err := proofing.New(proofing.Config{Store: w.store, Records: records, Face: faceChecker, Speech: speechChecker,
		Status: &proofingtest.Status{}, Sealer: sealer})
	if err != nil {
		t.Fatal(err)
	}
	p := credential.ProfileCN
	api := &oid4vc.API{Issuer: credtest.IssuerURL, Proofing: svc, VCT: p.VCT, DocType: p.DocType, Namespace: p.Namespace,
		Cards: &oid4vc.Issuer{ID: credtest.IssuerURL, Profile: p, Records: records, Proofing: svc, Signers: signers{iss}}}
	mux := http.NewServeMux()
	api.Mount(mux)
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

// challenge is the answer to POST /api/enrollments.
type challenge struct {
	ID       string `json:"id"`
	Digits   string `json:"digits"`
	Language string `json:"language"`
	Light    struct {
		Steps []struct {
			Color      string `json:"color"`
			StartMS    int64  `json:"start_ms"`
			DurationMS int64  `json:"duration_ms"`
		} `json:"steps"`
		TotalMS int64 `json:"total_ms"`
	} `json:"light"`
}

func (c challenge) synth(t *testing.T) synth.Challenge {
	out := synth.Challenge{Digits: c.Digits, Lang: synth.Lang(c.Language)}
	for _, s := range c.Light.Steps {
		col, err := synth.ParseColor(s.Color)
		if err != nil {
			t.Fatal(err)
		}
		out.Light = append(out.Light, synth.Step{Color: col, Start: time.Duration(s.StartMS) * time.Millisecond,
			Duration: time.Duration(s.DurationMS) * time.Millisecond})
	}
	return out
}

func (w *world) start(t *testing.T, key *ecdsa.PrivateKey, lang synth.Lang) challenge {
	jwk, err := proofing.PublicJWK(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(map[string]any{"device_key": json.RawMessage(jwk), "language": string(lang)})
	resp, err := http.Post(w.srv.URL+"/api/enrollments", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c challenge
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("start: %d %v", resp.StatusCode, err)
	}
	if len(c.Light.Steps) == 0 {
		t.Fatalf("start: the server sent no light challenge: %+v", c)
	}
	return c
}

// submit posts the session as the wallet does and returns whether the
// enrollment was approved and the decision's reason.
func (w *world) submit(t *testing.T, key *ecdsa.PrivateKey, c *citizen, ch challenge, s synth.Session) (bool, string) {
	claims := proofing.RequestClaims{EnrollmentID: ch.ID, IDNumber: string(c.rec.IDNumber), Name: c.rec.Name,
		IssuedAt: time.Now().Unix(), Selfie: proofing.Digest(s.Selfie), Audio: proofing.Digest(s.Audio),
		FrameTimesMS: s.FrameTimesMS(), Language: string(s.Lang)}
	for _, f := range s.Frames {
		claims.Frames = append(claims.Frames, proofing.Digest(f))
	}
	jws, err := proofing.SignRequest(key, claims)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("request", jws)
	part := func(name, file string, b []byte) {
		p, _ := mw.CreateFormFile(name, file)
		p.Write(b)
	}
	part("selfie", "selfie.jpg", s.Selfie)
	part("audio", "digits.wav", s.Audio)
	for i, f := range s.Frames {
		part("frame", fmt.Sprintf("frame%d.jpg", i), f)
	}
	mw.Close()
	resp, err := http.Post(w.srv.URL+"/api/enrollments/"+ch.ID+"/submission", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	d, err := w.store.Decision(context.Background(), ch.ID)
	if resp.StatusCode == http.StatusOK {
		if err == nil && s.Species != synth.Genuine {
			t.Logf("%s approved; checks: %s", s.Species, d.Checks)
		}
		return true, "approved"
	}
	if err == nil && s.Species == synth.Genuine {
		t.Logf("genuine refused (%s); checks: %s", d.Reason, d.Checks)
	}
	if err != nil {
		// Refused before a decision (a malformed submission): the
		// problem type says why.
		var p struct {
			Type, Detail string
		}
		json.Unmarshal(b, &p)
		t.Logf("refused before a decision: %d %s: %s", resp.StatusCode, p.Type, p.Detail)
		return false, "http-" + strconv.Itoa(resp.StatusCode) + "-" + strings.TrimPrefix(p.Type, "https://shenfen.dev/problems/")
	}
	return false, string(d.Reason)
}

// voice picks the first synthetic voice the recogniser hears read the
// digits right, on its own, before the attempt: an attacker tunes the
// voice offline against the open recogniser, and a genuine citizen
// speaks clearly. It returns the first voice when none is heard.
func (w *world) voice(t *testing.T, digits string, lang synth.Lang) synth.Voice {
	ctx := context.Background()
	for _, v := range synth.Voices[lang] {
		if _, err := exec.LookPath(v.Engine); err != nil {
			continue
		}
		pcm, err := synth.Speak(ctx, v, digits)
		if err != nil {
			t.Fatal(err)
		}
		pad := make([]int16, synth.Rate/2)
		wav := synth.EncodeWAV(append(append(append([]int16(nil), pad...), pcm...), pad...), synth.Rate)
		if sp, err := w.speech.Verify(ctx, wav, digits, proofing.Language(lang)); err == nil && sp.Accepted {
			return v
		}
	}
	t.Logf("no synthetic voice is heard reading %s (%s) right; using the first", digits, lang)
	return synth.Voices[lang][0]
}

// attempt makes and submits one session of species sp for citizen c.
func (w *world) attempt(t *testing.T, sp synth.Species, c *citizen, lang synth.Lang, rng *rand.Rand) (bool, string, synth.Session) {
	key := credtest.HolderKey()
	ch := w.start(t, key, lang)
	g := &synth.Generator{Voice: w.voice(t, ch.Digits, lang)}
	cast := synth.Cast{Photo: c.camera[rng.IntN(len(c.camera))], Portrait: c.portrait, Earlier: c.earlier}
	for {
		o := w.citizens[rng.IntN(len(w.citizens))]
		if o != c {
			cast.Other = o.camera[rng.IntN(len(o.camera))]
			break
		}
	}
	s, err := g.Make(context.Background(), sp, ch.synth(t), cast, rng)
	if err != nil {
		t.Fatalf("%s: %v", sp, err)
	}
	ok, reason := w.submit(t, key, c, ch, s)
	return ok, reason, s
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestPresentationAttacks submits genuine sessions and every attack
// species: no attack may be approved, and the genuine sessions must be.
func TestPresentationAttacks(t *testing.T) {
	if testing.Short() {
		t.Skip("the presentation-attack suite runs the real engines on many sessions")
	}
	w := newWorld(t)
	for _, s := range w.skipped {
		t.Logf("not a camera photo: %s", s)
	}
	attempts, genuineN := envInt("SHENFEN_PAD_ATTEMPTS", 2), envInt("SHENFEN_PAD_GENUINE", 3)
	full := os.Getenv("SHENFEN_PAD_REPORT") != ""
	rng := rand.New(rand.NewPCG(uint64(envInt("SHENFEN_PAD_SEED", 1)), 30107))
	started := time.Now()

	// Genuine sessions first: each citizen's last one is what the replay
	// species replays.
	genuine := pad.Tally{Species: string(synth.Genuine)}
	//
	// The full run (SHENFEN_PAD_REPORT) counts every refusal of a genuine
	// session. The short run asserts what this suite is for, the presence
	// checks: a genuine session whose reading was not recognised (measured
	// on its own in docs/biometrics.md, "Spoken digits") reads new digits,
	// as a citizen would, up to genuineTries challenges; any other refusal
	// fails at once.
	const genuineTries = 3
	for i := range genuineN {
		c := w.citizens[i%len(w.citizens)]
		for try := 1; ; try++ {
			ok, reason, s := w.attempt(t, synth.Genuine, c, synth.English, rng)
			genuine.Add(ok, reason)
			t.Logf("genuine %d, try %d (%s, %s): %s", i+1, try, c.rec.Name, s.Voice, reason)
			if ok {
				c.earlier = &s
				break
			}
			if full {
				break
			}
			if reason == string(proofing.ReasonSpeech) && try < genuineTries {
				continue
			}
			t.Errorf("genuine session %d of %s refused: %s", i+1, c.rec.Name, reason)
			break
		}
	}
	var tallies []pad.Tally
	for _, sp := range synth.Attacks {
		tl := pad.Tally{Species: string(sp)}
		for i := range attempts {
			c := w.citizens[(i+int(rng.IntN(len(w.citizens))))%len(w.citizens)]
			if sp == synth.Replay && c.earlier == nil {
				// Replay needs an earlier genuine session of the person.
				for _, o := range w.citizens {
					if o.earlier != nil {
						c = o
						break
					}
				}
				if c.earlier == nil {
					t.Fatalf("no approved genuine session to replay")
				}
			}
			ok, reason, _ := w.attempt(t, sp, c, synth.English, rng)
			tl.Add(ok, reason)
			if ok {
				t.Errorf("attack %s %d on %s APPROVED", sp, i+1, c.rec.Name)
			} else {
				t.Logf("attack %s %d on %s: refused, %s", sp, i+1, c.rec.Name, reason)
			}
		}
		tallies = append(tallies, tl)
	}
	var table strings.Builder
	pad.WriteTable(&table, tallies, genuine)
	t.Logf("results (%s):\n%s", time.Since(started).Round(time.Second), table.String())
	if out := os.Getenv("SHENFEN_PAD_REPORT"); out != "" {
		var people []string
		for _, c := range w.citizens {
			people = append(people, fmt.Sprintf("%s (%d camera photos)", c.rec.Name, len(c.camera)))
		}
		meta := fmt.Sprintf("%d attempts per attack species, %d genuine sessions; citizens: %s; %s, %d CPUs, %s; %s\n\n",
			attempts, genuineN, strings.Join(people, ", "), runtime.Version(), runtime.NumCPU(), cpuModel(),
			time.Now().UTC().Format("2006-01-02 15:04 MST"))
		if err := os.WriteFile(out, []byte(meta+table.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestMandarinGenuine: a genuine session read in Mandarin (the wallet's
// language when its page is in Chinese) is approved, and the same face
// with no motion is refused by a check after the reading.
//
// The recogniser hears Mandarin digits read by the synthetic voices only
// about a third of the time (docs/biometrics.md, "Spoken digits"), so some
// challenges have no voice it hears right. A citizen whose reading is not
// recognised gets new digits and reads again; the test does the same, up
// to mandarinTries challenges, and only for a speech-mismatch: any other
// refusal of the genuine session fails at once.
func TestMandarinGenuine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real engines")
	}
	const mandarinTries = 8
	w := newWorld(t)
	rng := rand.New(rand.NewPCG(2, 30107))
	c := w.citizens[0]
	approved := false
	for try := 1; try <= mandarinTries && !approved; try++ {
		ok, reason, s := w.attempt(t, synth.Genuine, c, synth.Mandarin, rng)
		t.Logf("genuine in Mandarin, try %d (%s, %s): %s", try, c.rec.Name, s.Voice, reason)
		// Lip sync needs the mouth open inside every digit's span, and
		// the spans of Mandarin digits come from the same weak alignment:
		// about 1 genuine Mandarin session in 30 was refused by it in
		// CI runs (never in English in the 100-session report). Like a
		// speech refusal, the citizen then reads new digits.
		if !ok && reason != string(proofing.ReasonSpeech) && reason != string(proofing.ReasonSync) {
			t.Fatalf("a genuine session read in Mandarin refused by %s", reason)
		}
		approved = ok
	}
	if !approved {
		t.Errorf("a genuine session read in Mandarin not recognised in %d challenges", mandarinTries)
	}
	for try := 1; try <= mandarinTries; try++ {
		ok, reason, _ := w.attempt(t, synth.TTSStill, c, synth.Mandarin, rng)
		if ok {
			t.Fatalf("a still picture with a Mandarin TTS voice APPROVED")
		}
		t.Logf("still picture, Mandarin TTS, try %d: refused, %s", try, reason)
		if reason != string(proofing.ReasonSpeech) {
			return // refused by a check after the reading
		}
	}
	t.Logf("the still picture's reading was never recognised, so no later check was reached")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			if _, v, ok := strings.Cut(l, ":"); ok {
				return strings.TrimSpace(v)
			}
		}
	}
	return "unknown CPU"
}
