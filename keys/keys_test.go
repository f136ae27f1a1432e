package keys_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
)

func master(b byte) keys.Sealer {
	s, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{b}, 32)})
	if err != nil {
		panic(err)
	}
	return s
}

func signVerify(t *testing.T, s crypto.Signer) {
	t.Helper()
	d := sha256.Sum256([]byte("hello"))
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature does not verify")
	}
}

func TestFileProvider(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := keys.NewFileProvider(dir, master(1))
	k, err := p.Generate(ctx, "ds-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(ctx, "ds-1"); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second Generate: %v", err)
	}
	st, _ := os.Stat(filepath.Join(dir, "ds-1.key"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", st.Mode())
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "ds-1.key"))
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	if bytes.Contains(raw, der[len(der)-40:]) {
		t.Fatal("key file holds the key in the clear")
	}
	k2, err := p.Signer(ctx, "ds-1")
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatal("reopened key differs")
	}
	signVerify(t, k2)

	wrong := keys.NewFileProvider(dir, master(2))
	if _, err := wrong.Signer(ctx, "ds-1"); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("wrong master key: %v", err)
	}
	// A key file copied under another label does not open (label is AAD).
	os.WriteFile(filepath.Join(dir, "ds-2.key"), raw, 0o600)
	if _, err := p.Signer(ctx, "ds-2"); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("swapped key file: %v", err)
	}
	bad := append([]byte{}, raw...)
	bad[40] ^= 1
	os.WriteFile(filepath.Join(dir, "ds-3.key"), bad, 0o600)
	if _, err := p.Signer(ctx, "ds-3"); err == nil {
		t.Fatal("altered key file opened")
	}
	if _, err := p.Signer(ctx, "nope"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	for _, l := range []string{"", "../x", "A", "a/b", string(make([]byte, 70))} {
		if _, err := p.Generate(ctx, l); err == nil {
			t.Fatalf("label %q accepted", l)
		}
	}
}

func openRing(t *testing.T, dir string, now *time.Time) *keys.Ring {
	t.Helper()
	p := keys.NewFileProvider(filepath.Join(dir, "keys"), master(7))
	r, err := keys.Open(context.Background(), filepath.Join(dir, "keys"), p,
		keys.Config{Issuer: "https://id.example", Now: func() time.Time { return *now }, SignerLife: 400 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRingProfileAndRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Now()
	r := openRing(t, dir, &now)
	root := r.Root()
	if !root.IsCA || root.MaxPathLen != 0 || root.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Fatalf("root profile: CA %v pathlen %d usage %v", root.IsCA, root.MaxPathLen, root.KeyUsage)
	}
	first, err := r.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Made() {
		t.Fatal("first Open did not report making the ring")
	}
	ds := first.Cert
	if ds.IsCA || ds.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Fatalf("DS profile: CA %v usage %v", ds.IsCA, ds.KeyUsage)
	}
	var ekuCritical bool
	for _, e := range ds.Extensions {
		if e.Id.Equal(asn1.ObjectIdentifier{2, 5, 29, 37}) {
			ekuCritical = e.Critical
		}
	}
	if len(ds.UnknownExtKeyUsage) != 1 || !ds.UnknownExtKeyUsage[0].Equal(keys.OIDMdocDS) || !ekuCritical {
		t.Fatalf("DS extended key usage %v (critical %v), want critical 1.0.18013.5.1.2", ds.UnknownExtKeyUsage, ekuCritical)
	}
	if len(ds.URIs) != 1 || ds.URIs[0].String() != "https://id.example" {
		t.Fatalf("DS URIs %v", ds.URIs)
	}
	if err := ds.CheckSignatureFrom(root); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root)
	if _, err := ds.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("DS does not verify to the root: %v", err)
	}
	signVerify(t, first.Key)

	// Rotate: a new current signer, the old one still published.
	now = now.Add(24 * time.Hour)
	second, err := r.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := r.Current(ctx); cur.KeyID != second.KeyID || second.KeyID == first.KeyID {
		t.Fatal("rotation did not change the current signer")
	}
	jwks := r.JWKS(now)
	if len(jwks.Keys) != 2 || jwks.Keys[0].Kid != second.KeyID || jwks.Keys[1].Kid != first.KeyID {
		t.Fatalf("JWKS after rotation: %+v", jwks)
	}
	tl := r.TrustList(now)
	if len(tl.Anchors) != 1 || len(tl.Signers) != 2 || !tl.Signers[0].Current || tl.Signers[1].Current {
		t.Fatalf("trust list: %+v", tl)
	}
	// A reopened ring (restart) keeps both and the same root.
	r2 := openRing(t, dir, &now)
	if !r2.Root().Equal(root) || len(r2.JWKS(now).Keys) != 2 || r2.Made() {
		t.Fatal("reopened ring differs")
	}
	// Another process rotating is seen by the running one.
	time.Sleep(20 * time.Millisecond) // distinct file modification time
	third, err := r2.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := r.Current(ctx); cur.KeyID != third.KeyID {
		t.Fatal("running ring did not pick up a rotation made elsewhere")
	}
	// After the first signer's certificate expires it is no longer published.
	later := first.Cert.NotAfter.Add(time.Second)
	for _, k := range r.JWKS(later).Keys {
		if k.Kid == first.KeyID {
			t.Fatal("expired signer still published")
		}
	}
	// A JWKS key's kid is its RFC 7638 thumbprint and it carries x5c.
	b, _ := json.Marshal(jwks.Keys[0])
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["kty"] != "EC" || m["crv"] != "P-256" || m["alg"] != "ES256" || m["use"] != "sig" || len(m["x5c"].([]any)) != 2 {
		t.Fatalf("JWK %s", b)
	}
	if _, ok := m["d"]; ok {
		t.Fatal("private key in JWKS")
	}
	sk, _ := r.SigningKey(ctx)
	if sk.KeyID != third.KeyID || len(sk.Chain) != 1 || !bytes.Equal(sk.Chain[0], third.Cert.Raw) {
		t.Fatalf("signing key %+v", sk)
	}
	// Rotation when due: not with plenty of validity left, yes near the end.
	if s, rotated, err := r.RotateIfDue(ctx, 30*24*time.Hour); err != nil || rotated || s.KeyID != third.KeyID {
		t.Fatalf("RotateIfDue with 400 days left: rotated %v, %v", rotated, err)
	}
	if s, rotated, err := r.RotateIfDue(ctx, 500*24*time.Hour); err != nil || !rotated || s.KeyID == third.KeyID {
		t.Fatalf("RotateIfDue with less than asked left: rotated %v, %v", rotated, err)
	}
}

