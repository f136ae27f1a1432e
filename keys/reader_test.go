package keys_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/shenfen/shenfen/keys"
)

func TestIssueReader(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	r := openRing(t, t.TempDir(), &now)
	k, err := r.ReaderKey(ctx, "reader-desk-1", true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.IssueReader(ctx, keys.Reader{Key: k.Public(), Name: "Hotel", DNSNames: []string{"desk.example"}})
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(r.Root())
	if _, err := c.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, DNSName: "desk.example",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("reader certificate does not chain to the root: %v", err)
	}
	if c.IsCA || c.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Fatalf("profile: CA %v, key usage %v", c.IsCA, c.KeyUsage)
	}
	if len(c.UnknownExtKeyUsage) != 1 || !c.UnknownExtKeyUsage[0].Equal(keys.OIDMdocReaderAuth) {
		t.Fatalf("extended key usage %v, want mdoc reader auth", c.UnknownExtKeyUsage)
	}
	if !c.NotAfter.After(now.Add(364*24*time.Hour)) || c.NotAfter.After(r.Root().NotAfter) {
		t.Fatalf("validity until %v", c.NotAfter)
	}
	again, err := r.ReaderKey(ctx, "reader-desk-1", false)
	if err != nil || !again.Public().(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Fatalf("reopen reader key: %v", err)
	}
	if _, err := r.ReaderKey(ctx, "reader-desk-1", true); !errors.Is(err, keys.ErrExists) {
		t.Fatalf("second create: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for name, req := range map[string]keys.Reader{
		"P-384 key":   {Key: other.Public(), Name: "x", DNSNames: []string{"a.example"}},
		"no DNS name": {Key: k.Public(), Name: "x"},
	} {
		if _, err := r.IssueReader(ctx, req); !errors.Is(err, keys.ErrReader) {
			t.Errorf("%s: %v, want ErrReader", name, err)
		}
	}
}
