package pkcs11_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/keys/pkcs11"
)

// softHSM points SoftHSM at a fresh token directory, initialises a token
// there (C_InitToken, then the user PIN with C_InitPIN) and returns the
// module path. A missing SoftHSM fails the test: the test command installs
// it (scripts/setup.d/softhsm.debs).
func softHSM(t *testing.T, label, pin string) string {
	t.Helper()
	lib, err := pkcs11.FindLibrary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "softhsm2.conf")
	os.MkdirAll(filepath.Join(dir, "tokens"), 0o700)
	os.WriteFile(conf, []byte("directories.tokendir = "+filepath.Join(dir, "tokens")+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	c := p11.New(lib)
	if c == nil {
		t.Fatalf("cannot load %s", lib)
	}
	defer c.Destroy()
	if err := c.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer c.Finalize()
	slots, err := c.GetSlotList(false)
	if err != nil || len(slots) == 0 {
		t.Fatalf("slots: %v %v", slots, err)
	}
	if err := c.InitToken(slots[0], "so-pin-1234", label); err != nil {
		t.Fatalf("init token: %v", err)
	}
	// SoftHSM moves the initialised token to a new slot: find it by label.
	slots, _ = c.GetSlotList(true)
	for _, s := range slots {
		ti, _ := c.GetTokenInfo(s)
		if ti.Label != label {
			continue
		}
		sh, err := c.OpenSession(s, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Login(sh, p11.CKU_SO, "so-pin-1234"); err != nil {
			t.Fatal(err)
		}
		if err := c.InitPIN(sh, pin); err != nil {
			t.Fatal(err)
		}
		c.Logout(sh)
		c.CloseSession(sh)
		return lib
	}
	t.Fatalf("initialised token %q not found", label)
	return ""
}

func TestSoftHSM(t *testing.T) {
	ctx := context.Background()
	lib := softHSM(t, "shenfen-test", "user-pin-5678")
	if _, err := pkcs11.Open(lib, "shenfen-test", "wrong-pin"); err == nil {
		t.Fatal("wrong PIN accepted")
	}
	if _, err := pkcs11.Open(lib, "no-such-token", "user-pin-5678"); err == nil {
		t.Fatal("unknown token accepted")
	}
	p, err := pkcs11.Open(lib, "shenfen-test", "user-pin-5678")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	k, err := p.Generate(ctx, "ds-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Generate(ctx, "ds-test"); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second Generate: %v", err)
	}
	if _, err := p.Signer(ctx, "missing"); !errors.Is(err, keys.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	k2, err := p.Signer(ctx, "ds-test")
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public().(*ecdsa.PublicKey)
	if !pub.Equal(k2.Public()) {
		t.Fatal("reopened key differs")
	}
	for i := 0; i < 20; i++ { // r and s with leading zero bytes come up in 20 tries with p ≈ 15%
		d := sha256.Sum256([]byte{byte(i)})
		sig, err := k2.Sign(rand.Reader, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(pub, d[:], sig) {
			t.Fatalf("token signature %d does not verify with crypto/ecdsa", i)
		}
	}
	if _, err := k2.Sign(rand.Reader, []byte("short"), crypto.SHA256); err == nil {
		t.Fatal("signed a non-digest")
	}

	// The whole ring on the token: root CA, document signer, rotation.
	dir := t.TempDir()
	r, err := keys.Open(ctx, dir, p, keys.Config{Issuer: "https://id.example"})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := r.Current(ctx)
	if _, err := r.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	cur, _ := r.Current(ctx)
	pool := x509.NewCertPool()
	pool.AddCert(r.Root())
	for _, s := range []*keys.Signer{first, cur} {
		if _, err := s.Cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: time.Now()}); err != nil {
			t.Fatalf("HSM-issued certificate: %v", err)
		}
	}
	d := sha256.Sum256([]byte("card"))
	sig, err := cur.Key.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(cur.Cert.PublicKey.(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("HSM document signer: %v", err)
	}
	// Reopening the ring finds the keys in the token again.
	if _, err := keys.Open(ctx, dir, p, keys.Config{Issuer: "https://id.example"}); err != nil {
		t.Fatal(err)
	}
}
