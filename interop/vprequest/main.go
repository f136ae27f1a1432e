// Command vprequest writes request objects for the wallet's request check
// (web/static/wallet/request.js, run in Node by run.mjs): a registered
// desk's and an online verifier's good requests and one of each attack
// (unsigned, altered, a key not chained to the authority, a document
// signer's key, a SAN or hash not matching client_id, a link naming
// another client, a response_uri on another host or over http, a removed
// verifier, over-asking, expired, no nonce), each with the verdict of the
// Go verifier.Checker, so that the two implementations are held to the
// same answers. scripts/test.d/wallet-request.sh runs it.
package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"log"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/verifier"
)

// Case is one request object and the verdict expected of a wallet.
type Case struct {
	Name   string `json:"name"`
	Object string `json:"object"`
	Outer  string `json:"outer,omitempty"`
	// Want is "ok" or the refusal code.
	Want string `json:"want"`
	// Optional lists the claims the request lets the citizen leave out.
	Optional []string `json:"optional,omitempty"`
}

// Vectors is what run.mjs reads.
type Vectors struct {
	Root      []byte                     `json:"root"`
	Registry  map[string]verifier.Public `json:"registry"`
	Cases     []Case                     `json:"cases"`
	Answered  []string                   `json:"answered"`
	CreatedAt time.Time                  `json:"created_at"`
}

