package mdoc

import (
	"context"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
)

// FuzzVerify feeds arbitrary bytes as a DeviceResponse: never a panic, and
// every refusal wraps a credential sentinel error.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	st := transcript(f, "nonce-1", "https://hotel.example")
	// Small seeds (no portrait) keep the fuzzer fast.
	good, err := Present(context.Background(), fx.issued, map[string][]string{ns: {"given_name", "age_over_18", "birth_date"}}, fx.holder.Key, st, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(nested(40))
	f.Add([]byte{0xa1, 0x61, 'a', 0x01})
	f.Add(fx.issued[:2000]) // the wallet parses what the issuer sent
	// ISO/IEC 18013-5 D.4.1.2: another issuer's real mDL response.
	h, err := os.ReadFile("testdata/iso18013-5-D.4.1.2-device-response.hex")
	if err != nil {
		f.Fatal(err)
	}
	iso, err := hex.DecodeString(strings.TrimSpace(string(h)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(iso)
	now := t0.Add(time.Hour)
	anchors := fx.iss.Anchors()
	f.Fuzz(func(t *testing.T, b []byte) {
		v := &Verifier{Anchors: anchors, Clock: func() time.Time { return now }}
		_, err := v.Verify(context.Background(), b, Expect{SessionTranscript: st})
		if err != nil && !credential.IsSentinel(err) {
			t.Fatalf("error without sentinel: %v", err)
		}
		Elements(b) // must not panic
		Prepare(b, map[string][]string{ns: {"given_name"}}, st, nil)
	})
}
