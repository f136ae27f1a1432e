package sdjwt

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
)

// FuzzVerify feeds arbitrary presentations to the verifier: it must never
// panic, and every refusal must wrap a credential sentinel error.
func FuzzVerify(f *testing.F) {
	fx := newFixture(f)
	now := t0.Add(time.Hour)
	good := fx.present(f, []string{"given_name", "age_equal_or_over.18", "address"}, want.Audience, want.Nonce, now)
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add(strings.Replace(good, "~", "~~", 1))
	f.Add("eyJhbGciOiJFUzI1NiJ9.e30.AAAA~WyJzYWx0IiwibmFtZSIsInYiXQ~")
	anchors := fx.iss.Anchors()
	f.Fuzz(func(t *testing.T, s string) {
		v := &Verifier{Anchors: anchors, Status: fx.status, Clock: func() time.Time { return now }}
		res, err := v.Verify(context.Background(), s, want)
		if err != nil && !credential.IsSentinel(err) {
			t.Fatalf("error without sentinel: %v", err)
		}
		if err == nil && res == nil {
			t.Fatal("nil result without error")
		}
		Disclosed(s) // must not panic
	})
}
