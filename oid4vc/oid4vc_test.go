package oid4vc_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/proofing/proofingtest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

type signers struct{ iss *credtest.Issuer }

func (s signers) Chain(context.Context) (crypto.Signer, []*x509.Certificate, error) {
	return s.iss.Signer(), s.iss.Chain, nil
}

type disclosures struct {
	mu   sync.Mutex
	list []audit.Disclosure
}

func (d *disclosures) Record(_ context.Context, x audit.Disclosure) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.list = append(d.list, x)
	return uint64(len(d.list)), nil
}

// Env is a server with the HTTP API on test doubles for the engines and
// real credential issuance and verification.
type env struct {
	srv         *httptest.Server
	api         *oid4vc.API
	store       proofing.Store
	checker     *credtest.Status
	disclosures *disclosures
	person      registry.Record
	// desks is the verifier registry; desk is the token of a desk
	// entitled to every claim of the card, bar one entitled to the age
	// claims only.
	desks      *verifier.Registry
	ring       *keys.Ring
	root       []byte // the card issuer's root certificate (DER)
	desk, bar  string
	deskClient string
	db         *store.DB
	// lists are the status lists of single-use credentials.
	lists *status.Service
	// ahead moves the server's clock forward (nanoseconds).
	ahead atomic.Int64
}

