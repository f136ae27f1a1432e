package status_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store/storetest"
)

// testPKI is a root and a signing certificate under it.
type testPKI struct {
	root *x509.Certificate
	key  jws.Key
}

func newPKI(t testing.TB) testPKI {
	t.Helper()
	rk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	rt := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	rder, err := x509.CreateCertificate(rand.Reader, rt, rt, &rk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := x509.ParseCertificate(rder)
	lk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	lt := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "test signer"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	lder, err := x509.CreateCertificate(rand.Reader, lt, root, &lk.PublicKey, rk)
	if err != nil {
		t.Fatal(err)
	}
	return testPKI{root: root, key: jws.Key{Signer: lk, KeyID: "k1", Chain: [][]byte{lder}}}
}

func (p testPKI) SigningKey(context.Context) (jws.Key, error) { return p.key, nil }

func TestListPacking(t *testing.T) {
	// The draft's example: 1-bit list with statuses at 0,3,4,5,7,8,9,13,15
	// invalid packs into bytes 0xB9 0xA3.
	l, err := status.NewList(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 3, 4, 5, 7, 8, 9, 13, 15} {
		if err := l.Set(i, status.Invalid); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Bytes(); !bytes.Equal(got, []byte{0xB9, 0xA3}) {
		t.Fatalf("1-bit packing = %x, want b9a3", got)
	}
	// 2-bit example: [1,2,0,3,0,1,0,1,1,2,3,3] -> C9 44 F9.
	l2, _ := status.NewList(2, 12)
	for i, v := range []status.Status{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3} {
		if err := l2.Set(i, v); err != nil {
			t.Fatal(err)
		}
	}
	if got := l2.Bytes(); !bytes.Equal(got, []byte{0xC9, 0x44, 0xF9}) {
		t.Fatalf("2-bit packing = %x, want c944f9", got)
	}
	for i, v := range []status.Status{1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3} {
		if g, _ := l2.Get(i); g != v {
			t.Fatalf("Get(%d) = %v, want %v", i, g, v)
		}
	}
}

func TestListBounds(t *testing.T) {
	l, _ := status.NewList(1, 10)
	for _, tc := range []struct {
		i    int
		s    status.Status
		want error
	}{
		{-1, 1, status.ErrIndex}, {10, 1, status.ErrIndex}, {3, 2, status.ErrTransition}, {9, 1, nil},
	} {
		if err := l.Set(tc.i, tc.s); !errors.Is(err, tc.want) {
			t.Errorf("Set(%d, %v) = %v, want %v", tc.i, tc.s, err, tc.want)
		}
	}
	if _, err := l.Get(10); !errors.Is(err, status.ErrIndex) {
		t.Errorf("Get(10) = %v", err)
	}
	for _, bits := range []int{0, 3, 16} {
		if _, err := status.NewList(bits, 8); err == nil {
			t.Errorf("NewList(%d bits) accepted", bits)
		}
	}
	if _, err := status.NewList(1, status.MaxEntries+1); !errors.Is(err, status.ErrTooLarge) {
		t.Errorf("oversized list: %v", err)
	}
}

func TestCompressRoundTrip(t *testing.T) {
	for _, bits := range []int{1, 2, 4, 8} {
		l, _ := status.NewList(bits, 1000)
		for i := 0; i < 1000; i += 7 {
			l.Set(i, status.Status(i%(1<<bits)))
		}
		z, err := l.Compress()
		if err != nil {
			t.Fatal(err)
		}
		got, err := status.Decompress(z, bits, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), l.Bytes()) || got.Bits() != bits {
			t.Fatalf("%d bits: round trip differs", bits)
		}
	}
}

func zlibOf(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDecompressHostile(t *testing.T) {
	bomb := zlibOf(make([]byte, 4<<20)) // 4 MiB of zeros: ~4 KB compressed, limit 1 MiB below
	good := zlibOf([]byte{1, 2, 3})
	for _, tc := range []struct {
		name string
		z    []byte
		bits int
		want error
	}{
		{"bomb", bomb, 1, status.ErrTooLarge},
		{"not zlib", []byte("hello world"), 1, status.ErrMalformed},
		{"raw deflate without zlib header", []byte{0x63, 0x60, 0x00, 0x00}, 1, status.ErrMalformed},
		{"truncated", good[:len(good)-3], 1, status.ErrMalformed},
		{"bad checksum", append(append([]byte{}, good[:len(good)-1]...), good[len(good)-1]^1), 1, status.ErrMalformed},
		{"trailing garbage", append(append([]byte{}, good...), 0xde, 0xad), 1, status.ErrMalformed},
		{"empty list", zlibOf(nil), 1, status.ErrMalformed},
		{"bits 3", good, 3, status.ErrMalformed},
		{"empty input", nil, 1, status.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := status.Decompress(tc.z, tc.bits, 1<<20); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func signedToken(t testing.TB, p testPKI, uri string, mutate func(c map[string]any)) []byte {
	t.Helper()
	l, _ := status.NewList(1, 64)
	l.Set(5, status.Invalid)
	z, _ := l.Compress()
	now := time.Now()
	c := map[string]any{"sub": uri, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "ttl": 300,
		"status_list": map[string]any{"bits": 1, "lst": base64.RawURLEncoding.EncodeToString(z)}}
	if mutate != nil {
		mutate(c)
	}
	b, _ := json.Marshal(c)
	s, err := jws.Sign(p.key, status.TokenType, b)
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

func TestTokenRoundTrip(t *testing.T) {
	p := newPKI(t)
	l, _ := status.NewList(2, 4096)
	l.Set(4095, status.Suspended)
	l.Set(7, status.Invalid)
	now := time.Now().Truncate(time.Second)
	tok := &status.Token{Subject: "https://id.example/status/a", IssuedAt: now, Expires: now.Add(time.Hour), TTL: 5 * time.Minute, List: l}
	s, err := tok.Sign(p.key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := status.ParseToken([]byte(s), status.ChainKeys(p.root), now, status.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != tok.Subject || !got.IssuedAt.Equal(now) || !got.Expires.Equal(tok.Expires) || got.TTL != tok.TTL {
		t.Fatalf("claims differ: %+v", got)
	}
	if v, _ := got.List.Get(4095); v != status.Suspended {
		t.Fatalf("entry 4095 = %v", v)
	}
	if v, _ := got.List.Get(7); v != status.Invalid {
		t.Fatalf("entry 7 = %v", v)
	}
	if err := got.Check(tok.Subject, now, time.Minute); err != nil {
		t.Fatal(err)
	}
}

func TestTokenHostile(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	uri := "https://id.example/status/x"
	good := signedToken(t, p, uri, nil)
	parts := strings.Split(string(good), ".")
	enc := base64.RawURLEncoding
	header := func(h string) []byte {
		in := enc.EncodeToString([]byte(h)) + "." + parts[1]
		sig, _ := jws.SignES256(p.key.Signer, []byte(in))
		return []byte(in + "." + enc.EncodeToString(sig))
	}
	x5c := `["` + base64.StdEncoding.EncodeToString(p.key.Chain[0]) + `"]`
	sig, _ := enc.DecodeString(parts[2])
	sig[10] ^= 1
	flip := []byte(parts[0] + "." + parts[1] + "." + enc.EncodeToString(sig))
	now := time.Now()
	for _, tc := range []struct {
		name string
		tok  []byte
		want error
	}{
		{"good", good, nil},
		{"other issuer", signedToken(t, other, uri, nil), status.ErrUntrusted},
		{"signature flipped", flip, status.ErrSignature},
		{"alg none", []byte(enc.EncodeToString([]byte(`{"alg":"none","typ":"statuslist+jwt"}`)) + "." + parts[1] + "."), status.ErrMalformed},
		{"alg HS256", header(`{"alg":"HS256","typ":"statuslist+jwt","x5c":` + x5c + `}`), status.ErrMalformed},
		{"wrong typ", header(`{"alg":"ES256","typ":"JWT","x5c":` + x5c + `}`), status.ErrMalformed},
		{"no x5c", header(`{"alg":"ES256","typ":"statuslist+jwt"}`), status.ErrUntrusted},
		{"crit", header(`{"alg":"ES256","typ":"statuslist+jwt","crit":["x"],"x5c":` + x5c + `}`), status.ErrMalformed},
		{"duplicate typ", header(`{"alg":"ES256","typ":"JWT","typ":"statuslist+jwt","x5c":` + x5c + `}`), status.ErrMalformed},
		{"two parts", []byte(parts[0] + "." + parts[1]), status.ErrMalformed},
		{"padding in base64", []byte(parts[0] + "=." + parts[1] + "." + parts[2]), status.ErrMalformed},
		{"huge", bytes.Repeat([]byte("a"), 5<<20), status.ErrTooLarge},
		{"no sub", signedToken(t, p, uri, func(c map[string]any) { delete(c, "sub") }), status.ErrMalformed},
		{"no iat", signedToken(t, p, uri, func(c map[string]any) { delete(c, "iat") }), status.ErrMalformed},
		{"bits 3", signedToken(t, p, uri, func(c map[string]any) { c["status_list"].(map[string]any)["bits"] = 3 }), status.ErrMalformed},
		{"lst not base64url", signedToken(t, p, uri, func(c map[string]any) { c["status_list"].(map[string]any)["lst"] = "a+b/" }), status.ErrMalformed},
		{"lst bomb", signedToken(t, p, uri, func(c map[string]any) {
			c["status_list"].(map[string]any)["lst"] = enc.EncodeToString(zlibOf(make([]byte, 2<<20))) // limit 1 MiB below
		}), status.ErrTooLarge},
		{"status_list string", signedToken(t, p, uri, func(c map[string]any) { c["status_list"] = "x" }), status.ErrMalformed},
		{"negative exp", signedToken(t, p, uri, func(c map[string]any) { c["exp"] = -5 }), status.ErrMalformed},
		{"case-variant header", header(`{"alg":"none","ALG":"ES256","typ":"statuslist+jwt","x5c":` + x5c + `}`), status.ErrMalformed},
		{"case-variant claim", signedToken(t, p, uri, func(c map[string]any) { c["SUB"] = "https://evil.example/status/x" }), status.ErrMalformed},
		{"case-variant list member", signedToken(t, p, uri, func(c map[string]any) { c["status_list"].(map[string]any)["LST"] = "eNrbuRgAAhcBXQ" }), status.ErrMalformed},
		{"claim only in upper case", signedToken(t, p, uri, func(c map[string]any) { c["SUB"] = c["sub"]; delete(c, "sub") }), status.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := status.ParseToken(tc.tok, status.ChainKeys(p.root), now, status.Limits{MaxList: 1 << 20})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	// Claims checks on a well-signed token.
	for _, tc := range []struct {
		name string
		tok  []byte
		uri  string
		want error
	}{
		{"sub mismatch", good, "https://id.example/status/y", status.ErrMismatch},
		{"expired", signedToken(t, p, uri, func(c map[string]any) { c["exp"] = now.Add(-time.Second).Unix() }), uri, status.ErrExpired},
		{"iat in the future", signedToken(t, p, uri, func(c map[string]any) { c["iat"] = now.Add(time.Hour).Unix() }), uri, status.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := status.ParseToken(tc.tok, status.ChainKeys(p.root), now, status.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.Check(tc.uri, now, time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestTransition(t *testing.T) {
	V, I, S := status.Valid, status.Invalid, status.Suspended
	for _, tc := range []struct {
		old, next status.Status
		want      error
	}{
		{V, S, nil}, {V, I, nil}, {S, V, nil}, {S, I, nil}, {V, V, nil}, {I, I, nil},
		{I, V, status.ErrFinal}, {I, S, status.ErrFinal}, {V, 3, status.ErrTransition},
	} {
		if err := status.Transition(tc.old, tc.next); !errors.Is(err, tc.want) {
			t.Errorf("%v -> %v: %v, want %v", tc.old, tc.next, err, tc.want)
		}
	}
}

// New shards have two bits per entry unless configured otherwise: a
// suspended card reaches verifiers as suspended (0x02), a revoked one as
// invalid (0x01).
func TestDefaultTwoBits(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	svc := status.NewService(storetest.SQLite(t).Status(), p, "https://id.example/status")
	svc.ShardSize = 64
	sus, err := svc.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rev, _ := svc.Allocate(ctx)
	if err := svc.Suspend(ctx, sus); err != nil {
		t.Fatal(err)
	}
	if err := svc.Revoke(ctx, rev); err != nil {
		t.Fatal(err)
	}
	id, _ := svc.ListID(sus.URI)
	served, err := svc.Token(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := status.ParseToken([]byte(served.Token), status.ChainKeys(p.root), time.Now(), status.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if tok.List.Bits() != 2 || status.DefaultBits != 2 {
		t.Fatalf("default list has %d bits per entry, want 2", tok.List.Bits())
	}
	for r, want := range map[status.Ref]status.Status{sus: status.Suspended, rev: status.Invalid} {
		if got, _ := tok.List.Get(r.Index); got != want {
			t.Errorf("entry %d published as %v, want %v", r.Index, got, want)
		}
	}
}

func TestServiceLifecycle(t *testing.T) {
	for _, bits := range []int{1, 2} {
		t.Run(map[int]string{1: "1bit", 2: "2bit"}[bits], func(t *testing.T) {
			ctx := context.Background()
			db := storetest.SQLite(t)
			p := newPKI(t)
			svc := status.NewService(db.Status(), p, "https://id.example/status")
			svc.Bits, svc.ShardSize = bits, 64
			var changes []string
			svc.Changed = func(_ context.Context, r status.Ref, old, next status.Status) error {
				changes = append(changes, old.String()+">"+next.String())
				return nil
			}
			seen := map[status.Ref]bool{}
			var refs []status.Ref
			for i := 0; i < 150; i++ { // fills two shards and opens a third
				r, err := svc.Allocate(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if seen[r] {
					t.Fatalf("index handed out twice: %+v", r)
				}
				seen[r] = true
				refs = append(refs, r)
			}
			uris := map[string]int{}
			for _, r := range refs {
				uris[r.URI]++
			}
			if len(uris) != 3 {
				t.Fatalf("150 allocations of 64-entry shards used %d lists", len(uris))
			}
			// Consecutive allocations are not adjacent indexes.
			adjacent := 0
			for i := 1; i < 64; i++ {
				if d := refs[i].Index - refs[i-1].Index; d == 1 || d == -1 {
					adjacent++
				}
			}
			if adjacent > 8 {
				t.Fatalf("%d of 63 consecutive allocations got adjacent indexes", adjacent)
			}
			a, b, c := refs[0], refs[1], refs[2]
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(svc.Suspend(ctx, a))
			must(svc.Revoke(ctx, b))
			must(svc.Suspend(ctx, c))
			must(svc.Reinstate(ctx, c))
			if err := svc.Reinstate(ctx, b); !errors.Is(err, status.ErrFinal) {
				t.Fatalf("reinstating a revoked card: %v", err)
			}
			if err := svc.Suspend(ctx, b); !errors.Is(err, status.ErrFinal) {
				t.Fatalf("suspending a revoked card: %v", err)
			}
			if _, err := svc.Set(ctx, a, status.Status(3)); !errors.Is(err, status.ErrTransition) {
				t.Fatalf("status 3: %v", err)
			}
			svc.Revoke(ctx, b) // repeated: no change
			if got := strings.Join(changes, ","); got != "valid>suspended,valid>invalid,valid>suspended,suspended>valid" {
				t.Fatalf("changes reported: %s", got)
			}
			// An index that was never allocated, and a foreign URI.
			id, _ := svc.ListID(refs[149].URI)
			info, _ := db.Status().StatusList(ctx, id)
			var unused status.Ref
			for i := 0; i < info.Size; i++ {
				r := status.Ref{URI: refs[149].URI, Index: i}
				if !seen[r] {
					unused = r
					break
				}
			}
			if err := svc.Revoke(ctx, unused); !errors.Is(err, status.ErrNotFound) {
				t.Fatalf("revoking an unallocated index: %v", err)
			}
			if err := svc.Revoke(ctx, status.Ref{URI: "https://evil.example/status/x", Index: 1}); !errors.Is(err, status.ErrNotFound) {
				t.Fatalf("foreign URI: %v", err)
			}
			if err := svc.Revoke(ctx, status.Ref{URI: a.URI, Index: 64}); !errors.Is(err, status.ErrIndex) {
				t.Fatalf("index past the end: %v", err)
			}
			// The authority's view tells suspended from revoked.
			for r, want := range map[status.Ref]status.Status{a: status.Suspended, b: status.Invalid, c: status.Valid} {
				if got, err := svc.Get(ctx, r); err != nil || got != want {
					t.Fatalf("Get = %v, %v; want %v", got, err, want)
				}
			}
			// The published list, read by a verifier.
			checker := &status.Checker{Key: status.ChainKeys(p.root)}
			for uri := range uris {
				id, _ := svc.ListID(uri)
				served, err := svc.Token(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if err := checker.Add(uri, []byte(served.Token)); err != nil {
					t.Fatal(err)
				}
			}
			wantA := status.Suspended
			if bits == 1 {
				wantA = status.Invalid // 1-bit lists publish suspension as invalid
			}
			for r, want := range map[status.Ref]status.Status{a: wantA, b: status.Invalid, c: status.Valid, refs[3]: status.Valid} {
				if got, err := checker.Status(ctx, r.URI, r.Index); err != nil || got != want {
					t.Fatalf("published status of %+v = %v, %v; want %v", r, got, err, want)
				}
			}
		})
	}
}

func TestTokenCache(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	p := newPKI(t)
	now := time.Now()
	svc := status.NewService(db.Status(), p, "https://id.example/status")
	svc.ShardSize, svc.TTL = 64, 10*time.Minute
	svc.Now = func() time.Time { return now }
	r, _ := svc.Allocate(ctx)
	id, _ := svc.ListID(r.URI)
	t1, err := svc.Token(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if t2, _ := svc.Token(ctx, id); t2.Token != t1.Token {
		t.Fatal("unchanged list re-signed")
	}
	svc.Revoke(ctx, r)
	t3, _ := svc.Token(ctx, id)
	if t3.Token == t1.Token || t3.ETag == t1.ETag {
		t.Fatal("token not regenerated after a change")
	}
	now = now.Add(6 * time.Minute)
	if t4, _ := svc.Token(ctx, id); t4.Token == t3.Token {
		t.Fatal("token not refreshed after half its ttl")
	}
	if _, err := svc.Token(ctx, "nosuchlist"); !errors.Is(err, status.ErrNotFound) {
		t.Fatalf("unknown list: %v", err)
	}
}

// fetcher serves tokens from a map and counts fetches.
type fetcher struct {
	mu     sync.Mutex
	tokens map[string][]byte
	n      int
	down   bool
}

func (f *fetcher) Fetch(_ context.Context, uri string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.down {
		return nil, errors.New("network down")
	}
	t, ok := f.tokens[uri]
	if !ok {
		return nil, errors.New("404")
	}
	return t, nil
}

func TestCheckerCachingAndOffline(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	uri := "https://id.example/status/x"
	f := &fetcher{tokens: map[string][]byte{uri: signedToken(t, p, uri, nil)}}
	now := time.Now()
	dir := status.DirCache(t.TempDir())
	c := &status.Checker{Fetcher: f, Key: status.ChainKeys(p.root), Cache: dir, Now: func() time.Time { return now }}
	if s, err := c.Status(ctx, uri, 5); err != nil || s != status.Invalid {
		t.Fatalf("Status = %v, %v", s, err)
	}
	if s, _ := c.Status(ctx, uri, 4); s != status.Valid {
		t.Fatalf("entry 4 = %v", s)
	}
	if f.n != 1 {
		t.Fatalf("%d fetches within ttl, want 1", f.n)
	}
	if _, err := c.Status(ctx, uri, 64); !errors.Is(err, status.ErrIndex) {
		t.Fatalf("index past the list: %v", err)
	}
	// After ttl it fetches again; with the network down it answers from
	// the cached token until exp.
	now = now.Add(10 * time.Minute)
	f.down = true
	if s, err := c.Status(ctx, uri, 5); err != nil || s != status.Invalid {
		t.Fatalf("offline Status = %v, %v", s, err)
	}
	if f.n != 2 {
		t.Fatalf("fetches = %d, want 2", f.n)
	}
	// A new checker (a restarted verifier) offline reads the file cache.
	c2 := &status.Checker{Key: status.ChainKeys(p.root), Cache: dir, Now: func() time.Time { return now }}
	if s, err := c2.Status(ctx, uri, 5); err != nil || s != status.Invalid {
		t.Fatalf("offline from file cache: %v, %v", s, err)
	}
	// After exp, nothing is trusted any more.
	now = now.Add(2 * time.Hour)
	if _, err := c.Status(ctx, uri, 5); err == nil {
		t.Fatal("expired token still used offline")
	}
	if _, err := c2.Status(ctx, uri, 5); err == nil {
		t.Fatal("expired file-cached token still used")
	}
	// A token for another URI served at uri is refused.
	f.down = false
	f.tokens[uri] = signedToken(t, p, "https://id.example/status/other", nil)
	if _, err := c.Status(ctx, uri, 5); !errors.Is(err, status.ErrMismatch) {
		t.Fatalf("substituted list: %v", err)
	}
}

func TestCheckerNoRollback(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	uri := "https://id.example/status/x"
	now := time.Now()
	newer := signedToken(t, p, uri, func(c map[string]any) { c["iat"] = now.Unix() })
	older := signedToken(t, p, uri, func(c map[string]any) {
		c["iat"] = now.Add(-time.Minute).Unix()
		l, _ := status.NewList(1, 64) // entry 5 still valid in the old list
		z, _ := l.Compress()
		c["status_list"] = map[string]any{"bits": 1, "lst": base64.RawURLEncoding.EncodeToString(z)}
	})
	f := &fetcher{tokens: map[string][]byte{uri: newer}}
	c := &status.Checker{Fetcher: f, Key: status.ChainKeys(p.root), Now: func() time.Time { return now }}
	if s, _ := c.Status(ctx, uri, 5); s != status.Invalid {
		t.Fatal("setup")
	}
	now = now.Add(10 * time.Minute)
	f.tokens[uri] = older // an attacker replays an older, valid-looking token
	if s, _ := c.Status(ctx, uri, 5); s != status.Invalid {
		t.Fatal("an older token replaced a newer one")
	}
}

func TestChainKeysHostile(t *testing.T) {
	p := newPKI(t)
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	// A second root with the same name but another key, and leaves made
	// by it or by the real root with bad profiles.
	mkRoot := func(k *ecdsa.PrivateKey) *x509.Certificate {
		tpl := &x509.Certificate{SerialNumber: big.NewInt(9), Subject: pkix.Name{CommonName: "test root"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		der, _ := x509.CreateCertificate(rand.Reader, tpl, tpl, &k.PublicKey, k)
		c, _ := x509.ParseCertificate(der)
		return c
	}
	fake := mkRoot(rootKey)
	leaf := func(parent *x509.Certificate, pk *ecdsa.PrivateKey, usage x509.KeyUsage, nb, na time.Time) []byte {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tpl := &x509.Certificate{SerialNumber: big.NewInt(10), Subject: pkix.Name{CommonName: "leaf"}, NotBefore: nb, NotAfter: na, KeyUsage: usage}
		der, err := x509.CreateCertificate(rand.Reader, tpl, parent, &k.PublicKey, pk)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	keys := status.ChainKeys(p.root)
	for _, tc := range []struct {
		name string
		x5c  [][]byte
	}{
		{"no x5c", nil},
		{"garbage", [][]byte{{1, 2, 3}}},
		{"signed by a look-alike root", [][]byte{leaf(fake, rootKey, x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour))}},
		{"look-alike root sent along", [][]byte{leaf(fake, rootKey, x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour)), fake.Raw}},
		{"a look-alike root as leaf", [][]byte{fake.Raw}},
		{"the trusted root as leaf (may not sign)", [][]byte{p.root.Raw}},
		{"too many certificates", make([][]byte, 9)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := keys(jws.Header{X5C: tc.x5c}, now); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// The real signer, but at a time outside its certificate.
	if _, err := keys(jws.Header{X5C: p.key.Chain}, now.Add(48*time.Hour)); err == nil {
		t.Fatal("accepted an expired signer certificate")
	}
	if _, err := keys(jws.Header{X5C: p.key.Chain}, now); err != nil {
		t.Fatal(err)
	}
	// A leaf under a trusted root that may not sign (keyUsage certSign only).
	trusted := status.ChainKeys(fake)
	if _, err := trusted(jws.Header{X5C: [][]byte{leaf(fake, rootKey, x509.KeyUsageCertSign, now.Add(-time.Hour), now.Add(time.Hour))}}, now); err == nil {
		t.Fatal("accepted a leaf without digitalSignature")
	}
	if _, err := trusted(jws.Header{X5C: [][]byte{leaf(fake, rootKey, x509.KeyUsageDigitalSignature, now.Add(-time.Hour), now.Add(time.Hour))}}, now); err != nil {
		t.Fatal(err)
	}
}

func TestCheckerConcurrentOneFetch(t *testing.T) {
	ctx := context.Background()
	p := newPKI(t)
	uri := "https://id.example/status/x"
	f := &fetcher{tokens: map[string][]byte{uri: signedToken(t, p, uri, nil)}}
	c := &status.Checker{Fetcher: f, Key: status.ChainKeys(p.root)}
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := c.Status(ctx, uri, 5); err != nil || s != status.Invalid {
				errs <- fmt.Errorf("status %v, %v", s, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if f.n != 1 {
		t.Fatalf("%d fetches for 32 concurrent lookups, want 1", f.n)
	}
}
