package oid4vc_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/oid4vc"
)

// testLogKey is a C2SP note verifier key for the metadata tests.
func testLogKey(t testing.TB) string {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	_, vkey, err := audit.NoteKey("id.shenfen.test/log", k)
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}

// TestSignedMetadata: with a metadata signer the issuer metadata carries
// signed_metadata (typ openidvci-issuer-metadata+jwt, ES256 by the
// document signer, x5c chained to the card root, sub and iss the issuer)
// whose claims are the metadata's, the transparency log's key included;
// without one, none.
func TestSignedMetadata(t *testing.T) {
	e := doubleEnv(t)
	get := func() map[string]any {
		t.Helper()
		r, err := http.Get(e.srv.URL + "/.well-known/openid-credential-issuer")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := get(); m["signed_metadata"] != nil || m["shenfen_transparency_log"] != nil {
		t.Fatalf("unsigned metadata carries %v, %v", m["signed_metadata"], m["shenfen_transparency_log"])
	}
	vkey := testLogKey(t)
	e.api.MetadataSigner, e.api.LogKey = e.api.Cards.(*oid4vc.Issuer).Signers, vkey
	m := get()
	signed, _ := m["signed_metadata"].(string)
	p, err := jws.Parse([]byte(signed), 64<<10)
	if err != nil || p.Header.Typ != oid4vc.SignedMetadataType || len(p.Header.X5C) == 0 {
		t.Fatalf("signed_metadata %q: %v", signed, err)
	}
	h, payload := p.Header, p.Payload
	leaf, err := x509.ParseCertificate(h.X5C[0])
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(e.root)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("signed_metadata's certificate: %v", err)
	}
	if err := p.Verify(leaf.PublicKey.(*ecdsa.PublicKey)); err != nil {
		t.Fatalf("signed_metadata signature: %v", err)
	}
	var claims map[string]any
	json.Unmarshal(payload, &claims)
	log, _ := claims["shenfen_transparency_log"].(map[string]any)
	if claims["sub"] != credtest.IssuerURL || claims["iss"] != credtest.IssuerURL || claims["iat"] == nil ||
		claims["credential_issuer"] != m["credential_issuer"] || log["verifier_key"] != vkey {
		t.Fatalf("signed claims: %v", claims)
	}
}