func main() {
	dir := flag.String("dir", "", "working directory; vectors.json is written there")
	flag.Parse()
	if err := run(context.Background(), *dir); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, dir string) error {
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{4}, seal.KeySize)})
	if err != nil {
		return err
	}
	kd := filepath.Join(dir, "keys")
	ring, err := keys.Open(ctx, kd, keys.NewFileProvider(kd, sealer), keys.Config{Issuer: "https://id.example"})
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "reg.db"))
	if err != nil {
		return err
	}
	defer db.Close()
	reg := &verifier.Registry{Store: db.Verifiers(), CA: ring, Host: "id.example",
		Claims: []string{"family_name", "given_name", "birthdate", "id_number", "picture", "age_equal_or_over", "address"}}
	desk, _, err := reg.Register(ctx, verifier.Spec{ID: "hotel-desk", Kind: verifier.Desk,
		Name: verifier.Text{Zh: "南沙酒店前台", En: "Nansha Hotel front desk"}, Purpose: verifier.Text{Zh: "入住登记", En: "Guest check-in"},
		Claims: "family_name,given_name,id_number,picture?"})
	if err != nil {
		return err
	}
	deskKey, err := reg.Signer(ctx, desk)
	if err != nil {
		return err
	}
	barKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bar, _, err := reg.Register(ctx, verifier.Spec{ID: "bar", Kind: verifier.Online, Name: verifier.Text{Zh: "酒吧", En: "Bar"},
		Purpose: verifier.Text{Zh: "年龄核验", En: "Age check"}, Claims: "age_equal_or_over", DNSName: "bar.example", JWK: jwk(barKey)})
	if err != nil {
		return err
	}
	goneKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	gone, _, err := reg.Register(ctx, verifier.Spec{ID: "gone", Kind: verifier.Online, Name: verifier.Text{Zh: "旧", En: "Old"},
		Purpose: verifier.Text{Zh: "旧", En: "Old"}, Claims: "age_equal_or_over", DNSName: "old.example", JWK: jwk(goneKey)})
	if err != nil {
		return err
	}
	if err := db.Verifiers().DeleteVerifier(ctx, gone.ID); err != nil {
		return err
	}
	all, err := db.Verifiers().Verifiers(ctx)
	if err != nil {
		return err
	}
	v := Vectors{Root: ring.Root().Raw, Registry: map[string]verifier.Public{}, CreatedAt: time.Now().UTC()}
	for _, x := range all {
		v.Registry[x.CertHash] = x.Public()
	}
	now := time.Now()
	sign := func(k crypto.Signer, cert []byte, p map[string]any) string {
		s, err := verifier.Sign(k, cert, p)
		if err != nil {
			log.Fatal(err)
		}
		return s
	}
	good := request(desk, now, []string{"family_name", "given_name", "picture"}, []string{"picture"})
	ok := sign(deskKey, desk.Cert, good)
	parts := strings.Split(ok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	strangerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerCert := foreign(strangerKey, "id.example")
	ds, err := ring.Current(ctx)
	if err != nil {
		return err
	}
	dsReq := with(good, "client_id", verifier.PrefixHash+verifier.CertHash(ds.Cert.Raw))
	answered := with(good, "nonce", "answered-once")
	v.Answered = []string{desk.ClientID() + " answered-once"}
	v.Cases = []Case{
		{Name: "registered desk", Object: ok, Outer: desk.ClientID()},
		{Name: "registered online verifier", Object: sign(barKey, bar.Cert, request(bar, now, []string{"age_equal_or_over"}, nil))},
		{Name: "unsigned (alg none)", Object: base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`)) + "." + parts[1] + "."},
		{Name: "payload changed after signing", Object: parts[0] + "." + base64.RawURLEncoding.EncodeToString(bytes.Replace(payload, []byte(`"nonce":"n-1"`), []byte(`"nonce":"n-2"`), 1)) + "." + parts[2]},
		{Name: "key not chained to the authority", Object: sign(strangerKey, strangerCert, with(good, "client_id", verifier.PrefixHash+verifier.CertHash(strangerCert)))},
		{Name: "document signer, not a verifier", Object: sign(ds.Key, ds.Cert.Raw, dsReq)},
		{Name: "signed by another key", Object: sign(barKey, desk.Cert, good)},
		{Name: "SAN does not match client_id", Object: sign(barKey, bar.Cert, with(request(bar, now, []string{"age_equal_or_over"}, nil), "client_id", "x509_san_dns:hotel.example"))},
		{Name: "hash of another certificate", Object: sign(deskKey, desk.Cert, with(good, "client_id", verifier.PrefixHash+bar.CertHash))},
		{Name: "redirect_uri prefix", Object: sign(deskKey, desk.Cert, with(good, "client_id", "redirect_uri:https://id.example/x"))},
		{Name: "link names another client", Object: ok, Outer: bar.ClientID()},
		{Name: "response_uri on another host", Object: sign(deskKey, desk.Cert, with(good, "response_uri", "https://evil.example/collect"))},
		{Name: "response_uri over http", Object: sign(deskKey, desk.Cert, with(good, "response_uri", "http://id.example/oid4vp/responses/r1"))},
		{Name: "removed verifier", Object: sign(goneKey, gone.Cert, request(gone, now, []string{"age_equal_or_over"}, nil))},
		{Name: "over-asking online verifier", Object: sign(barKey, bar.Cert, request(bar, now, []string{"age_equal_or_over", "id_number"}, nil))},
		{Name: "over-asking desk", Object: sign(deskKey, desk.Cert, request(desk, now, []string{"given_name", "address"}, nil))},
		{Name: "expired", Object: sign(deskKey, desk.Cert, with(good, "exp", now.Add(-time.Second).Unix()))},
		{Name: "no nonce", Object: sign(deskKey, desk.Cert, with(good, "nonce", nil))},
		{Name: "replay of an answered request", Object: sign(deskKey, desk.Cert, answered)},
		{Name: "encrypted response (direct_post.jwt)", Object: sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-enc"), false, nil))},
		{Name: "direct_post.jwt, A256GCM only", Object: sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-enc-256"), false, []string{"A256GCM"}))},
		{Name: "direct_post.jwt without a key", Object: sign(deskKey, desk.Cert, with(good, "response_mode", "direct_post.jwt"))},
		{Name: "direct_post.jwt publishing a private key", Object: sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-enc-d"), true, nil))},
		{Name: "direct_post.jwt with an unknown enc", Object: sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-enc-cbc"), false, []string{"A128CBC-HS256"}))},
	}
	seen := seenSet{v.Answered[0]: true}
	c := &verifier.Checker{Root: ring.Root(), Lookup: reg.Lookup, Seen: seen}
	for i := range v.Cases {
		got, err := c.Check(ctx, v.Cases[i].Object, v.Cases[i].Outer)
		var r *verifier.Refusal
		switch {
		case err == nil:
			v.Cases[i].Want, v.Cases[i].Optional = "ok", got.Optional
		case errors.As(err, &r):
			v.Cases[i].Want = r.Code
		default:
			return err
		}
	}
	b, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "vectors.json"), b, 0o600)
}

type seenSet map[string]bool

func (s seenSet) Seen(k string) bool { return s[k] }

func jwk(k *ecdsa.PrivateKey) json.RawMessage {
	b, _ := json.Marshal(keys.JWKOf(&k.PublicKey))
	return b
}

func with(base map[string]any, k string, v any) map[string]any {
	m := map[string]any{}
	for a, b := range base {
		m[a] = b
	}
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
	return m
}

// request is a well-formed request of v for claims, the optional ones left
// out of the second claim set.
func request(v verifier.Verifier, now time.Time, claims, optional []string) map[string]any {
	var qc []map[string]any
	var required []string
	for _, c := range claims {
		qc = append(qc, map[string]any{"id": c, "path": []string{c}})
		if !contains(optional, c) {
			required = append(required, c)
		}
	}
	q := map[string]any{"id": "pid", "format": "dc+sd-jwt", "meta": map[string]any{"vct_values": []string{"urn:x"}}, "claims": qc}
	if len(optional) > 0 {
		q["claim_sets"] = [][]string{claims, required}
	}
	return map[string]any{
		"client_id": v.ClientID(), "response_type": "vp_token", "response_mode": "direct_post",
		"response_uri": "https://" + v.DNSNames[0] + "/oid4vp/responses/r1", "nonce": "n-1", "state": "r1",
		"aud": verifier.StaticAudience, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"dcql_query": map[string]any{"credentials": []any{q}},
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// foreign is a reader certificate with the authority's profile from a CA
// the wallet does not trust.
func foreign(key crypto.Signer, dns string) []byte {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shenfen identity authority IACA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{keys.OIDMdocReaderAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	return der
}

// encrypted turns a request into a direct_post.jwt one with an ephemeral
// P-256 key in client_metadata.jwks (after an RSA key the wallet skips),
// its private part published when leak, and enc as
// encrypted_response_enc_values_supported when not nil.
func encrypted(r map[string]any, leak bool, enc []string) map[string]any {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := k.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:65]), "use": "enc", "alg": "ECDH-ES", "kid": "k1"}
	if leak {
		d, _ := k.Bytes()
		jwk["d"] = b64(d)
	}
	meta := map[string]any{"jwks": map[string]any{"keys": []any{map[string]any{"kty": "RSA", "n": "x", "e": "AQAB"}, jwk}}}
	if enc != nil {
		meta["encrypted_response_enc_values_supported"] = enc
	}
	out := with(r, "response_mode", "direct_post.jwt")
	out["client_metadata"] = meta
	return out
}
