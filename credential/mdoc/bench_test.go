package mdoc

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/internal/benchutil"
)

var hotel = []string{"family_name", "given_name", "birth_date", "id_number", "age_over_18"}

func BenchmarkIssueMdoc(b *testing.B) {
	fx := newFixture(b)
	p := IssueParams{Profile: credential.ProfileCN, PID: mustPID(b), Holder: &fx.holder.Key.PublicKey,
		Status:   &credential.StatusRef{URI: statusURI, Index: 7},
		IssuedAt: t0, ExpiresAt: t0.AddDate(1, 0, 0), Signer: fx.iss.Signer(), Chain: fx.iss.Chain}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, elements []string) {
	fx := newFixture(b)
	st := transcript(b, "nonce-1", "https://hotel.example")
	resp, err := Present(context.Background(), fx.issued, map[string][]string{ns: elements}, fx.holder.Key, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	now := t0.Add(time.Hour)
	v := &Verifier{Anchors: fx.iss.Anchors(), Status: fx.verifier(now).Status, Clock: func() time.Time { return now }}
	b.SetBytes(int64(len(resp)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), resp, Expect{SessionTranscript: st}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyMdoc is the full verification of a hotel DeviceResponse.
func BenchmarkVerifyMdoc(b *testing.B) { benchVerify(b, hotel) }

// BenchmarkVerifyMdocPortrait adds the portrait element.
func BenchmarkVerifyMdocPortrait(b *testing.B) { benchVerify(b, append(hotel, "portrait")) }

type rawJob struct {
	pub   *ecdsa.PublicKey
	input []byte // COSE ToBeSigned (Sig_structure)
	sig   []byte // DER
}

// rawJobs returns the two signature verifications a DeviceResponse needs
// (issuerAuth, deviceSignature): SHA-256 of the ToBeSigned and ECDSA P-256
// verification, with nothing else (no CBOR decoding, no chain, no digests).
func rawJobs(b *testing.B, fx *fixture, resp, st []byte) []rawJob {
	var r DeviceResponse
	if err := unmarshal(resp, &r, "x"); err != nil {
		b.Fatal(err)
	}
	d := r.Documents[0]
	prep := func(pub *ecdsa.PublicKey, raw []byte, detached []byte) rawJob {
		var m cose.UntaggedSign1Message
		if err := m.UnmarshalCBOR(raw); err != nil {
			b.Fatal(err)
		}
		if detached != nil {
			m.Payload = detached
		}
		tbs, err := encMode.Marshal([]any{"Signature1", cbor.RawMessage(m.Headers.RawProtected), []byte{}, m.Payload})
		if err != nil {
			b.Fatal(err)
		}
		der, _ := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(m.Signature[:32]), new(big.Int).SetBytes(m.Signature[32:])})
		return rawJob{pub, tbs, der}
	}
	da, err := deviceAuthenticationBytes(st, d.DocType, d.DeviceSigned.NameSpaces)
	if err != nil {
		b.Fatal(err)
	}
	jobs := []rawJob{prep(&fx.iss.Key.PublicKey, d.IssuerSigned.IssuerAuth, nil), prep(&fx.holder.Key.PublicKey, d.DeviceSigned.DeviceAuth.DeviceSignature, da)}
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

func hotelResponse(b *testing.B, fx *fixture) (resp, st []byte) {
	st = transcript(b, "nonce-1", "https://hotel.example")
	resp, err := Present(context.Background(), fx.issued, map[string][]string{ns: hotel}, fx.holder.Key, st, nil)
	if err != nil {
		b.Fatal(err)
	}
	return resp, st
}

// BenchmarkVerifyMdocRaw is the raw limit: the two signature verifications
// (SHA-256 + ECDSA P-256 each) of a DeviceResponse.
func BenchmarkVerifyMdocRaw(b *testing.B) {
	fx := newFixture(b)
	resp, st := hotelResponse(b, fx)
	jobs := rawJobs(b, fx, resp, st)
	b.ReportAllocs()
	for b.Loop() {
		runRaw(b, jobs)
	}
}

// BenchmarkVerifyMdocRatio alternates a full verification and the raw
// limit in the same loop and reports full/raw (see benchutil.Ratio).
func BenchmarkVerifyMdocRatio(b *testing.B) {
	fx := newFixture(b)
	resp, st := hotelResponse(b, fx)
	jobs := rawJobs(b, fx, resp, st)
	now := t0.Add(time.Hour)
	v := &Verifier{Anchors: fx.iss.Anchors(), Status: fx.verifier(now).Status, Clock: func() time.Time { return now }}
	benchutil.Ratio(b, func() {
		if _, err := v.Verify(context.Background(), resp, Expect{SessionTranscript: st}); err != nil {
			b.Fatal(err)
		}
	}, func() { runRaw(b, jobs) })
}
