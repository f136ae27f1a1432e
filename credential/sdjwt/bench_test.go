package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/internal/benchutil"
)

// hotel is what a hotel check-in discloses (no portrait).
var hotel = []string{"family_name", "given_name", "birthdate", "id_number", "age_equal_or_over.18"}

func BenchmarkIssueSDJWT(b *testing.B) {
	fx := newFixture(b)
	pid := mustPID(b)
	p := IssueParams{Issuer: "https://id.shenfen.test", Profile: credential.ProfileCN, PID: pid,
		Holder: &fx.holder.Key.PublicKey, Status: &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 1},
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: fx.iss.Signer(), Chain: fx.iss.Chain}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, disclose []string) {
	fx := newFixture(b)
	now := t0.Add(time.Hour)
	pres := fx.present(b, disclose, want.Audience, want.Nonce, now)
	v := fx.verifier(now)
	v.Nonces = nil // a nonce is single-use; the benchmark replays one presentation
	b.SetBytes(int64(len(pres)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), pres, want); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifySDJWT is the full verification of a hotel presentation.
func BenchmarkVerifySDJWT(b *testing.B) { benchVerify(b, hotel) }

// BenchmarkVerifySDJWTPortrait adds the portrait (a ~47 KB disclosure to hash).
func BenchmarkVerifySDJWTPortrait(b *testing.B) { benchVerify(b, append(hotel, "picture")) }

type rawJob struct {
	pub   *ecdsa.PublicKey
	input []byte
	sig   []byte
}

// rawJobs returns the two signature verifications a presentation needs
// (issuer JWT, key-binding JWT): SHA-256 of the signing input and ECDSA
// P-256 verification of a DER signature, with nothing else (no base64, no
// JSON, no chain).
func rawJobs(b *testing.B, fx *fixture, pres string) []rawJob {
	jwt := pres[:strings.IndexByte(pres, '~')]
	kb := pres[strings.LastIndexByte(pres, '~')+1:]
	prep := func(pub *ecdsa.PublicKey, jws string) rawJob {
		i := strings.LastIndexByte(jws, '.')
		raw, _ := base64.RawURLEncoding.DecodeString(jws[i+1:])
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
		return rawJob{pub, []byte(jws[:i]), der}
	}
	jobs := []rawJob{prep(&fx.iss.Key.PublicKey, jwt), prep(&fx.holder.Key.PublicKey, kb)}
	runRaw(b, jobs)
	return jobs
}

func runRaw(b *testing.B, jobs []rawJob) {
	for _, j := range jobs {
		h := sha256.Sum256(j.input)
		if !ecdsa.VerifyASN1(j.pub, h[:], j.sig) {
			b.Fatal("raw verification failed")
		}
	}
}

// BenchmarkVerifySDJWTRaw is the raw limit: only the two signature
// verifications a presentation needs (SHA-256 + ECDSA P-256 each).
func BenchmarkVerifySDJWTRaw(b *testing.B) {
	fx := newFixture(b)
	jobs := rawJobs(b, fx, fx.present(b, hotel, want.Audience, want.Nonce, t0.Add(time.Hour)))
	b.ReportAllocs()
	for b.Loop() {
		runRaw(b, jobs)
	}
}

// BenchmarkVerifySDJWTRatio alternates a full verification and the raw
// limit in the same loop and reports full/raw (see benchutil.Ratio).
func BenchmarkVerifySDJWTRatio(b *testing.B) {
	fx := newFixture(b)
	now := t0.Add(time.Hour)
	pres := fx.present(b, hotel, want.Audience, want.Nonce, now)
	jobs := rawJobs(b, fx, pres)
	v := fx.verifier(now)
	v.Nonces = nil
	benchutil.Ratio(b, func() {
		if _, err := v.Verify(context.Background(), pres, want); err != nil {
			b.Fatal(err)
		}
	}, func() { runRaw(b, jobs) })
}
