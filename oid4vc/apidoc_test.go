package oid4vc_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/internal/apidoc"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/verifier"
)

// TestAPIDocVerifier sends the requests docs/api.md §3 and §6.1 document to
// the real endpoints and holds every answer to the documented shape: the
// desk's request and its answer, the signed request object's payload, the
// result before and after a presentation, the public registry entry, and
// the two registration bodies.
func TestAPIDocVerifier(t *testing.T) {
	ex, same := apidoc.Load(t)
	e := doubleEnv(t)
	var body map[string]any
	json.Unmarshal(ex["desk-request"], &body)
	resp, m := e.ask(t, body)
	if resp.StatusCode != 201 {
		t.Fatalf("documented desk request: %d %v", resp.StatusCode, m)
	}
	created, _ := json.Marshal(m)
	same("desk-request-created", created)

	qr, _ := url.Parse(m["qr"].(string))
	r2, err := http.Get(strings.Replace(qr.Query().Get("request_uri"), credtest.IssuerURL, e.srv.URL, 1))
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(obj), ".")[1])
	same("desk-request-object", payload)

	id, tok := m["id"].(string), m["result_token"].(string)
	_, pending := e.result(t, id, tok)
	pb, _ := json.Marshal(pending)
	same("desk-result-pending", pb)

	var ro struct {
		ClientID    string `json:"client_id"`
		Nonce       string `json:"nonce"`
		ResponseURI string `json:"response_uri"`
	}
	json.Unmarshal(payload, &ro)
	key := credtest.HolderKey()
	sd := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)[0]
	vp, err := sdjwt.Present(context.Background(), sd, toStrings(body["claims"]), key, ro.ClientID, ro.Nonce, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	vpTok, _ := json.Marshal(map[string][]string{"pid": {vp}})
	// The presentation is accepted; the same one again is refused (the
	// request is answered).
	for _, tc := range []struct {
		name   string
		status int
	}{{"desk-response-accepted", 200}, {"desk-response-refused", 400}} {
		ans, err := http.PostForm(strings.Replace(ro.ResponseURI, credtest.IssuerURL, e.srv.URL, 1), url.Values{"vp_token": {string(vpTok)}, "state": {id}})
		if err != nil {
			t.Fatal(err)
		}
		ab, _ := io.ReadAll(ans.Body)
		ans.Body.Close()
		if ans.StatusCode != tc.status {
			t.Fatalf("%s: %d %s", tc.name, ans.StatusCode, ab)
		}
		same(tc.name, ab)
	}
	_, verified := e.result(t, id, tok)
	vb, _ := json.Marshal(verified)
	if verified["status"] != "verified" {
		t.Fatalf("result %v", verified)
	}
	same("desk-result-verified", vb)

	hash := strings.TrimPrefix(ro.ClientID, verifier.PrefixHash)
	r3, err := http.Get(e.srv.URL + "/api/verifiers/" + hash)
	if err != nil {
		t.Fatal(err)
	}
	entry, _ := io.ReadAll(r3.Body)
	r3.Body.Close()
	same("verifier-entry", entry)

	// The documented registration bodies register (the online one with a
	// real key in place of the placeholders).
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := json.Marshal(keys.JWKOf(&k.PublicKey))
	for _, name := range []string{"verifier-desk-registration", "verifier-online-registration"} {
		raw := ex[name]
		var spec map[string]any
		json.Unmarshal(raw, &spec)
		if spec["jwk"] != nil {
			spec["jwk"] = json.RawMessage(jwk)
		}
		spec["id"] = spec["id"].(string) + "-doc"
		b, _ := json.Marshal(spec)
		var s verifier.Spec
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("%s is not a verifier.Spec: %v", name, err)
		}
		if _, _, err := e.desks.Register(context.Background(), s); err != nil {
			t.Errorf("%s does not register: %v", name, err)
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// TestAPIDocIssuance holds §2.2 to §2.4 of docs/api.md to the issuer: the
// token answer and its error, the nonce, and the documented credential
// request (its proof replaced by a real one) and its answer.
func TestAPIDocIssuance(t *testing.T) {
	ex, err := apidoc.Examples()
	if err != nil {
		t.Fatal(err)
	}
	e := doubleEnv(t)
	key := credtest.HolderKey()
	offer := e.enroll(t, key)
	code := offer["grants"].(map[string]any)[oid4vc.PreAuthGrant].(map[string]any)["pre-authorized_code"].(string)
	resp, err := http.PostForm(e.srv.URL+"/vci/token", url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := apidoc.SameShape(ex["vci-token"], tb); err != nil {
		t.Errorf("vci-token: %v", err)
	}
	// The code is single-use: again, the documented error.
	again, err := http.PostForm(e.srv.URL+"/vci/token", url.Values{"grant_type": {oid4vc.PreAuthGrant}, "pre-authorized_code": {code}})
	if err != nil {
		t.Fatal(err)
	}
	eb, _ := io.ReadAll(again.Body)
	again.Body.Close()
	if again.StatusCode != 400 || string(ex["vci-token-error"]) == "" {
		t.Fatalf("used code: %d %s", again.StatusCode, eb)
	}
	if err := apidoc.SameShape(ex["vci-token-error"], eb); err != nil {
		t.Errorf("vci-token-error: %v", err)
	}
	var te, de map[string]any
	json.Unmarshal(eb, &te)
	json.Unmarshal(ex["vci-token-error"], &de)
	if te["error"] != de["error"] {
		t.Errorf("vci-token-error: error %v, documented %v", te["error"], de["error"])
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(tb, &tok)
	var body map[string]any
	json.Unmarshal(ex["vci-credential-request"], &body)
	nr, err := http.Post(e.srv.URL+"/vci/nonce", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	nb, _ := io.ReadAll(nr.Body)
	nr.Body.Close()
	if nr.StatusCode != 200 || nr.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("nonce: %d %q %s", nr.StatusCode, nr.Header.Get("Cache-Control"), nb)
	}
	if err := apidoc.SameShape(ex["vci-nonce"], nb); err != nil {
		t.Errorf("vci-nonce: %v", err)
	}
	var nonce struct {
		CNonce string `json:"c_nonce"`
	}
	json.Unmarshal(nb, &nonce)
	proof, err := oid4vc.MakeProof(key, credtest.IssuerURL, nonce.CNonce, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	body["proofs"] = map[string]any{"jwt": []string{proof}}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", e.srv.URL+"/vci/credential", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	cr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := io.ReadAll(cr.Body)
	cr.Body.Close()
	if cr.StatusCode != 200 {
		t.Fatalf("documented credential request: %d %s", cr.StatusCode, cb)
	}
	if err := apidoc.SameShape(ex["vci-credential"], cb); err != nil {
		t.Errorf("vci-credential: %v", err)
	}
}

// TestAPIDocEnrollment holds §1 and §2.1 of docs/api.md to the real
// endpoints: the documented start request (sent as written: its key is a
// valid P-256 point) and its answer, the signed submission payload the
// wallet builds (proofing.RequestClaims), the refusal's problem document, the
// approval, the enrollment's status, and both metadata
// documents.
func TestAPIDocEnrollment(t *testing.T) {
	ex, same := apidoc.Load(t)
	e := doubleEnv(t)

	resp, err := http.Post(e.srv.URL+"/api/enrollments", "application/json", bytes.NewReader(ex["enrollment-start"]))
	if err != nil {
		t.Fatal(err)
	}
	started, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("documented start request: %d %s", resp.StatusCode, started)
	}
	same("enrollment-started", started)

	key := credtest.HolderKey()
	id, c := e.start(t, key)
	p := honestParts(e.person)
	audio := p.audio(c.digits)
	clip := p.video(c, audio)
	claims := proofing.RequestClaims{EnrollmentID: id, IDNumber: p.id, Name: p.name, IssuedAt: time.Now().Unix(),
		Selfie: proofing.Digest(p.selfie), Audio: proofing.Digest(audio), FrameTimesMS: clip.Times, Language: "en"}
	for _, f := range clip.Frames {
		claims.Frames = append(claims.Frames, proofing.Digest(f))
	}
	payload, _ := json.Marshal(claims)
	same("enrollment-request-payload", payload)

	sr, m := e.submit(t, key, id, c, p)
	if sr.StatusCode != 200 || m["status"] != "approved" {
		t.Fatalf("submission: %d %v", sr.StatusCode, m)
	}
	approved, _ := json.Marshal(m)
	same("enrollment-approved", approved)
	st, err := http.Get(e.srv.URL + "/api/enrollments/" + id)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := io.ReadAll(st.Body)
	st.Body.Close()
	if st.StatusCode != 200 || !strings.Contains(string(sb), `"approved"`) {
		t.Fatalf("enrollment status: %d %s", st.StatusCode, sb)
	}
	same("enrollment-status", sb)

	// A wrong name (and the same selfie again) under a new challenge: the
	// documented refusal, to the letter but for the instance (this
	// enrollment's path).
	id, c = e.start(t, key)
	wrong := p
	wrong.name = "李四"
	rr, refused := e.submit(t, key, id, c, wrong)
	if rr.StatusCode != http.StatusForbidden || rr.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("wrong name: %d %v", rr.StatusCode, refused)
	}
	rb, _ := json.Marshal(refused)
	same("enrollment-refused", rb)
	var doc map[string]any
	json.Unmarshal(ex["enrollment-refused"], &doc)
	for _, k := range []string{"type", "title", "status", "detail"} {
		if doc[k] != refused[k] {
			t.Errorf("enrollment-refused: %s documented %v, answered %v", k, doc[k], refused[k])
		}
	}
	if refused["instance"] != "/api/enrollments/"+id+"/submission" {
		t.Errorf("enrollment-refused: instance %v", refused["instance"])
	}

	for name, path := range map[string]string{
		"vci-issuer-metadata": "/.well-known/openid-credential-issuer",
		"vci-as-metadata":     "/.well-known/oauth-authorization-server",
	} {
		r, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, r.StatusCode, b)
		}
		same(name, b)
	}
}