func newEnv(t testing.TB, face proofing.FaceChecker, speech proofing.DigitRecognizer, recs proofing.RecordSource, person registry.Record) *env {
	t.Helper()
	iss, err := credtest.NewIssuer("test", time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{9}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	e := &env{store: db.Proofing(), checker: &credtest.Status{}, disclosures: &disclosures{}, person: person,
		db: db, lists: status.NewService(db.Status(), nil, credtest.IssuerURL+"/status"), root: iss.Root.Raw}
	status := &proofingtest.Status{OnRevoke: func(ref proofing.StatusRef) { e.checker.Set(ref.URI, ref.Index, credential.StatusInvalid) }}
	svc, err := proofing.New(proofing.Config{Store: e.store, Records: recs, Face: face, Speech: speech, Status: status, Sealer: sealer,
		Clock: func() time.Time { return time.Now().Add(time.Duration(e.ahead.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	p := credential.ProfileCN
	e.api = &oid4vc.API{Issuer: credtest.IssuerURL, Proofing: svc, VCT: p.VCT, DocType: p.DocType, Namespace: p.Namespace,
		Cards: &oid4vc.Issuer{ID: credtest.IssuerURL, Profile: p, Records: recs, Proofing: svc, Signers: signers{iss}, Status: e.lists},
		Verifier: oid4vc.Verifiers{
			SDJWT: &sdjwt.Verifier{Anchors: iss.Anchors(), Status: e.checker},
			Mdoc:  &mdoc.Verifier{Anchors: iss.Anchors(), Status: e.checker},
		},
		Requests: e.store.(proofing.VerifierStore), Sealer: sealer, Disclosures: e.disclosures}
	e.registerDesks(t, sealer)
	e.api.Desks = e.desks
	mux := http.NewServeMux()
	e.api.Mount(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

// registerDesks makes the authority's key ring and registers two desks.
func (e *env) registerDesks(t testing.TB, sealer *seal.Sealer) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "keys")
	ring, err := keys.Open(context.Background(), dir, keys.NewFileProvider(dir, sealer), keys.Config{Issuer: credtest.IssuerURL})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, c := range credential.ProfileCN.Claims() {
		if !slices.Contains(all, c.JWT[0]) {
			all = append(all, c.JWT[0])
		}
	}
	u, _ := url.Parse(credtest.IssuerURL)
	e.ring = ring
	e.desks = &verifier.Registry{Store: storetest.SQLite(t).Verifiers(), CA: ring, Claims: all, Host: u.Hostname()}
	var claims []string
	for _, c := range all {
		if c == "picture" {
			c += "?"
		}
		claims = append(claims, c)
	}
	d, tok, err := e.desks.Register(context.Background(), verifier.Spec{ID: "front-desk-3", Kind: verifier.Desk,
		Name: verifier.Text{Zh: "三号前台", En: "Front desk 3"}, Purpose: verifier.Text{Zh: "入住登记", En: "Check-in"}, Claims: strings.Join(claims, ",")})
	if err != nil {
		t.Fatal(err)
	}
	e.desk, e.deskClient = tok, d.ClientID()
	_, e.bar, err = e.desks.Register(context.Background(), verifier.Spec{ID: "bar", Kind: verifier.Desk,
		Name: verifier.Text{Zh: "酒吧", En: "Bar"}, Purpose: verifier.Text{Zh: "年龄核验", En: "Age check"}, Claims: "age_equal_or_over"})
	if err != nil {
		t.Fatal(err)
	}
}

// ask posts a verifier request as the desk with token tok (e.desk when
// empty).
func (e *env) ask(t *testing.T, body any, tok ...string) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/verifier/requests", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	token := e.desk
	if len(tok) > 0 {
		token = tok[0]
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp, decode(t, resp)
}

// zhang is a registry person with a real portrait (for issuance); the
// doubles identify faces by colour, his is FaceTemplate.
func zhang(t *testing.T) registry.Record {
	jpg, _, err := credtest.Portrait()
	if err != nil {
		t.Skipf("no face photos: %v", err)
	}
	return registry.Record{IDNumber: "11010519491231002X", Name: "张三", Sex: registry.Female,
		BirthDate: time.Date(1949, 12, 31, 0, 0, 0, 0, time.UTC), Ethnicity: "汉", Address: "北京市朝阳区 1 号",
		Authority: "北京市公安局朝阳分局", ValidFrom: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		Status: registry.StatusValid, Portrait: jpg, PortraitType: "image/jpeg", FaceTemplate: []byte{200, 10, 10}}
}

func doubleEnv(t *testing.T) *env {
	p := zhang(t)
	cancelled := p
	cancelled.IDNumber, cancelled.Status = "440106198001010019", registry.StatusCancelled
	return newEnv(t, &proofingtest.Face{}, proofingtest.Speech{},
		proofingtest.Records{p.IDNumber: p, cancelled.IDNumber: cancelled}, p)
}

// parts is what a wallet submits.
type parts struct {
	id, name string
	selfie   []byte
	// capture, when set, takes a new selfie for each submission (instead
	// of selfie).
	capture func() []byte
	audio   func(digits string) []byte
	// video makes the frames and their times for a challenge and its
	// recording.
	video func(c chal, audio []byte) proofingtest.Clip
}

// chal is a challenge as the start response gives it.
type chal struct {
	digits string
	light  presence.Light
}

func honestParts(r registry.Record) parts {
	c := proofingtest.FaceColor(r.FaceTemplate)
	return parts{id: string(r.IDNumber), name: r.Name, selfie: proofingtest.Selfie(c),
		audio: func(d string) []byte { return []byte("said:" + d + "#" + proofing.RandomID(6)) },
		video: func(ch chal, _ []byte) proofingtest.Clip {
			return proofingtest.GenuineClip(c, ch.digits, ch.light, proofingtest.ClipOptions{})
		}}
}

// parseLight reads the start response's light challenge.
func parseLight(t testing.TB, m map[string]any) presence.Light {
	t.Helper()
	var l presence.Light
	lm, _ := m["light"].(map[string]any)
	steps, _ := lm["steps"].([]any)
	for _, st := range steps {
		sm := st.(map[string]any)
		c, err := presence.ParseHex(sm["color"].(string))
		if err != nil {
			t.Fatal(err)
		}
		l.Steps = append(l.Steps, presence.Step{Color: c, Start: time.Duration(sm["start_ms"].(float64)) * time.Millisecond,
			Duration: time.Duration(sm["duration_ms"].(float64)) * time.Millisecond})
	}
	if err := l.Validate(); err != nil || int64(lm["total_ms"].(float64)) != l.Total().Milliseconds() {
		t.Fatalf("light challenge %v: %v", lm, err)
	}
	return l
}

func postJSON(t *testing.T, url string, body any) (*http.Response, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return resp, decode(t, resp)
}

func decode(t *testing.T, resp *http.Response) map[string]any {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && json.Unmarshal(b, &m) != nil {
		t.Fatalf("%s: not JSON: %s", resp.Request.URL.Path, b)
	}
	return m
}

// start asks for a challenge for key.
func (e *env) start(t *testing.T, key *ecdsa.PrivateKey) (id string, c chal) {
	t.Helper()
	jwk, _ := proofing.PublicJWK(&key.PublicKey)
	resp, m := postJSON(t, e.srv.URL+"/api/enrollments", map[string]json.RawMessage{"device_key": jwk})
	if resp.StatusCode != http.StatusCreated || m["language"] != "en" {
		t.Fatalf("start: %d %v", resp.StatusCode, m)
	}
	return m["id"].(string), chal{digits: m["digits"].(string), light: parseLight(t, m)}
}

// submit posts the parts signed by key for enrollment id.
func (e *env) submit(t *testing.T, key *ecdsa.PrivateKey, id string, c chal, p parts) (*http.Response, map[string]any) {
	t.Helper()
	body, ctype := multipartBody(t, key, id, c, p, time.Now())
	resp, err := http.Post(e.srv.URL+"/api/enrollments/"+id+"/submission", ctype, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp, decode(t, resp)
}

func multipartBody(t testing.TB, key *ecdsa.PrivateKey, id string, c chal, p parts, now time.Time) ([]byte, string) {
	audio := p.audio(c.digits)
	clip := p.video(c, audio)
	if p.capture != nil {
		p.selfie = p.capture()
	}
	claims := proofing.RequestClaims{EnrollmentID: id, IDNumber: p.id, Name: p.name, IssuedAt: now.Unix(),
		Selfie: proofing.Digest(p.selfie), Audio: proofing.Digest(audio), FrameTimesMS: clip.Times, Language: "en"}
	for _, f := range clip.Frames {
		claims.Frames = append(claims.Frames, proofing.Digest(f))
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if key != nil {
		jws, err := proofing.SignRequest(key, claims)
		if err != nil {
			t.Fatal(err)
		}
		mw.WriteField("request", jws)
	}
	add := func(name, file string, b []byte) {
		w, _ := mw.CreateFormFile(name, file)
		w.Write(b)
	}
	add("selfie", "selfie.png", p.selfie)
	add("audio", "digits.wav", audio)
	for _, f := range clip.Frames {
		add("frame", "frame.png", f)
	}
	mw.Close()
	return buf.Bytes(), mw.FormDataContentType()
}

// collect runs the OpenID4VCI pre-authorized code flow for one
// configuration and returns the credential.
func (e *env) collect(t *testing.T, offer map[string]any, key *ecdsa.PrivateKey, configs ...string) []string {
	t.Helper()
	grants := offer["grants"].(map[string]any)
	code := grants[oid4vc.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
	resp, err := http.PostForm(e.srv.URL+"/vci/token", url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	tok := decode(t, resp)
	if resp.StatusCode != 200 || tok["token_type"] != "Bearer" {
		t.Fatalf("token: %d %v", resp.StatusCode, tok)
	}
	var out []string
	for _, cfg := range configs {
		status, m := e.credentialRequest(t, tok["access_token"].(string), cfg, key, e.freshNonce(t))
		if status != 200 {
			t.Fatalf("credential %s: %d %v", cfg, status, m)
		}
		out = append(out, m["credentials"].([]any)[0].(map[string]any)["credential"].(string))
	}
	return out
}

func (e *env) freshNonce(t *testing.T) string {
	resp, err := http.Post(e.srv.URL+"/vci/nonce", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, resp)["c_nonce"].(string)
}

func (e *env) credentialRequest(t *testing.T, token, cfg string, key *ecdsa.PrivateKey, nonce string) (int, map[string]any) {
	t.Helper()
	proof, err := oid4vc.MakeProof(key, credtest.IssuerURL, nonce, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"credential_configuration_id": cfg, "proofs": map[string]any{"jwt": []string{proof}}})
	req, _ := http.NewRequest("POST", e.srv.URL+"/vci/credential", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, decode(t, resp)
}

// enroll runs a whole approved enrollment and returns the offer.
func (e *env) enroll(t *testing.T, key *ecdsa.PrivateKey) map[string]any {
	t.Helper()
	id, digits := e.start(t, key)
	resp, m := e.submit(t, key, id, digits, honestParts(e.person))
	if resp.StatusCode != 200 || m["status"] != "approved" {
		t.Fatalf("submission: %d %v", resp.StatusCode, m)
	}
	if !strings.HasPrefix(m["credential_offer_uri"].(string), "openid-credential-offer://?credential_offer=") {
		t.Fatalf("offer uri %v", m["credential_offer_uri"])
	}
	return m["credential_offer"].(map[string]any)
}

func TestEnrollAndCollect(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	if offer["credential_issuer"] != credtest.IssuerURL {
		t.Fatalf("offer %v", offer)
	}
	creds := e.collect(t, offer, key, oid4vc.ConfigSDJWT, oid4vc.ConfigMdoc)

	// The SD-JWT VC is bound to the device key and carries the registry data.
	pres, err := sdjwt.Present(context.Background(), creds[0], []string{"given_name", "family_name", "id_number"}, key, "aud", "n1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.api.Verifier.VerifySDJWT(context.Background(), pres, "n1", "aud")
	if err != nil {
		t.Fatalf("verify issued SD-JWT VC: %v", err)
	}
	if v.Claims["family_name"] != "张" || v.Claims["given_name"] != "三" || v.Claims["id_number"] != string(e.person.IDNumber) || v.Status == nil {
		t.Fatalf("claims %v status %v", v.Claims, v.Status)
	}
	if !v.HolderKey.Equal(&key.PublicKey) {
		t.Fatal("card not bound to the device key")
	}
	ib, err := base64.RawURLEncoding.DecodeString(creds[1])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mdoc.Elements(ib); err != nil {
		t.Fatalf("mdoc IssuerSigned: %v", err)
	}
}

func TestMetadata(t *testing.T) {
	e := doubleEnv(t)
	for path, want := range map[string]string{
		"/.well-known/openid-credential-issuer":   `"credential_endpoint":"` + credtest.IssuerURL + `/vci/credential"`,
		"/.well-known/oauth-authorization-server": `"token_endpoint":"` + credtest.IssuerURL + `/vci/token"`,
	} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

func TestIssuanceRefusals(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	code := offer["grants"].(map[string]any)[oid4vc.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
	form := url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}}
	resp, _ := http.PostForm(e.srv.URL+"/vci/token", form)
	tok := decode(t, resp)["access_token"].(string)
	// The code is single-use.
	resp, _ = http.PostForm(e.srv.URL+"/vci/token", form)
	if m := decode(t, resp); resp.StatusCode != 400 || m["error"] != "invalid_grant" {
		t.Fatalf("code reuse: %d %v", resp.StatusCode, m)
	}
	resp, _ = http.PostForm(e.srv.URL+"/vci/token", url.Values{"grant_type": {"authorization_code"}, "code": {"x"}})
	if m := decode(t, resp); m["error"] != "unsupported_grant_type" {
		t.Fatalf("grant type: %v", m)
	}
	// Wrong token, wrong key, reused nonce, wrong configuration.
	if st, m := e.credentialRequest(t, "nope", oid4vc.ConfigSDJWT, key, e.freshNonce(t)); st != 401 || m["error"] != "invalid_token" {
		t.Fatalf("bad token: %d %v", st, m)
	}
	if st, m := e.credentialRequest(t, tok, oid4vc.ConfigSDJWT, credtest.HolderKey(), e.freshNonce(t)); st != 400 || m["error"] != "invalid_proof" {
		t.Fatalf("other key: %d %v", st, m)
	}
	if st, m := e.credentialRequest(t, tok, oid4vc.ConfigSDJWT, key, "made-up"); st != 400 || m["error"] != "invalid_nonce" {
		t.Fatalf("unknown nonce: %d %v", st, m)
	}
	if st, m := e.credentialRequest(t, tok, "pid_jwt_vc", key, e.freshNonce(t)); st != 400 || m["error"] != "unknown_credential_configuration" {
		t.Fatalf("unknown configuration: %d %v", st, m)
	}
	n := e.freshNonce(t)
	if st, m := e.credentialRequest(t, tok, oid4vc.ConfigSDJWT, key, n); st != 200 {
		t.Fatalf("good request: %d %v", st, m)
	}
	if st, m := e.credentialRequest(t, tok, oid4vc.ConfigMdoc, key, n); st != 400 || m["error"] != "invalid_nonce" {
		t.Fatalf("nonce reuse: %d %v", st, m)
	}
	if st, m := e.credentialRequest(t, tok, oid4vc.ConfigSDJWT, key, e.freshNonce(t)); st != 400 || m["error"] != "credential_request_denied" {
		t.Fatalf("collect twice: %d %v", st, m)
	}
}

// problemOf is the outward identity of a refusal: everything but the
// instance (which names the enrollment).
func problemOf(resp *http.Response, m map[string]any) string {
	return strings.Join([]string{resp.Status, resp.Header.Get("Content-Type"), m["type"].(string), m["title"].(string),
		m["detail"].(string)}, "|")
}

// spoilt is the honest video of person made with options o and then
// edited by fix (when not nil).
func spoilt(person registry.Record, o proofingtest.ClipOptions, fix func(c *proofingtest.Clip)) func(chal, []byte) proofingtest.Clip {
	return func(ch chal, _ []byte) proofingtest.Clip {
		c := proofingtest.GenuineClip(proofingtest.FaceColor(person.FaceTemplate), ch.digits, ch.light, o)
		if fix != nil {
			fix(&c)
		}
		return c
	}
}

// The largest submission the bounds allow (160 frames, their digests and
// times in the signed request) is accepted.
func TestLargestSubmission(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	id, c := e.start(t, key)
	p := honestParts(e.person)
	p.video = func(ch chal, _ []byte) proofingtest.Clip {
		// As many frames as fit the bound over the whole light sequence.
		o := proofingtest.ClipOptions{Every: ch.light.Total() / (proofing.MaxFrames - 1)}
		c := proofingtest.GenuineClip(proofingtest.FaceColor(e.person.FaceTemplate), ch.digits, ch.light, o)
		if len(c.Frames) < proofing.MaxFrames-3 || len(c.Frames) > proofing.MaxFrames {
			t.Fatalf("%d frames", len(c.Frames))
		}
		return c
	}
	if resp, m := e.submit(t, key, id, c, p); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, m)
	}
}

func TestSubmissionRefusals(t *testing.T) {
	e := doubleEnv(t)
	other := proofingtest.FaceColor([]byte{10, 200, 10})
	gray := color.RGBA{90, 90, 90, 255}
	refused := ""
	for _, tc := range []struct {
		name  string
		spoil func(p *parts)
		typ   string
	}{
		{"other person's photo", func(p *parts) { p.selfie = proofingtest.Image(other, other) }, "enrollment-refused"},
		{"no face", func(p *parts) { p.selfie = proofingtest.Image(gray, gray) }, "enrollment-refused"},
		{"unknown ID number", func(p *parts) { p.id = "110105194912310038" }, "enrollment-refused"},
		{"wrong name", func(p *parts) { p.name = "李四" }, "enrollment-refused"},
		{"cancelled record", func(p *parts) { p.id = "440106198001010019" }, "enrollment-refused"},
		{"wrong digits", func(p *parts) { p.audio = func(string) []byte { return []byte("said:0000x") } }, "speech-mismatch"},
		{"one digit changed", func(p *parts) {
			p.audio = func(d string) []byte { return []byte("said:" + d[:3] + string('0'+(d[3]-'0'+1)%10)) }
		}, "speech-mismatch"},
		{"still photo", func(p *parts) { p.video = spoilt(e.person, proofingtest.ClipOptions{Still: true}, nil) }, "enrollment-refused"},
		{"blind to the light", func(p *parts) { p.video = spoilt(e.person, proofingtest.ClipOptions{Blind: true}, nil) }, "enrollment-refused"},
		{"someone else in the video", func(p *parts) {
			p.video = func(ch chal, _ []byte) proofingtest.Clip {
				return proofingtest.GenuineClip(other, ch.digits, ch.light, proofingtest.ClipOptions{})
			}
		}, "enrollment-refused"},
		{"the portrait as selfie", func(p *parts) { p.selfie = proofingtest.PortraitCopy(proofingtest.FaceColor(e.person.FaceTemplate)) }, "enrollment-refused"},
		{"frame not an image", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Frames[1] = []byte("not an image") })
		}, "unsupported-media"},
		{"too few frames", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Frames, c.Times = c.Frames[:39], c.Times[:39] })
		}, "bad-request"},
		{"frame times missing", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Times = nil })
		}, "bad-request"},
		{"frame times not increasing", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Times[9] = c.Times[8] })
		}, "bad-request"},
		{"gap in the frames", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) {
				c.Frames, c.Times = append(c.Frames[:10:10], c.Frames[14:]...), append(c.Times[:10:10], c.Times[14:]...)
			})
		}, "bad-request"},
		{"frames end before the speech", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Frames, c.Times = c.Frames[:40], c.Times[:40] })
		}, "bad-request"},
		{"161 frames", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) {
				for len(c.Frames) <= proofing.MaxFrames {
					c.Frames = append(c.Frames, proofingtest.Frame(color.RGBA{200, 10, 10, 255}, color.RGBA{150, 110, 90, 255}, 0.1))
					c.Times = append(c.Times, c.Times[len(c.Times)-1]+20)
				}
			})
		}, "bad-request"},
		{"frame of 640x480", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) {
				var buf bytes.Buffer
				jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 640, 480)), nil)
				c.Frames[5] = buf.Bytes()
			})
		}, "unsupported-media"},
		{"frame as a PNG bomb header", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) {
				c.Frames[5] = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x00\x00\x00\x01\x00\x00\x08\x02\x00\x00\x00"), make([]byte, 64)...)
			})
		}, "unsupported-media"},
		{"frame too large", func(p *parts) {
			p.video = spoilt(e.person, proofingtest.ClipOptions{}, func(c *proofingtest.Clip) { c.Frames[2] = make([]byte, proofing.MaxFrameBytes+1) })
		}, "too-large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := credtest.HolderKey()
			id, digits := e.start(t, key)
			p := honestParts(e.person)
			tc.spoil(&p)
			resp, m := e.submit(t, key, id, digits, p)
			if m["type"] != "https://shenfen.dev/problems/"+tc.typ {
				t.Fatalf("%d %v, want %s", resp.StatusCode, m, tc.typ)
			}
			if tc.typ == "enrollment-refused" {
				got := problemOf(resp, m)
				if refused == "" {
					refused = got
				} else if got != refused {
					t.Fatalf("refusals differ:\n%s\n%s", got, refused)
				}
			}
		})
	}
}

