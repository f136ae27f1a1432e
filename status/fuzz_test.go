package status_test

import (
	"bytes"
	"encoding/base64"
	"testing"
	"time"

	"github.com/shenfen/shenfen/status"
)

func FuzzDecompress(f *testing.F) {
	l, _ := status.NewList(2, 100)
	l.Set(3, status.Suspended)
	z, _ := l.Compress()
	f.Add(z, 2)
	f.Add(zlibOf([]byte{0xb9, 0xa3}), 1)
	f.Add([]byte{0x78, 0x9c, 0x03, 0x00}, 8)
	f.Add([]byte{}, 4)
	// The specification's examples (testdata), compressed by another
	// implementation.
	for _, ex := range []struct {
		lst  string
		bits int
	}{{"eNrbuRgAAhcBXQ", 1}, {"eNo76fITAAPfAgc", 2}} {
		z, err := base64.RawURLEncoding.DecodeString(ex.lst)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(z, ex.bits)
	}
	f.Fuzz(func(t *testing.T, z []byte, bits int) {
		l, err := status.Decompress(z, bits, 1<<16)
		if err != nil {
			return
		}
		if l.Len() < 1 || l.Len()*l.Bits() > len(l.Bytes())*8 {
			t.Fatalf("list of %d entries of %d bits in %d bytes", l.Len(), l.Bits(), len(l.Bytes()))
		}
		for _, i := range []int{0, l.Len() - 1} {
			if _, err := l.Get(i); err != nil {
				t.Fatal(err)
			}
		}
		// Re-compressing gives back the same list.
		z2, err := l.Compress()
		if err != nil {
			t.Fatal(err)
		}
		l2, err := status.Decompress(z2, bits, 1<<16)
		if err != nil || !bytes.Equal(l2.Bytes(), l.Bytes()) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	p := newPKI(f)
	f.Add(signedToken(f, p, "https://id.example/status/x", nil))
	f.Add([]byte("eyJhbGciOiJFUzI1NiJ9.e30."))
	f.Add([]byte("..."))
	f.Add([]byte(`eyJhbGciOiJFUzI1NiIsInR5cCI6InN0YXR1c2xpc3Qrand0In0.eyJzdWIiOiJ4IiwiaWF0IjoxLCJzdGF0dXNfbGlzdCI6eyJiaXRzIjoxLCJsc3QiOiJlTnJiVXdBQUFYb0EifX0.AAAA`))
	keys := status.ChainKeys(p.root)
	now := time.Now()
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := status.Limits{MaxToken: 1 << 16, MaxList: 1 << 16}
		if tok, err := status.ParseToken(b, keys, now, lim); err == nil {
			if tok.Subject == "" || tok.List == nil {
				t.Fatal("accepted a token without sub or list")
			}
		}
		if tok, err := status.ParseUnverified(b, lim); err == nil {
			if tok.List.Len() < 1 || len(tok.List.Bytes()) > lim.MaxList {
				t.Fatalf("list of %d bytes", len(tok.List.Bytes()))
			}
		}
	})
}
