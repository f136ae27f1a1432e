package oid4vc_test

import (
	"context"
	"crypto/ecdh"
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

	jose "github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oid4vc"
)

// TestEncryptedResponse: a desk request with response_mode
// direct_post.jwt publishes an ephemeral ECDH-ES key in client_metadata,
// and the desk takes the presentation only encrypted to that key (a JWE
// made here with go-jose, as a wallet would). Refused: a plain vp_token,
// a JWE to another key, a JWE whose plaintext carries another state, an
// unknown response_mode. A decline may come in the clear.
func TestEncryptedResponse(t *testing.T) {
	e := doubleEnv(t)
	key := credtest.HolderKey()
	sd := e.collect(t, e.enroll(t, key), key, oid4vc.ConfigSDJWT)[0]
	claims := []string{"family_name", "given_name"}

	if resp, m := e.ask(t, map[string]any{"claims": claims, "response_mode": "fragment"}); resp.StatusCode != 400 {
		t.Fatalf("response_mode fragment: %d %v", resp.StatusCode, m)
	}
	type session struct {
		id, token, respURI, nonce, clientID string
		enc                                 map[string]any
	}
	open := func() session {
		t.Helper()
		resp, m := e.ask(t, map[string]any{"claims": claims, "response_mode": oid4vc.ResponseModeJWT})
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %v", resp.StatusCode, m)
		}
		qr, _ := url.Parse(m["qr"].(string))
		r, err := http.Get(strings.Replace(qr.Query().Get("request_uri"), credtest.IssuerURL, e.srv.URL, 1))
		if err != nil {
			t.Fatal(err)
		}
		jwt, _ := io.ReadAll(r.Body)
		r.Body.Close()
		pb, _ := base64.RawURLEncoding.DecodeString(strings.Split(string(jwt), ".")[1])
		var ro struct {
			ClientID       string `json:"client_id"`
			Nonce          string `json:"nonce"`
			State          string `json:"state"`
			ResponseMode   string `json:"response_mode"`
			ResponseURI    string `json:"response_uri"`
			ClientMetadata struct {
				JWKS struct {
					Keys []map[string]any `json:"keys"`
				} `json:"jwks"`
				Enc []string `json:"encrypted_response_enc_values_supported"`
			} `json:"client_metadata"`
		}
		if err := json.Unmarshal(pb, &ro); err != nil {
			t.Fatal(err)
		}
		keys := ro.ClientMetadata.JWKS.Keys
		if ro.ResponseMode != oid4vc.ResponseModeJWT || len(keys) != 1 || keys[0]["use"] != "enc" || keys[0]["alg"] != "ECDH-ES" ||
			keys[0]["crv"] != "P-256" || keys[0]["d"] != nil || len(ro.ClientMetadata.Enc) == 0 || ro.ClientMetadata.Enc[0] != "A128GCM" {
			t.Fatalf("request object: %+v", ro)
		}
		return session{id: m["id"].(string), token: m["result_token"].(string), nonce: ro.Nonce, clientID: ro.ClientID,
			respURI: strings.Replace(ro.ResponseURI, credtest.IssuerURL, e.srv.URL, 1), enc: keys[0]}
	}
	vpToken := func(s session) map[string][]string {
		vp, err := sdjwt.Present(context.Background(), sd, claims, key, s.clientID, s.nonce, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return map[string][]string{"pid": {vp}}
	}
	pubOf := func(jwk map[string]any) *ecdsa.PublicKey {
		x, _ := base64.RawURLEncoding.DecodeString(jwk["x"].(string))
		y, _ := base64.RawURLEncoding.DecodeString(jwk["y"].(string))
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	seal := func(to *ecdsa.PublicKey, kid string, enc jose.ContentEncryption, plain any) string {
		t.Helper()
		encr, err := jose.NewEncrypter(enc, jose.Recipient{Algorithm: jose.ECDH_ES, Key: to, KeyID: kid}, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(plain)
		obj, err := encr.Encrypt(b)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := obj.CompactSerialize()
		return c
	}
	post := func(s session, form url.Values) int {
		t.Helper()
		resp, err := http.PostForm(s.respURI, form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Encrypted with A128GCM and with A256GCM: verified.
	for _, enc := range []jose.ContentEncryption{jose.A128GCM, jose.A256GCM} {
		s := open()
		jwe := seal(pubOf(s.enc), s.enc["kid"].(string), enc, map[string]any{"vp_token": vpToken(s), "state": s.id})
		if st := post(s, url.Values{"response": {jwe}}); st != 200 {
			t.Fatalf("%s: encrypted response: %d", enc, st)
		}
		if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "verified" {
			t.Fatalf("%s: result %d %v", enc, st, m)
		}
	}

	other, _ := ecdh.P256().GenerateKey(rand.Reader)
	otherPub, _ := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), other.PublicKey().Bytes())
	refusals := []struct {
		name string
		form func(s session) url.Values
	}{
		{"plain vp_token", func(s session) url.Values {
			b, _ := json.Marshal(vpToken(s))
			return url.Values{"vp_token": {string(b)}, "state": {s.id}}
		}},
		{"JWE to another key", func(s session) url.Values {
			return url.Values{"response": {seal(otherPub, s.enc["kid"].(string), jose.A128GCM, map[string]any{"vp_token": vpToken(s), "state": s.id})}}
		}},
		{"JWE with another state", func(s session) url.Values {
			return url.Values{"response": {seal(pubOf(s.enc), s.enc["kid"].(string), jose.A128GCM, map[string]any{"vp_token": vpToken(s), "state": "other"})}}
		}},
		{"JWE under another kid", func(s session) url.Values {
			return url.Values{"response": {seal(pubOf(s.enc), "response-other", jose.A128GCM, map[string]any{"vp_token": vpToken(s), "state": s.id})}}
		}},
		{"not a JWE", func(s session) url.Values { return url.Values{"response": {"eyJhbGciOiJub25lIn0.e30."}} }},
	}
	for _, tt := range refusals {
		s := open()
		if st := post(s, tt.form(s)); st != 400 {
			t.Errorf("%s: %d, want 400", tt.name, st)
		}
		if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "pending" {
			t.Errorf("%s: the request is no longer pending: %d %v", tt.name, st, m)
		}
	}

	// A decline in the clear ends the request as declined.
	s := open()
	if st := post(s, url.Values{"error": {"access_denied"}, "state": {s.id}}); st != 200 {
		t.Fatalf("decline: %d", st)
	}
	if st, m := e.result(t, s.id, s.token); st != 200 || m["status"] != "declined" {
		t.Fatalf("after the decline: %d %v", st, m)
	}
}