func TestChallengeProblems(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	typ := func(m map[string]any) string {
		return strings.TrimPrefix(m["type"].(string), "https://shenfen.dev/problems/")
	}

	// Replay of an earlier challenge's submission, and reuse of a challenge.
	id, digits := e.start(t, key)
	body, ctype := multipartBody(t, key, id, digits, honestParts(e.person), time.Now())
	post := func(id string, body []byte, ctype string) (*http.Response, map[string]any) {
		resp, err := http.Post(e.srv.URL+"/api/enrollments/"+id+"/submission", ctype, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp, decode(t, resp)
	}
	if resp, m := post(id, body, ctype); resp.StatusCode != 200 {
		t.Fatalf("first: %v", m)
	}
	if resp, m := post(id, body, ctype); resp.StatusCode != 409 || typ(m) != "challenge-used" {
		t.Fatalf("reuse: %d %v", resp.StatusCode, m)
	}
	id2, _ := e.start(t, key)
	if resp, m := post(id2, body, ctype); resp.StatusCode != 401 || typ(m) != "bad-signature" {
		t.Fatalf("replay on a new challenge: %d %v", resp.StatusCode, m)
	}
	// Unsigned, and signed by another key.
	id3, d3 := e.start(t, key)
	b3, ct3 := multipartBody(t, nil, id3, d3, honestParts(e.person), time.Now())
	if resp, m := post(id3, b3, ct3); resp.StatusCode != 401 || typ(m) != "bad-signature" {
		t.Fatalf("unsigned: %d %v", resp.StatusCode, m)
	}
	b3, ct3 = multipartBody(t, credtest.HolderKey(), id3, d3, honestParts(e.person), time.Now())
	if resp, m := post(id3, b3, ct3); resp.StatusCode != 401 || typ(m) != "bad-signature" {
		t.Fatalf("wrongly signed: %d %v", resp.StatusCode, m)
	}
	// Unknown enrollment; malformed bodies.
	if resp, m := post("nope", body, ctype); resp.StatusCode != 404 || typ(m) != "enrollment-not-found" {
		t.Fatalf("unknown: %d %v", resp.StatusCode, m)
	}
	resp, err := http.Post(e.srv.URL+"/api/enrollments/"+id3+"/submission", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	if m := decode(t, resp); resp.StatusCode != 400 {
		t.Fatalf("json body: %d %v", resp.StatusCode, m)
	}
	for _, jwk := range []string{`{}`, `"x"`, `{"device_key":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`} {
		resp, err := http.Post(e.srv.URL+"/api/enrollments", "application/json", strings.NewReader(jwk))
		if err != nil {
			t.Fatal(err)
		}
		if m := decode(t, resp); resp.StatusCode != 400 {
			t.Fatalf("start %s: %d %v", jwk, resp.StatusCode, m)
		}
	}
}

// vpSession is one verifier request as the page and the wallet see it.
type vpSession struct {
	id, token string
	answer    func(state string) (int, map[string]any)
}

func (e *env) present(t *testing.T, sd string, key *ecdsa.PrivateKey, claims []string) vpSession {
	t.Helper()
	resp, m := e.ask(t, map[string]any{"claims": claims})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	s := vpSession{id: m["id"].(string), token: m["result_token"].(string)}
	qr, _ := url.Parse(m["qr"].(string))
	r2, err := http.Get(strings.Replace(qr.Query().Get("request_uri"), credtest.IssuerURL, e.srv.URL, 1))
	if err != nil {
		t.Fatal(err)
	}
	jwt, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if ct := r2.Header.Get("Content-Type"); ct != "application/oauth-authz-req+jwt" {
		t.Fatalf("request object type %q: %s", ct, jwt)
	}
	seg := strings.Split(string(jwt), ".")
	pb, _ := base64.RawURLEncoding.DecodeString(seg[1])
	var ro map[string]any
	json.Unmarshal(pb, &ro)
	if ro["client_id"] != qr.Query().Get("client_id") || ro["response_mode"] != "direct_post" || ro["state"] != s.id {
		t.Fatalf("request object %v", ro)
	}
	vp, err := sdjwt.Present(context.Background(), sd, claims, key, ro["client_id"].(string), ro["nonce"].(string), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	respURI := strings.Replace(ro["response_uri"].(string), credtest.IssuerURL, e.srv.URL, 1)
	vpTok, _ := json.Marshal(map[string][]string{"pid": {vp}})
	s.answer = func(state string) (int, map[string]any) {
		resp, err := http.PostForm(respURI, url.Values{"vp_token": {string(vpTok)}, "state": {state}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, decode(t, resp)
	}
	return s
}

func (e *env) result(t *testing.T, id, token string) (int, map[string]any) {
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/verifier/requests/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, decode(t, resp)
}

func TestVerifierFlow(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	sd := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)[0]
	claims := []string{"family_name", "given_name", "picture"}

	s := e.present(t, sd, key, claims)
	if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "pending" {
		t.Fatalf("before: %d %v", st, m)
	}
	if st, m := e.result(t, s.id, "wrong"); st != 401 {
		t.Fatalf("wrong result token: %d %v", st, m)
	}
	if st, m := s.answer("wrong-state"); st != 400 {
		t.Fatalf("wrong state: %d %v", st, m)
	}
	if st, m := s.answer(s.id); st != 200 {
		t.Fatalf("answer: %d %v", st, m)
	}
	st, m := e.result(t, s.id, s.token)
	got, _ := m["claims"].(map[string]any)
	if st != 200 || m["status"] != "verified" || got["family_name"] != "张" || got["given_name"] != "三" || got["picture"] == nil {
		t.Fatalf("result: %d %v", st, m)
	}
	if st, m := s.answer(s.id); st != 400 {
		t.Fatalf("second answer: %d %v", st, m)
	}
	if len(e.disclosures.list) != 1 {
		t.Fatalf("%d disclosures recorded", len(e.disclosures.list))
	}
	d := e.disclosures.list[0]
	if d.Channel != audit.ChannelOID4VP || d.RPName != "三号前台 (Front desk 3)" || d.RP != e.deskClient || d.Subject == "" || len(d.Claims) != 3 {
		t.Fatalf("disclosure %+v", d)
	}

	// Re-enrollment on a new device revokes the old card: its presentation
	// is refused as revoked.
	newKey := credtest.HolderKey()
	e.collect(t, e.enroll(t, newKey), newKey, oid4vc.ConfigSDJWT)
	s = e.present(t, sd, key, claims)
	if st, m := s.answer(s.id); st != 400 {
		t.Fatalf("revoked card accepted: %d %v", st, m)
	}
	if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "failed" || m["error"] != "revoked" {
		t.Fatalf("revoked result: %d %v", st, m)
	}
	if len(e.disclosures.list) != 1 {
		t.Fatalf("a refused presentation was recorded as a disclosure")
	}
}

// TestVerifierRequestLimit: creating verifier requests is rate limited per
// client address, with a Retry-After.
func TestVerifierRequestLimit(t *testing.T) {
	e := doubleEnv(t)
	e.api.VerifierLimit = proofing.NewLimiter(time.Hour, 2, 10)
	body := map[string]any{"claims": []string{"family_name"}}
	for i := range 2 {
		if resp, m := e.ask(t, body); resp.StatusCode != 201 {
			t.Fatalf("request %d: %d %v", i+1, resp.StatusCode, m)
		}
	}
	resp, m := e.ask(t, body)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.HasSuffix(m["type"].(string), "rate-limited") {
		t.Fatalf("third request: %d %v (Retry-After %q)", resp.StatusCode, m, resp.Header.Get("Retry-After"))
	}
}

// TestDeskRegistration: only registered desks ask, only for what they are
// entitled to, and their request objects are signed so that a wallet
// checks who asks (verifier.Checker, the wallet's algorithm).
func TestDeskRegistration(t *testing.T) {
	e := doubleEnv(t)
	ctx := context.Background()
	for name, tok := range map[string]string{"no token": "", "unknown token": "sfd_nope", "admin-like token": "tok"} {
		resp, m := e.ask(t, map[string]any{"claims": []string{"family_name"}}, tok)
		if resp.StatusCode != 401 || !strings.HasSuffix(fmt.Sprint(m["type"]), "unregistered-verifier") {
			t.Errorf("%s: %d %v", name, resp.StatusCode, m)
		}
	}
	resp, m := e.ask(t, map[string]any{"claims": []string{"age_equal_or_over", "id_number"}}, e.bar)
	if resp.StatusCode != 403 || !strings.HasSuffix(fmt.Sprint(m["type"]), "over-asking") || !strings.Contains(fmt.Sprint(m["detail"]), "id_number") {
		t.Fatalf("over-asking desk: %d %v", resp.StatusCode, m)
	}
	if resp, m := e.ask(t, map[string]any{"claims": []string{"age_equal_or_over"}}, e.bar); resp.StatusCode != 201 {
		t.Fatalf("entitled bar request: %d %v", resp.StatusCode, m)
	}

	resp, m = e.ask(t, map[string]any{"claims": []string{"family_name", "picture"}})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	qr, _ := url.Parse(m["qr"].(string))
	r2, err := http.Get(strings.Replace(qr.Query().Get("request_uri"), credtest.IssuerURL, e.srv.URL, 1))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	lookup := func(ctx context.Context, h string) (verifier.Public, error) {
		resp, err := http.Get(e.srv.URL + "/api/verifiers/" + url.PathEscape(h))
		if err != nil {
			return verifier.Public{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode == 404 {
			return verifier.Public{}, verifier.ErrNotFound
		}
		var p verifier.Public
		return p, json.NewDecoder(resp.Body).Decode(&p)
	}
	c := &verifier.Checker{Root: e.ring.Root(), Lookup: lookup}
	got, err := c.Check(ctx, string(obj), qr.Query().Get("client_id"))
	if err != nil {
		t.Fatalf("the desk's request does not pass the wallet's checks: %v", err)
	}
	if got.Verifier.Name.En != "Front desk 3" || got.Verifier.Purpose.Zh != "入住登记" || !slices.Equal(got.Optional, []string{"picture"}) {
		t.Fatalf("checked: %+v", got)
	}
	if !strings.HasPrefix(got.Request.ClientID, verifier.PrefixHash) {
		t.Fatalf("client_id %q", got.Request.ClientID)
	}

	// The citizen leaves the optional portrait out: verified without it.
	key := credtest.HolderKey()
	sd := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)[0]
	vp, err := sdjwt.Present(ctx, sd, []string{"family_name"}, key, got.Request.ClientID, got.Request.Nonce, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := json.Marshal(map[string][]string{"pid": {vp}})
	ans, err := http.PostForm(strings.Replace(got.Request.ResponseURI, credtest.IssuerURL, e.srv.URL, 1), url.Values{"vp_token": {string(tok)}, "state": {got.Request.State}})
	if err != nil {
		t.Fatal(err)
	}
	if ans.StatusCode != 200 {
		t.Fatalf("answer without the optional claim: %d %v", ans.StatusCode, decode(t, ans))
	}
	ans.Body.Close()
	st, res := e.result(t, m["id"].(string), m["result_token"].(string))
	cl, _ := res["claims"].(map[string]any)
	if st != 200 || res["status"] != "verified" || cl["family_name"] != "张" || cl["picture"] != nil {
		t.Fatalf("result: %d %v", st, res)
	}
	if d := e.disclosures.list[len(e.disclosures.list)-1]; !slices.Equal(d.Claims, []string{"family_name"}) {
		t.Fatalf("disclosure lists %v, want only what was shared", d.Claims)
	}

	// A desk removed after making a request: its request object is gone.
	resp, m = e.ask(t, map[string]any{"claims": []string{"family_name"}})
	if resp.StatusCode != 201 {
		t.Fatal(resp.StatusCode)
	}
	if err := e.desks.Store.DeleteVerifier(ctx, "front-desk-3"); err != nil {
		t.Fatal(err)
	}
	r3, _ := http.Get(e.srv.URL + "/oid4vp/requests/" + m["id"].(string))
	r3.Body.Close()
	if r3.StatusCode != 404 {
		t.Fatalf("request object of a removed desk: %d", r3.StatusCode)
	}
	if resp, m := e.ask(t, map[string]any{"claims": []string{"family_name"}}); resp.StatusCode != 401 {
		t.Fatalf("removed desk still asks: %d %v", resp.StatusCode, m)
	}
	r4, _ := http.Get(e.srv.URL + "/api/verifiers/" + got.Verifier.CertHash)
	r4.Body.Close()
	if r4.StatusCode != 404 {
		t.Fatalf("registry entry of a removed desk: %d", r4.StatusCode)
	}
}