func TestRingWrongMasterKeyFailsAtOpen(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	openRing(t, dir, &now)
	p := keys.NewFileProvider(filepath.Join(dir, "keys"), master(8))
	if _, err := keys.Open(context.Background(), filepath.Join(dir, "keys"), p, keys.Config{Issuer: "https://id.example"}); !errors.Is(err, keys.ErrSealed) {
		t.Fatalf("open with the wrong master key: %v", err)
	}
}

// TestFileProviderKinds: Ed25519 and RSA keys are sealed like P-256 ones,
// and a file opens only as the kind it holds.
func TestFileProviderKinds(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := keys.NewFileProvider(dir, master(3))
	for _, kind := range []string{keys.KindP256, keys.KindEd25519, keys.KindRSA} {
		label := strings.ToLower(strings.ReplaceAll(kind, "-", ""))
		k, err := p.OpenOrGenerate(ctx, label, kind)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		again, err := p.OpenOrGenerate(ctx, label, kind)
		if err != nil {
			t.Fatalf("%s reopened: %v", kind, err)
		}
		if !reflect.DeepEqual(k.Public(), again.Public()) {
			t.Fatalf("%s: reopening gave another key", kind)
		}
		for _, other := range []string{keys.KindP256, keys.KindEd25519, keys.KindRSA} {
			if other != kind {
				if _, err := p.SignerKind(ctx, label, other); err == nil {
					t.Fatalf("a %s key opened as %s", kind, other)
				}
			}
		}
		if _, err := keys.NewFileProvider(dir, master(4)).SignerKind(ctx, label, kind); !errors.Is(err, keys.ErrSealed) {
			t.Fatalf("%s under another master key: %v", kind, err)
		}
	}
	if _, ok := mustOpen(t, p, "ed25519", keys.KindEd25519).(ed25519.PrivateKey); !ok {
		t.Fatal("Ed25519 key of another type")
	}
	if _, ok := mustOpen(t, p, "rsa2048", keys.KindRSA).(*rsa.PrivateKey); !ok {
		t.Fatal("RSA key of another type")
	}
	if _, err := p.GenerateKind(ctx, "x", "DSA"); err == nil {
		t.Fatal("unknown kind accepted")
	}
}

func mustOpen(t *testing.T, p *keys.FileProvider, label, kind string) crypto.Signer {
	t.Helper()
	s, err := p.SignerKind(context.Background(), label, kind)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
