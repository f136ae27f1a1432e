package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"slices"
	"testing"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

// benchRequest is a registered desk's signed request, the wallet's checker
// for it (registry look-up in memory) and the request's parsed JWS.
func benchRequest(b *testing.B) (string, func() *verifier.Checker, *jws.Parsed, *ecdsa.PublicKey) {
	ctx := context.Background()
	e := newEnv(b, storetest.SQLite(b))
	e.now = time.Now().UTC()
	desk, _, err := e.reg.Register(ctx, hotelSpec())
	if err != nil {
		b.Fatal(err)
	}
	key, err := e.reg.Signer(ctx, desk)
	if err != nil {
		b.Fatal(err)
	}
	obj, err := verifier.Sign(key, desk.Cert, requestFor(desk, time.Now(), "family_name", "given_name", "id_number", "picture"))
	if err != nil {
		b.Fatal(err)
	}
	pub := desk.Public()
	lookup := func(_ context.Context, h string) (verifier.Public, error) {
		if h != pub.CertHash {
			return verifier.Public{}, verifier.ErrNotFound
		}
		return pub, nil
	}
	p, err := jws.Parse([]byte(obj), 1<<16)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := desk.Certificate()
	return obj, func() *verifier.Checker { return &verifier.Checker{Root: e.ring.Root(), Lookup: lookup} }, p, cert.PublicKey.(*ecdsa.PublicKey)
}

// BenchmarkCheckRequest: the wallet's check of a request from a verifier
// whose certificate it has seen (the usual case: one signature
// verification, the request's).
func BenchmarkCheckRequest(b *testing.B) {
	obj, checker, _, _ := benchRequest(b)
	c := checker()
	ctx := context.Background()
	if _, err := c.Check(ctx, obj, ""); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Check(ctx, obj, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckRequestFirst: a verifier's first request (its certificate's
// chain to the root is checked too: two signature verifications).
func BenchmarkCheckRequestFirst(b *testing.B) {
	obj, checker, _, _ := benchRequest(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := checker().Check(ctx, obj, ""); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckRequestRatio alternates, in one loop, the full check of a
// known verifier's request, the full check of a first request, and the raw
// cost of one signature verification (SHA-256 + ECDSA P-256 of the same
// JWS), and reports full/raw as "x-sig" (mean) and "x-sig-median", and
// first/raw as "first-x-sig-median": the signature verifications a check
// costs, in units of one.
func BenchmarkCheckRequestRatio(b *testing.B) {
	obj, checker, p, pub := benchRequest(b)
	c := checker()
	ctx := context.Background()
	if _, err := c.Check(ctx, obj, ""); err != nil {
		b.Fatal(err)
	}
	var full, first, raw []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if _, err := c.Check(ctx, obj, ""); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := checker().Check(ctx, obj, ""); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if err := p.Verify(pub); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		full, first, raw = append(full, t1.Sub(t0)), append(first, t2.Sub(t1)), append(raw, t3.Sub(t2))
	}
	sum := func(d []time.Duration) (s time.Duration) {
		for _, x := range d {
			s += x
		}
		return s
	}
	med := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	b.ReportMetric(float64(sum(full))/float64(sum(raw)), "x-sig")
	b.ReportMetric(float64(med(full))/float64(med(raw)), "x-sig-median")
	b.ReportMetric(float64(med(first))/float64(med(raw)), "first-x-sig-median")
}
