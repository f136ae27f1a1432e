package sdjwt

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type fixture struct {
	iss    *credtest.Issuer
	holder *credtest.Issuer // only its Key is used as the device key
	issued string
	status *credtest.Status
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss, err := credtest.NewIssuer("shenfen test", t0.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	hk := credtest.HolderKey()
	issued, err := Issue(context.Background(), IssueParams{
		Issuer: "https://id.shenfen.test", Profile: credential.ProfileCN, PID: pid,
		Holder: &hk.PublicKey, Status: &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 42},
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{iss: iss, holder: &credtest.Issuer{Key: hk}, issued: issued, status: &credtest.Status{}}
}

func (f *fixture) verifier(now time.Time) *Verifier {
	return &Verifier{Anchors: f.iss.Anchors(), Status: f.status, Nonces: &credtest.Nonces{}, Clock: func() time.Time { return now }}
}

func (f *fixture) present(t testing.TB, disclose []string, aud, nonce string, at time.Time) string {
	t.Helper()
	p, err := Present(context.Background(), f.issued, disclose, f.holder.Key, aud, nonce, at)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var want = Expect{Nonce: "n-0S6_WzA2Mj", Audience: "https://hotel.example"}

func TestIssuePresentVerify(t *testing.T) {
	f := newFixture(t)
	paths, err := Disclosed(f.issued)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"family_name", "given_name", "birthdate", "age_equal_or_over.18", "address.formatted", "id_number", "picture", "nationalities"} {
		if !contains(paths, p) {
			t.Errorf("issued credential cannot disclose %q (has %v)", p, paths)
		}
	}
	pres := f.present(t, []string{"given_name", "family_name", "age_equal_or_over.18", "picture"}, want.Audience, want.Nonce, t0.Add(time.Hour))
	res, err := f.verifier(t0.Add(time.Hour)).Verify(context.Background(), pres, want)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims
	if c["given_name"] != "三" || c["family_name"] != "张" {
		t.Errorf("names = %v %v", c["family_name"], c["given_name"])
	}
	if age := c["age_equal_or_over"].(map[string]any); age["18"] != true || len(age) != 1 {
		t.Errorf("age_equal_or_over = %v", age)
	}
	if pic, _ := c["picture"].(string); !strings.HasPrefix(pic, "data:image/jpeg;base64,/9j/") {
		t.Errorf("picture = %.40q", pic)
	}
	for _, hidden := range []string{"id_number", "birthdate", "address", "sex", "nationalities"} {
		if _, ok := c[hidden]; ok {
			t.Errorf("undisclosed claim %q revealed", hidden)
		}
	}
	if res.Type != credential.ProfileCN.VCT || res.Status == nil || res.Status.Index != 42 || !res.HolderKey.Equal(&f.holder.Key.PublicKey) {
		t.Errorf("result = %+v", res)
	}
	if _, ok := c["_sd"]; ok {
		t.Error("_sd left in claims")
	}
}

// TestIssuerJWTVerifiesWithGoJose checks our hand-written JWS against go-jose.
func TestIssuerJWTVerifiesWithGoJose(t *testing.T) {
	f := newFixture(t)
	jwt := f.issued[:strings.IndexByte(f.issued, '~')]
	jws, err := jose.ParseSignedCompact(jwt, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jws.Verify(&f.iss.Key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if typ := jws.Signatures[0].Protected.ExtraHeaders["typ"]; typ != TypeVC {
		t.Errorf("typ = %v", typ)
	}
}

func TestDecoys(t *testing.T) {
	f := newFixture(t)
	p, _ := split(f.issued, 1<<24)
	raw, _ := decodeSegment(p.payload)
	var c map[string]any
	json.Unmarshal(raw, &c)
	sd := c["_sd"].([]any)
	top := 0
	for _, a := range credential.ProfileCN.Attributes(mustPID(t), t0) {
		if len(a.JWT) == 1 {
			top++
		}
	}
	if len(sd) <= top || len(sd)%4 != 0 {
		t.Errorf("top-level _sd has %d digests for %d claims: want decoys, a multiple of 4", len(sd), top)
	}
}

func mustPID(t testing.TB) credential.PID {
	p, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// b64json re-encodes a JWT segment after edit.
func editSegment(t testing.TB, seg string, edit func(map[string]any)) string {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	out, _ := json.Marshal(m)
	return base64.RawURLEncoding.EncodeToString(out)
}

func TestHostile(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	disclose := []string{"given_name", "family_name", "age_equal_or_over.18"}
	good := f.present(t, disclose, want.Audience, want.Nonce, now)
	other, err := credtest.NewIssuer("rogue", t0.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, "~")
	jwtParts := strings.Split(parts[0], ".")
	issuedParts := strings.Split(f.issued, "~")

	tests := []struct {
		name  string
		pres  func() string
		want  Expect
		now   time.Time
		setup func(v *Verifier)
		err   error
	}{
		{name: "tampered payload", pres: func() string {
			jp := append([]string(nil), jwtParts...)
			jp[1] = editSegment(t, jp[1], func(m map[string]any) { m["exp"] = float64(t0.AddDate(9, 0, 0).Unix()) })
			p := append([]string(nil), parts...)
			p[0] = strings.Join(jp, ".")
			return strings.Join(p, "~")
		}, err: credential.ErrSignature},
		{name: "tampered disclosure", pres: func() string {
			p := append([]string(nil), parts...)
			for i := 1; i < len(p)-1; i++ {
				raw, _ := base64.RawURLEncoding.DecodeString(p[i])
				if strings.Contains(string(raw), `"given_name"`) {
					p[i] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(raw), "三", "四", 1)))
				}
			}
			return strings.Join(p, "~")
		}, err: credential.ErrDisclosure},
		{name: "foreign disclosure", pres: func() string {
			d, _, _ := newDisclosure(strings.NewReader(strings.Repeat("x", 64)), "id_number", "110101199003070011")
			p := append([]string(nil), parts[:len(parts)-1]...)
			p = append(p, d, parts[len(parts)-1])
			return strings.Join(p, "~")
		}, err: credential.ErrDisclosure},
		{name: "duplicated disclosure", pres: func() string {
			p := append([]string(nil), parts[:len(parts)-1]...)
			p = append(p, parts[1], parts[len(parts)-1])
			return strings.Join(p, "~")
		}, err: credential.ErrDisclosure},
		{name: "disclosure added after key binding", pres: func() string {
			// A disclosure the issuer did sign, but the holder did not present.
			var extra string
			for _, d := range issuedParts[1 : len(issuedParts)-1] {
				if raw, _ := base64.RawURLEncoding.DecodeString(d); strings.Contains(string(raw), `"id_number"`) {
					extra = d
				}
			}
			p := append([]string(nil), parts[:len(parts)-1]...)
			p = append(p, extra, parts[len(parts)-1])
			return strings.Join(p, "~")
		}, err: credential.ErrHolderBinding},
		{name: "wrong issuer key", pres: func() string {
			p, err := Issue(context.Background(), IssueParams{Issuer: "x", Profile: credential.ProfileCN, PID: mustPID(t),
				Holder: &f.holder.Key.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
				Signer: other.Signer(), Chain: f.iss.Chain}) // claims our chain, signed by another key
			if err != nil {
				t.Fatal(err)
			}
			pr, _ := Present(context.Background(), p, disclose, f.holder.Key, want.Audience, want.Nonce, now)
			return pr
		}, err: credential.ErrSignature},
		{name: "iss not in the certificate", pres: func() string {
			p, err := Issue(context.Background(), IssueParams{Issuer: "https://evil.example", Profile: credential.ProfileCN, PID: mustPID(t),
				Holder: &f.holder.Key.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
				Signer: f.iss.Signer(), Chain: f.iss.Chain})
			if err != nil {
				t.Fatal(err)
			}
			pr, _ := Present(context.Background(), p, disclose, f.holder.Key, want.Audience, want.Nonce, now)
			return pr
		}, err: credential.ErrUntrusted},
		{name: "certificate without subjectAltName", pres: func() string {
			// A document signer under the trusted root, but with no name
			// that iss could be bound to: any iss would do.
			leaf, key := leafWithoutSAN(t, f.iss)
			p, err := Issue(context.Background(), IssueParams{Issuer: "https://evil.example", Profile: credential.ProfileCN, PID: mustPID(t),
				Holder: &f.holder.Key.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
				Signer: key, Chain: []*x509.Certificate{leaf}})
			if err != nil {
				t.Fatal(err)
			}
			pr, _ := Present(context.Background(), p, disclose, f.holder.Key, want.Audience, want.Nonce, now)
			return pr
		}, err: credential.ErrUntrusted},
		{name: "case-variant header member", pres: func() string {
			jp := append([]string(nil), jwtParts...)
			jp[0] = editSegment(t, jp[0], func(m map[string]any) { m["alg"] = "none"; m["ALG"] = "ES256" })
			p := append([]string(nil), parts...)
			p[0] = strings.Join(jp, ".")
			return strings.Join(p, "~")
		}, err: credential.ErrUnsupported},
		{name: "untrusted issuer", pres: func() string {
			p, _ := Issue(context.Background(), IssueParams{Issuer: "x", Profile: credential.ProfileCN, PID: mustPID(t),
				Holder: &f.holder.Key.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0),
				Signer: other.Signer(), Chain: other.Chain})
			pr, _ := Present(context.Background(), p, disclose, f.holder.Key, want.Audience, want.Nonce, now)
			return pr
		}, err: credential.ErrUntrusted},
		{name: "wrong holder key", pres: func() string {
			pr, _ := Present(context.Background(), f.issued, disclose, credtest.HolderKey(), want.Audience, want.Nonce, now)
			return pr
		}, err: credential.ErrHolderBinding},
		{name: "no key binding", pres: func() string { return strings.Join(parts[:len(parts)-1], "~") + "~" }, err: credential.ErrHolderBinding},
		{name: "expired", pres: func() string {
			return f.present(t, disclose, want.Audience, want.Nonce, t0.AddDate(1, 0, 1))
		}, now: t0.AddDate(1, 0, 1), err: credential.ErrExpired},
		{name: "not yet valid", pres: func() string {
			return f.present(t, disclose, want.Audience, want.Nonce, t0.Add(-time.Hour))
		}, now: t0.Add(-time.Hour), err: credential.ErrNotYetValid},
		{name: "stale key binding", pres: func() string { return good }, now: now.Add(time.Hour), err: credential.ErrStale},
		{name: "revoked", pres: func() string { return good }, setup: func(v *Verifier) {
			s := &credtest.Status{}
			s.Set("https://id.shenfen.test/status/1", 42, credential.StatusInvalid)
			v.Status = s
		}, err: credential.ErrRevoked},
		{name: "suspended", pres: func() string { return good }, setup: func(v *Verifier) {
			s := &credtest.Status{}
			s.Set("https://id.shenfen.test/status/1", 42, credential.StatusSuspended)
			v.Status = s
		}, err: credential.ErrSuspended},
		{name: "status unavailable", pres: func() string { return good }, setup: func(v *Verifier) {
			v.Status = &credtest.Status{Err: errors.New("offline")}
		}, err: credential.ErrStatus},
		{name: "no status checker", pres: func() string { return good }, setup: func(v *Verifier) { v.Status = nil }, err: credential.ErrStatus},
		{name: "wrong nonce", pres: func() string { return good }, want: Expect{Nonce: "other", Audience: want.Audience}, err: credential.ErrNonce},
		{name: "wrong audience", pres: func() string { return good }, want: Expect{Nonce: want.Nonce, Audience: "https://bar.example"}, err: credential.ErrAudience},
		{name: "replayed nonce", pres: func() string { return good }, setup: func(v *Verifier) {
			if _, err := v.Verify(context.Background(), good, want); err != nil {
				t.Fatalf("first use: %v", err)
			}
		}, err: credential.ErrReplay},
		{name: "truncated", pres: func() string { return good[:len(good)/2] }, err: credential.ErrMalformed},
		{name: "truncated key binding", pres: func() string { return good[:len(good)-10] }, err: credential.ErrHolderBinding},
		{name: "oversized", pres: func() string { return good + strings.Repeat("A", 600<<10) }, err: credential.ErrTooLarge},
		{name: "no separator", pres: func() string { return parts[0] }, err: credential.ErrMalformed},
		{name: "alg none", pres: func() string {
			jp := append([]string(nil), jwtParts...)
			jp[0] = editSegment(t, jp[0], func(m map[string]any) { m["alg"] = "none" })
			p := append([]string(nil), parts...)
			p[0] = strings.Join(jp, ".")
			return strings.Join(p, "~")
		}, err: credential.ErrUnsupported},
		{name: "case-folded header", pres: func() string {
			jp := append([]string(nil), jwtParts...)
			jp[0] = editSegment(t, jp[0], func(m map[string]any) { m["ALG"] = "none" })
			p := append([]string(nil), parts...)
			p[0] = strings.Join(jp, ".")
			return strings.Join(p, "~")
		}, err: credential.ErrUnsupported},
		{name: "duplicate header member", pres: func() string {
			jp := append([]string(nil), jwtParts...)
			jp[0] = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"dc+sd-jwt","alg":"none"}`))
			p := append([]string(nil), parts...)
			p[0] = strings.Join(jp, ".")
			return strings.Join(p, "~")
		}, err: credential.ErrMalformed},
		{name: "garbage", pres: func() string { return "~~~" }, err: credential.ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			at := tc.now
			if at.IsZero() {
				at = now
			}
			v := f.verifier(at)
			if tc.setup != nil {
				tc.setup(v)
			}
			w := tc.want
			if w == (Expect{}) {
				w = want
			}
			_, err := v.Verify(context.Background(), tc.pres(), w)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
		})
	}
	// Control: the untouched presentation verifies.
	if _, err := f.verifier(now).Verify(context.Background(), good, want); err != nil {
		t.Fatalf("control: %v", err)
	}
}

// leafWithoutSAN issues a document signer under iss's root that is like
// iss's own but carries no subjectAltName.
func leafWithoutSAN(t *testing.T, iss *credtest.Issuer) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(99), Subject: iss.Leaf.Subject,
		NotBefore: iss.Leaf.NotBefore, NotAfter: iss.Leaf.NotAfter, KeyUsage: iss.Leaf.KeyUsage,
	}
	for _, e := range iss.Leaf.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			tpl.ExtraExtensions = append(tpl.ExtraExtensions, e)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, iss.Root, k.Public(), iss.RootKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil || len(c.URIs) != 0 || len(c.DNSNames) != 0 {
		t.Fatalf("leaf without SAN: %v", err)
	}
	return c, k
}

func TestDERSignature(t *testing.T) {
	cases := [][2][]byte{}
	for _, r := range [][]byte{
		make([]byte, 32), // zero
		append([]byte{0x80}, make([]byte, 31)...),             // high bit: needs a 0x00 pad
		append([]byte{0x00, 0x00, 0x7f}, make([]byte, 29)...), // leading zeros trimmed
		append([]byte{0x00, 0x80}, make([]byte, 30)...),       // trimmed to a high bit: pad
		[]byte("0123456789abcdef0123456789abcdef"),
	} {
		for _, s := range [][]byte{r, []byte("\xff123456789abcdef0123456789abcde")} {
			cases = append(cases, [2][]byte{r, s})
		}
	}
	for _, c := range cases {
		want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(c[0]), new(big.Int).SetBytes(c[1])})
		if err != nil {
			t.Fatal(err)
		}
		if got := derSignature(nil, c[0], c[1]); !bytes.Equal(got, want) {
			t.Errorf("derSignature(%x, %x) = %x, want %x", c[0], c[1], got, want)
		}
	}
}

func TestProfileEU(t *testing.T) {
	f := newFixture(t)
	issued, err := Issue(context.Background(), IssueParams{Issuer: "https://id.shenfen.test", Profile: credential.ProfileEU, PID: mustPID(t),
		Holder: &f.holder.Key.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: f.iss.Signer(), Chain: f.iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	now := t0.Add(time.Hour)
	pres, err := Present(context.Background(), issued, []string{"personal_administrative_number", "age_equal_or_over", "address"}, f.holder.Key, want.Audience, want.Nonce, now)
	if err != nil {
		t.Fatal(err)
	}
	v := f.verifier(now)
	v.Types = []string{credential.ProfileEU.VCT}
	res, err := v.Verify(context.Background(), pres, want)
	if err != nil {
		t.Fatal(err)
	}
	c := res.Claims
	age := c["age_equal_or_over"].(map[string]any)
	if c["personal_administrative_number"] != "44011519900307001X" || len(age) != len(credential.AgeThresholds) || age["60"] != false {
		t.Errorf("claims = %v", c)
	}
	if c["address"].(map[string]any)["formatted"] == nil || c["family_name"] != nil {
		t.Errorf("claims = %v", c)
	}
	v.Types = []string{credential.ProfileCN.VCT}
	if _, err := v.Verify(context.Background(), pres, want); !errors.Is(err, credential.ErrUnsupported) {
		t.Errorf("unexpected vct: %v", err)
	}
}

// TestHeaderCacheOnlyVerified checks that headers with no valid signature
// are not cached (an attacker cannot fill the cache).
func TestHeaderCacheOnlyVerified(t *testing.T) {
	f := newFixture(t)
	now := t0.Add(time.Hour)
	good := f.present(t, []string{"given_name"}, want.Audience, want.Nonce, now)
	parts := strings.Split(good, "~")
	jp := strings.Split(parts[0], ".")
	v := f.verifier(now)
	v.Nonces = nil
	for i := range 20 {
		h := editSegment(t, jp[0], func(m map[string]any) { m["kid"] = fmt.Sprint("k", i) })
		p := append([]string(nil), parts...)
		p[0] = h + "." + jp[1] + "." + jp[2]
		if _, err := v.Verify(context.Background(), strings.Join(p, "~"), want); !errors.Is(err, credential.ErrSignature) {
			t.Fatalf("forged header %d: %v", i, err)
		}
	}
	if n := v.nHeaders.Load(); n != 0 {
		t.Fatalf("%d unverified headers cached", n)
	}
	if _, err := v.Verify(context.Background(), good, want); err != nil {
		t.Fatal(err)
	}
	if n := v.nHeaders.Load(); n != 1 {
		t.Fatalf("%d headers cached after a good presentation, want 1", n)
	}
}

func TestIssueRefusesNonP256Holder(t *testing.T) {
	f := newFixture(t)
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, err := Issue(context.Background(), IssueParams{Issuer: credtest.IssuerURL, Profile: credential.ProfileCN, PID: mustPID(t),
		Holder: &k.PublicKey, IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: f.iss.Signer(), Chain: f.iss.Chain})
	if err == nil {
		t.Fatal("issued to a P-384 holder key")
	}
}

func TestReconstructArrayElements(t *testing.T) {
	enc := func(v ...any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	cn, hk := enc("s1", "CN"), enc("s2", "HK")
	obj := enc("s3", "name", "x")
	payload := func() map[string]any {
		return map[string]any{"nat": []any{
			map[string]any{"...": digestOf(cn)}, map[string]any{"...": digestOf(hk)}, "MO",
		}}
	}
	c := payload()
	if err := reconstruct(c, []string{cn}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(c["nat"]); got != "[CN MO]" {
		t.Errorf("nat = %s, want [CN MO]", got)
	}
	c = payload()
	c["nat"] = append(c["nat"].([]any), map[string]any{"...": digestOf(obj)})
	if err := reconstruct(c, []string{obj}); !errors.Is(err, credential.ErrDisclosure) {
		t.Errorf("object disclosure in an array: %v", err)
	}
	c = payload()
	c["_sd"] = []any{digestOf(cn)}
	if err := reconstruct(c, []string{cn}); !errors.Is(err, credential.ErrDisclosure) {
		t.Errorf("array-element disclosure in an object: %v", err)
	}
}
