package mdoc

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
)

// TestISO18013Vector reads the mdoc response of ISO/IEC 18013-5 Annex D
// (D.4.1.2, an mDL issued by "utopia ds") with this package's strict
// decoder: the tag allow-list and limits must accept a conforming document,
// the MSO must decode, the issuer signature must verify over our
// Sig_structure with the example's document-signer key, and every item
// must match its digest. The full verifier then refuses it as it should:
// the example's IACA root is not given, and it authenticates the device
// with a MAC, which this verifier does not support.
func TestISO18013Vector(t *testing.T) {
	h, err := os.ReadFile("testdata/iso18013-5-D.4.1.2-device-response.hex")
	if err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		t.Fatal(err)
	}
	var resp wireResponse
	if err := unmarshal(b, &resp, "DeviceResponse"); err != nil {
		t.Fatalf("strict decoder refuses the spec's example: %v", err)
	}
	if resp.Version != "1.0" || resp.Status != 0 || len(resp.Documents) != 1 {
		t.Fatalf("response %q status %d with %d documents", resp.Version, resp.Status, len(resp.Documents))
	}
	doc := resp.Documents[0]
	const mDL = "org.iso.18013.5.1.mDL"
	if doc.DocType != mDL {
		t.Fatalf("docType %q", doc.DocType)
	}
	ia := doc.IssuerSigned.IssuerAuth
	m, err := decodeMSO(ia)
	if err != nil {
		t.Fatal(err)
	}
	if m.DocType != mDL || m.DigestAlgorithm != "SHA-256" || m.Version != "1.0" ||
		!m.ValidityInfo.Signed.Equal(time.Date(2020, 10, 1, 13, 30, 2, 0, time.UTC)) {
		t.Fatalf("MSO %+v", m)
	}
	ders, err := ia.x5chain(nil)
	if err != nil || len(ders) != 1 {
		t.Fatalf("x5chain: %d certificates, %v", len(ders), err)
	}
	leaf, err := x509.ParseCertificate(ders[0])
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "utopia ds" {
		t.Fatalf("document signer %q", leaf.Subject)
	}
	vr, err := digestVerifier(leaf.PublicKey.(*ecdsa.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := ia.verify(vr, nil); err != nil {
		t.Fatalf("issuer signature of the spec's example: %v", err)
	}
	items := doc.IssuerSigned.NameSpaces["org.iso.18013.5.1"]
	want := map[string]bool{"family_name": true, "issue_date": true, "expiry_date": true,
		"document_number": true, "portrait": true, "driving_privileges": true}
	for _, raw := range items {
		it, err := decodeItem(raw)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(raw)
		if d := m.ValueDigests["org.iso.18013.5.1"][it.DigestID]; string(d) != string(sum[:]) {
			t.Errorf("item %s: digest does not match the MSO", it.ElementIdentifier)
		}
		delete(want, it.ElementIdentifier)
	}
	if len(want) != 0 || len(items) != 6 {
		t.Fatalf("%d items; missing %v", len(items), want)
	}
	// A changed byte anywhere in an item breaks its digest.
	tampered := append([]byte(nil), items[0]...)
	tampered[len(tampered)-1] ^= 1
	if sum := sha256.Sum256(tampered); string(m.ValueDigests["org.iso.18013.5.1"][0]) == string(sum[:]) {
		t.Fatal("a tampered item still matches")
	}
	// The full verifier: the example's root is not a trust anchor here.
	at := time.Date(2020, 11, 1, 0, 0, 0, 0, time.UTC)
	v := &Verifier{Anchors: credential.NewAnchors(), Clock: func() time.Time { return at }}
	if _, err := v.Verify(context.Background(), b, Expect{SessionTranscript: []byte{0x80}}); !errors.Is(err, credential.ErrUntrusted) {
		t.Fatalf("Verify without the example's root = %v, want ErrUntrusted", err)
	}
}
