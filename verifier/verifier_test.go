package verifier_test

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
	"fmt"
	"math/big"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

var cardClaims = []string{"family_name", "given_name", "birthdate", "id_number", "picture", "age_over_18", "address"}

type env struct {
	ring *keys.Ring
	reg  *verifier.Registry
	now  time.Time
}

func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	s, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{3}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "keys")
	e := &env{now: time.Date(2026, 12, 6, 5, 0, 0, 0, time.UTC)}
	e.ring, err = keys.Open(context.Background(), dir, keys.NewFileProvider(dir, s),
		keys.Config{Issuer: "https://id.example", Now: func() time.Time { return e.now }})
	if err != nil {
		t.Fatal(err)
	}
	e.reg = &verifier.Registry{Store: db.Verifiers(), CA: e.ring, Claims: cardClaims, Host: "id.example", Now: func() time.Time { return e.now }}
	return e
}

func jwkOf(k *ecdsa.PrivateKey) json.RawMessage {
	j := keys.JWKOf(&k.PublicKey)
	b, _ := json.Marshal(j)
	return b
}

func hotelSpec() verifier.Spec {
	return verifier.Spec{ID: "hotel-desk", Kind: verifier.Desk, Name: verifier.Text{Zh: "南沙酒店前台", En: "Nansha Hotel front desk"},
		Purpose: verifier.Text{Zh: "入住登记", En: "Guest check-in"}, Claims: "family_name,given_name,id_number,picture?"}
}

