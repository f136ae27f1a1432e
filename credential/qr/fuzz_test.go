package qr

import (
	"context"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
)

// FuzzBase45 checks decoding never panics and round-trips what it accepts.
func FuzzBase45(f *testing.F) {
	for _, s := range []string{"", "BB8", "%69 VD92EX0", "GGW", "A", "::::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase45(s)
		if err != nil {
			return
		}
		if got := EncodeBase45(b); got != s {
			t.Fatalf("round trip %q -> %x -> %q", s, b, got)
		}
	})
}

// FuzzVerify feeds arbitrary QR payloads to the verifier.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	now := t0.Add(time.Hour)
	timed, err := Present(context.Background(), fx.compact, nil, fx.holder.Key, nil, now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(timed)
	f.Add(timed[:100])
	f.Add(Prefix + EncodeBase45(zbomb()))
	f.Add("SF1:")
	f.Fuzz(func(t *testing.T, s string) {
		v := fx.verifier(now)
		v.Seen = &credtest.Nonces{}
		_, err := v.Verify(context.Background(), s, nil)
		if err != nil && !credential.IsSentinel(err) {
			t.Fatalf("error without sentinel: %v", err)
		}
	})
}

// FuzzParseRequest feeds arbitrary request QRs to the wallet's parser.
func FuzzParseRequest(f *testing.F) {
	p, _ := NewRequest()
	f.Add(p)
	f.Add("SFR1:")
	f.Add("SFR1:%%%")
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseRequest(s)
		if err == nil && (len(n) < 16 || len(n) > 64) {
			t.Fatalf("accepted a nonce of %d bytes", len(n))
		}
		if err != nil && !credential.IsSentinel(err) {
			t.Fatalf("error without sentinel: %v", err)
		}
	})
}
