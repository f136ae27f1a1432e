package jws

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestSignVerify(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, err := Sign(Key{Signer: k, KeyID: "a"}, "x+jwt", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse([]byte(s), 1<<10)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Kid != "a" || p.Header.Typ != "x+jwt" || string(p.Payload) != `{"a":1}` {
		t.Fatalf("parsed %+v", p)
	}
	if err := p.Verify(&k.PublicKey); err != nil {
		t.Fatal(err)
	}
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := p.Verify(&k2.PublicKey); !errors.Is(err, ErrSignature) {
		t.Fatalf("other key: %v", err)
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := Sign(Key{Signer: k384}, "", nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("P-384 signer: %v", err)
	}
	if _, err := Parse([]byte(s), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
}

func TestCheckNoDuplicateKeys(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":{"a":2}}`, true},
		{`{"a":[{"a":1},{"a":2}],"b":[]}`, true},
		{`{"a":1,"a":2}`, false},
		{`{"x":{"a":1,"a":2}}`, false},
		{`{"x":[{"k":{},"k":1}]}`, false},
		{`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, false},
		{`{"a":`, false},
		{`{"alg":"none","ALG":"ES256"}`, false},
		{`{"x":{"kid":"a","KID":"b"}}`, false},
		{"{\"kid\":\"a\",\"\u212Aid\":\"b\"}", false}, // Kelvin sign folds to k
		{`{"alg":"ES256","kid":"a","typ":"t"}`, true},
	} {
		if err := CheckNoDuplicateKeys([]byte(tc.in)); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
}

// TestParseHostileHeaders: headers that a case-insensitive or
// last-member-wins parser would read as ES256 are refused.
func TestParseHostileHeaders(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	good, err := Sign(Key{Signer: k, KeyID: "a"}, "t", []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	rest := good[strings.IndexByte(good, '.'):]
	for _, tc := range []struct {
		header string
		want   error
	}{
		{`{"alg":"none","ALG":"ES256"}`, ErrMalformed},
		{`{"ALG":"ES256","alg":"none"}`, ErrMalformed},
		{`{"ALG":"ES256"}`, ErrUnsupported},
		{`{"Alg":"ES256","kid":"a"}`, ErrUnsupported},
		{`{"alg":"ES256","alg":"none"}`, ErrMalformed},
		{`{"alg":"none","alg":"ES256"}`, ErrMalformed},
		{`{"alg":"ES256","crit":["exp"],"exp":1}`, ErrUnsupported},
		{`{"alg":"ES256","kid":"a","KID":"b"}`, ErrMalformed},
		{"{\"alg\":\"ES256\",\"kid\":\"\xff\"}", ErrMalformed}, // invalid UTF-8
		{`{"alg":"ES256"} {}`, ErrMalformed},
		{`["alg","ES256"]`, ErrMalformed},
		{`{"alg":"es256"}`, ErrUnsupported},
	} {
		t.Run(tc.header, func(t *testing.T) {
			compact := base64.RawURLEncoding.EncodeToString([]byte(tc.header)) + rest
			if p, err := Parse([]byte(compact), 1<<12); !errors.Is(err, tc.want) {
				t.Errorf("Parse = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}
	if _, err := Parse([]byte(good), 1<<12); err != nil {
		t.Fatalf("control: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	s, _ := Sign(Key{Signer: k, KeyID: "a", Chain: [][]byte{{1, 2, 3}}}, "t", []byte(`{}`))
	f.Add([]byte(s))
	f.Add([]byte("a.b.c"))
	f.Add([]byte(`eyJhbGciOiJFUzI1NiIsImFsZyI6Im5vbmUifQ.e30.`))
	rest := s[strings.IndexByte(s, '.'):]
	for _, h := range []string{`{"alg":"none","ALG":"ES256"}`, `{"ALG":"ES256"}`, "{\"alg\":\"ES256\",\"\u212Aid\":\"a\",\"kid\":\"a\"}", `{"alg":"ES256","crit":["b64"],"b64":false}`} {
		f.Add([]byte(base64.RawURLEncoding.EncodeToString([]byte(h)) + rest))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b, 1<<16)
		if err != nil {
			return
		}
		if p.Header.Alg != "ES256" || len(p.Header.Crit) != 0 {
			t.Fatalf("accepted header %+v", p.Header)
		}
		// Whatever verifies under our key covers exactly what we signed.
		if p.Verify(&k.PublicKey) == nil {
			want := s[:strings.LastIndexByte(s, '.')]
			if string(p.SigningInput) != want {
				t.Fatalf("verified a signing input we never signed: %q", p.SigningInput)
			}
		}
	})
}