func TestRegister(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		v, token, err := e.reg.Register(ctx, hotelSpec())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(token, "sfd_") || v.KeyLabel == "" || v.ClientID() != verifier.PrefixHash+v.CertHash {
			t.Fatalf("desk: token %q, key %q, client_id %q", token, v.KeyLabel, v.ClientID())
		}
		if got, err := e.reg.Desk(ctx, token); err != nil || got.ID != "hotel-desk" {
			t.Fatalf("desk by token: %+v %v", got.ID, err)
		}
		for _, bad := range []string{"", "sfd_x", token + "x", "Bearer " + token} {
			if _, err := e.reg.Desk(ctx, bad); !errors.Is(err, verifier.ErrNotFound) {
				t.Fatalf("token %q: %v", bad, err)
			}
		}
		if got, err := db.Verifiers().VerifierByCert(ctx, v.CertHash); err != nil || got.ID != v.ID || got.Name != v.Name {
			t.Fatalf("by certificate: %+v %v", got, err)
		}
		if _, _, err := e.reg.Register(ctx, hotelSpec()); !errors.Is(err, verifier.ErrConflict) {
			t.Fatalf("second registration: %v", err)
		}
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		on, tok, err := e.reg.Register(ctx, verifier.Spec{ID: "bar", Kind: verifier.Online, Name: verifier.Text{Zh: "酒吧", En: "Bar"},
			Purpose: verifier.Text{Zh: "年龄核验", En: "Age check"}, Claims: "age_over_18", DNSName: "bar.example", JWK: jwkOf(k)})
		if err != nil || tok != "" || on.ClientID() != "x509_san_dns:bar.example" || on.KeyLabel != "" {
			t.Fatalf("online: %+v %q %v", on, tok, err)
		}
		for name, s := range map[string]verifier.Spec{
			"unknown claim":   {Kind: verifier.Desk, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "birth_date"},
			"no claims":       {Kind: verifier.Desk, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose},
			"no English name": {Kind: verifier.Desk, Name: verifier.Text{Zh: "酒店"}, Purpose: hotelSpec().Purpose, Claims: "given_name"},
			"no purpose":      {Kind: verifier.Desk, Name: hotelSpec().Name, Claims: "given_name"},
			"bad kind":        {Kind: "robot", Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name"},
			"desk with key":   {Kind: verifier.Desk, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name", JWK: jwkOf(k)},
			"online no host":  {Kind: verifier.Online, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name", JWK: jwkOf(k)},
			"online no key":   {Kind: verifier.Online, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name", DNSName: "a.example"},
			"private key":     {Kind: verifier.Online, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name", DNSName: "a.example", JWK: json.RawMessage(`{"kty":"EC","crv":"P-256","x":"` + base64.RawURLEncoding.EncodeToString(k.X.FillBytes(make([]byte, 32))) + `","y":"` + base64.RawURLEncoding.EncodeToString(k.Y.FillBytes(make([]byte, 32))) + `","d":"AA"}`)},
			"script logo":     {Kind: verifier.Desk, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name", Logo: "data:image/svg+xml;base64,PHN2Zz4="},
			"bad id":          {ID: "Hotel Desk", Kind: verifier.Desk, Name: hotelSpec().Name, Purpose: hotelSpec().Purpose, Claims: "given_name"},
		} {
			if _, _, err := e.reg.Register(ctx, s); !errors.Is(err, verifier.ErrInvalid) {
				t.Errorf("%s: %v, want ErrInvalid", name, err)
			}
		}
		all, err := db.Verifiers().Verifiers(ctx)
		if err != nil || len(all) != 2 {
			t.Fatalf("list: %d %v", len(all), err)
		}
		si, err := e.reg.EnsureSignIn(ctx, "sign-in", verifier.Text{Zh: "登录", En: "Sign-in"}, verifier.Text{Zh: "登录", En: "Sign in"})
		if err != nil || si.Kind != verifier.SignIn || len(si.Claims) != len(cardClaims) {
			t.Fatalf("sign-in: %+v %v", si, err)
		}
		again, err := e.reg.EnsureSignIn(ctx, "sign-in", si.Name, si.Purpose)
		if err != nil || again.CertHash != si.CertHash {
			t.Fatalf("sign-in made again: %v", err)
		}
		if _, err := e.reg.EnsureSignIn(ctx, "hotel-desk", si.Name, si.Purpose); !errors.Is(err, verifier.ErrConflict) {
			t.Fatalf("sign-in over a desk: %v", err)
		}
		if err := db.Verifiers().DeleteVerifier(ctx, "hotel-desk"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.reg.Desk(ctx, token); !errors.Is(err, verifier.ErrNotFound) {
			t.Fatalf("removed desk still signs in: %v", err)
		}
		if err := db.Verifiers().DeleteVerifier(ctx, "hotel-desk"); !errors.Is(err, verifier.ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

// requestFor is a well-formed request of v for claims.
func requestFor(v verifier.Verifier, now time.Time, claims ...string) map[string]any {
	var qc []map[string]any
	for _, c := range claims {
		qc = append(qc, map[string]any{"id": c, "path": []string{c}})
	}
	return map[string]any{
		"client_id": v.ClientID(), "response_type": "vp_token", "response_mode": "direct_post",
		"response_uri": "https://" + v.DNSNames[0] + "/oid4vp/responses/r1", "nonce": "n-1", "state": "r1",
		"aud": verifier.StaticAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"dcql_query": map[string]any{"credentials": []any{map[string]any{"id": "pid", "format": "dc+sd-jwt",
			"meta": map[string]any{"vct_values": []string{"urn:x"}}, "claims": qc}}},
	}
}

type seenSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func (s *seenSet) Seen(k string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]bool{}
	}
	old := s.m[k]
	s.m[k] = true
	return old
}

// selfSigned makes a certificate with the same profile as the authority's
// reader certificates, signed by another CA.
func selfSigned(t *testing.T, key crypto.Signer, dns string) []byte {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shenfen identity authority IACA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, _ := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dns}, DNSNames: []string{dns},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		UnknownExtKeyUsage: []asn1.ObjectIdentifier{keys.OIDMdocReaderAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCheckRefusesAttacks(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	e := newEnv(t, db)
	e.now = time.Now().UTC()
	desk, _, err := e.reg.Register(ctx, hotelSpec())
	if err != nil {
		t.Fatal(err)
	}
	deskKey, _ := e.reg.Signer(ctx, desk)
	onlineKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bar, _, err := e.reg.Register(ctx, verifier.Spec{ID: "bar", Kind: verifier.Online, Name: verifier.Text{Zh: "酒吧", En: "Bar"},
		Purpose: verifier.Text{Zh: "年龄核验", En: "Age check"}, Claims: "age_over_18", DNSName: "bar.example", JWK: jwkOf(onlineKey)})
	if err != nil {
		t.Fatal(err)
	}
	// A verifier the authority certified and then removed.
	goneKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	gone, _, err := e.reg.Register(ctx, verifier.Spec{ID: "gone", Kind: verifier.Online, Name: verifier.Text{Zh: "旧", En: "Old"},
		Purpose: verifier.Text{Zh: "旧", En: "Old"}, Claims: "age_over_18", DNSName: "old.example", JWK: jwkOf(goneKey)})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Verifiers().DeleteVerifier(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	lookup := func(ctx context.Context, h string) (verifier.Public, error) {
		v, err := db.Verifiers().VerifierByCert(ctx, h)
		return v.Public(), err
	}
	c := &verifier.Checker{Root: e.ring.Root(), Lookup: lookup, Seen: &seenSet{}}
	sign := func(key crypto.Signer, cert []byte, p map[string]any) string {
		s, err := verifier.Sign(key, cert, p)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	now := time.Now()
	good := requestFor(desk, now, "family_name", "given_name", "picture")
	ok := sign(deskKey, desk.Cert, good)
	got, err := c.Check(ctx, ok, desk.ClientID())
	if err != nil {
		t.Fatalf("a registered desk's request is refused: %v", err)
	}
	if got.Verifier.Name.Zh != "南沙酒店前台" || got.Verifier.Purpose.En != "Guest check-in" {
		t.Fatalf("registration shown: %+v", got.Verifier)
	}
	barOK := sign(onlineKey, bar.Cert, requestFor(bar, now, "age_over_18"))
	if _, err := c.Check(ctx, barOK, ""); err != nil {
		t.Fatalf("a registered online verifier's request is refused: %v", err)
	}

	with := func(base map[string]any, k string, v any) map[string]any {
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
	strangerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	strangerCert := selfSigned(t, strangerKey, "id.example")
	strangerReq := requestFor(verifier.Verifier{Kind: verifier.Desk, DNSNames: []string{"id.example"}, CertHash: verifier.CertHash(strangerCert)}, now, "given_name")
	parts := strings.Split(ok, ".")
	unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"oauth-authz-req+jwt"}`)) + "." + parts[1] + "."
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(mustB64(parts[1])), "n-1", "n-2", 1))) + "." + parts[2]
	replayed := sign(deskKey, desk.Cert, with(good, "nonce", "n-replay"))
	if _, err := c.Check(ctx, replayed, ""); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		object, outer, code string
	}{
		"unsigned (alg none)":             {unsigned, "", verifier.RefuseMalformed},
		"payload changed after signing":   {tampered, "", verifier.RefuseSignature},
		"key not chained to the root":     {sign(strangerKey, strangerCert, strangerReq), "", verifier.RefuseUntrusted},
		"document signer, not a verifier": {signWithDS(t, e, good), "", verifier.RefuseUntrusted},
		"signed by another key":           {sign(onlineKey, desk.Cert, good), "", verifier.RefuseSignature},
		"SAN does not match client_id":    {sign(onlineKey, bar.Cert, with(requestFor(bar, now, "age_over_18"), "client_id", "x509_san_dns:hotel.example")), "", verifier.RefuseClientID},
		"hash of another certificate":     {sign(deskKey, desk.Cert, with(good, "client_id", bar.ClientID()[:0]+verifier.PrefixHash+bar.CertHash)), "", verifier.RefuseClientID},
		"no client_id prefix":             {sign(deskKey, desk.Cert, with(good, "client_id", "id.example")), "", verifier.RefuseClientID},
		"redirect_uri prefix":             {sign(deskKey, desk.Cert, with(good, "client_id", "redirect_uri:https://id.example/x")), "", verifier.RefuseClientID},
		"link names another client":       {ok, bar.ClientID(), verifier.RefuseClientID},
		"response_uri on another host":    {sign(deskKey, desk.Cert, with(good, "response_uri", "https://evil.example/collect")), "", verifier.RefuseResponseURI},
		"response_uri over http":          {sign(deskKey, desk.Cert, with(good, "response_uri", "http://id.example/oid4vp/responses/r1")), "", verifier.RefuseResponseURI},
		"removed verifier":                {sign(goneKey, gone.Cert, requestFor(gone, now, "age_over_18")), "", verifier.RefuseUnregistered},
		"over-asking online verifier":     {sign(onlineKey, bar.Cert, requestFor(bar, now, "age_over_18", "id_number")), "", verifier.RefuseOverAsking},
		"over-asking desk":                {sign(deskKey, desk.Cert, requestFor(desk, now, "given_name", "address")), "", verifier.RefuseOverAsking},
		"expired":                         {sign(deskKey, desk.Cert, with(good, "exp", now.Add(-time.Second).Unix())), "", verifier.RefuseExpired},
		"no expiry":                       {sign(deskKey, desk.Cert, with(good, "exp", nil)), "", verifier.RefuseExpired},
		"replay of an answered request":   {replayed, "", verifier.RefuseReplay},
		"no nonce":                        {sign(deskKey, desk.Cert, with(good, "nonce", nil)), "", verifier.RefuseMalformed},
		"fragment response mode":          {sign(deskKey, desk.Cert, with(good, "response_mode", "fragment")), "", verifier.RefuseUnsupported},
		"direct_post.jwt without a key":   {sign(deskKey, desk.Cert, with(good, "response_mode", "direct_post.jwt")), "", verifier.RefuseUnsupported},
		"direct_post.jwt, private key":    {sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-d"), true, nil)), "", verifier.RefuseMalformed},
		"direct_post.jwt, enc A192CBC":    {sign(deskKey, desk.Cert, encrypted(with(good, "nonce", "n-c"), false, []string{"A192CBC-HS384"})), "", verifier.RefuseUnsupported},
	} {
		_, err := c.Check(ctx, tc.object, tc.outer)
		var r *verifier.Refusal
		if !errors.As(err, &r) || r.Code != tc.code {
			t.Errorf("%s: %v, want refusal %q", name, err, tc.code)
		}
	}
	// An encrypted response: the key and the content encryption are read.
	for i, tc := range []struct {
		enc  []string
		want string
	}{{nil, "A128GCM"}, {[]string{"A256GCM", "A128GCM"}, "A128GCM"}, {[]string{"A256GCM"}, "A256GCM"}} {
		ch, err := c.Check(ctx, sign(deskKey, desk.Cert, encrypted(with(good, "nonce", fmt.Sprint("n-enc-", i)), false, tc.enc)), "")
		if err != nil || ch.Encryption == nil || ch.Encryption.Enc != tc.want || ch.Encryption.KeyID != "k1" || ch.Encryption.Key == nil {
			t.Errorf("direct_post.jwt (enc %v): %+v, %v", tc.enc, ch, err)
		}
	}
	if ch, err := c.Check(ctx, sign(deskKey, desk.Cert, with(good, "nonce", "n-plain")), ""); err != nil || ch.Encryption != nil {
		t.Errorf("direct_post: encryption %+v, %v", ch, err)
	}
	// Optional claims: the ones absent from a claim set.
	opt := with(good, "dcql_query", map[string]any{"credentials": []any{map[string]any{"id": "pid", "format": "dc+sd-jwt",
		"claims":     []any{map[string]any{"id": "g", "path": []string{"given_name"}}, map[string]any{"id": "p", "path": []string{"picture"}}},
		"claim_sets": [][]string{{"g", "p"}, {"g"}}}}})
	opt["nonce"] = "n-opt"
	got, err = c.Check(ctx, sign(deskKey, desk.Cert, opt), "")
	if err != nil || len(got.Optional) != 1 || got.Optional[0] != "picture" {
		t.Fatalf("optional claims: %+v %v", got, err)
	}
}

func mustB64(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// signWithDS signs a request with the authority's document signer: chained
// to the root, but a card signer, not a verifier.
func signWithDS(t *testing.T, e *env, p map[string]any) string {
	s, err := e.ring.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := map[string]any{}
	for k, v := range p {
		q[k] = v
	}
	q["client_id"] = verifier.PrefixHash + verifier.CertHash(s.Cert.Raw)
	out, err := verifier.Sign(s.Key, s.Cert.Raw, q)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// encrypted turns a request into a direct_post.jwt one with an ephemeral
// P-256 key in client_metadata.jwks (its private part published when
// leak), and enc as encrypted_response_enc_values_supported when not nil.
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
	out := map[string]any{}
	for a, b := range r {
		out[a] = b
	}
	out["response_mode"] = "direct_post.jwt"
	out["client_metadata"] = meta
	return out
}

// TestRenewDue: a desk whose certificate ends within the window gets a
// new one (its token and key stay, the old certificate stops resolving);
// an online verifier, and a desk with time left, are left alone.
func TestRenewDue(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, storetest.SQLite(t))
	desk, token, err := e.reg.Register(ctx, hotelSpec())
	if err != nil {
		t.Fatal(err)
	}
	barKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bar, _, err := e.reg.Register(ctx, verifier.Spec{ID: "bar", Kind: verifier.Online, Name: verifier.Text{Zh: "酒吧", En: "Bar"},
		Purpose: verifier.Text{Zh: "年龄", En: "Age"}, Claims: "age_over_18", DNSName: "bar.example", JWK: jwkOf(barKey)})
	if err != nil {
		t.Fatal(err)
	}
	const window = 30 * 24 * time.Hour
	if got, err := e.reg.RenewDue(ctx, window); err != nil || len(got) != 0 {
		t.Fatalf("nothing is due yet: %v %v", got, err)
	}
	c, _ := desk.Certificate()
	e.now = c.NotAfter.Add(-window / 2)
	got, err := e.reg.RenewDue(ctx, window)
	if err != nil || len(got) != 1 || got[0] != "hotel-desk" {
		t.Fatalf("renewed %v, %v; want the desk only", got, err)
	}
	now, err := e.reg.Desk(ctx, token)
	if err != nil || now.CertHash == desk.CertHash {
		t.Fatalf("the desk after renewal: %v, %v", now.CertHash, err)
	}
	nc, _ := now.Certificate()
	if !nc.NotAfter.After(c.NotAfter) || !nc.PublicKey.(*ecdsa.PublicKey).Equal(c.PublicKey) {
		t.Errorf("new certificate until %v (old %v), same key: %v", nc.NotAfter, c.NotAfter, nc.PublicKey.(*ecdsa.PublicKey).Equal(c.PublicKey))
	}
	if _, err := e.reg.ByCert(ctx, desk.CertHash); !errors.Is(err, verifier.ErrNotFound) {
		t.Errorf("the old certificate still resolves: %v", err)
	}
	if b, err := e.reg.Verifier(ctx, "bar"); err != nil || b.CertHash != bar.CertHash {
		t.Errorf("the online verifier was renewed: %v", err)
	}
}
