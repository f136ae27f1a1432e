package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

func testLimiter(db *store.DB, name string, every time.Duration, burst int) *store.RateLimiter {
	return db.RateLimiter(name, every, burst, func(k string) []byte {
		m := hmac.New(sha256.New, []byte("web test limiter key"))
		m.Write([]byte(k))
		return m.Sum(nil)
	})
}

// TestWalletNonceFlood: one client asking for nonces as fast as it can is
// limited on its own; every other citizen still gets nonces and signs in.
// Nonces live in no server's memory: one issued by one server is accepted
// once by another sharing the database, and never twice anywhere.
func TestWalletNonceFlood(t *testing.T) {
	const aud = "http://shenfen.test/api/wallet"
	db := storetest.SQLite(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	server := func() *http.ServeMux {
		c := &Citizen{Verifier: fakeCards{}, Subject: func(id string) (string, error) { return "subj-" + id, nil },
			History: fakeHistory{}, Audience: aud, Now: func() time.Time { return at },
			NonceMAC: testMAC, Used: db.SingleUse(),
			NonceLimit: testLimiter(db, "wallet-nonce", NonceClientEvery, NonceClientBurst)}
		m := http.NewServeMux()
		c.Mount(m)
		return m
	}
	a, b := server(), server()
	do := func(m *http.ServeMux, method, path, remote, auth string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		return rec
	}
	nonce := func(m *http.ServeMux, remote string) (string, int) {
		rec := do(m, "POST", "/api/wallet/nonce", remote, "")
		var v struct{ Nonce string }
		json.NewDecoder(rec.Body).Decode(&v)
		return v.Nonce, rec.Code
	}
	t.Run("one client's flood stops at its burst", func(t *testing.T) {
		// The flood: 2 000 requests from one address, half to each server.
		granted := 0
		var last *httptest.ResponseRecorder
		for i := range 2000 {
			m := a
			if i%2 == 1 {
				m = b
			}
			last = do(m, "POST", "/api/wallet/nonce", "203.0.113.66:1234", "")
			if last.Code == 200 {
				granted++
			}
		}
		if granted != NonceClientBurst {
			t.Fatalf("the flooding client got %d nonces, want its burst of %d", granted, NonceClientBurst)
		}
		if last.Code != 429 || last.Header().Get("Retry-After") == "" || last.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("flood answer: %d %v", last.Code, last.Header())
		}
	})
	t.Run("rotating addresses within an IPv6 /64", func(t *testing.T) {
		granted := 0
		for i := range 200 {
			if _, code := nonce(a, fmt.Sprintf("[2001:db8:5:6::%x]:443", i+1)); code == 200 {
				granted++
			}
		}
		if granted != NonceClientBurst {
			t.Fatalf("a /64 rotating addresses got %d nonces, want %d", granted, NonceClientBurst)
		}
	})
	t.Run("replay on another server, other citizens unaffected", func(t *testing.T) {
		// Every other citizen is unaffected: 50 citizens, each signs in.
		for i := range 50 {
			remote := fmt.Sprintf("198.51.100.%d:5000", i+1)
			n, code := nonce(a, remote)
			if code != 200 {
				t.Fatalf("citizen %d got %d after the flood", i, code)
			}
			auth := "Card card:11010519491231002X~" + kbFor(n, aud)
			if rec := do(b, "GET", "/api/wallet/history", remote, auth); rec.Code != 200 {
				t.Fatalf("citizen %d: nonce from server A refused by server B: %d %s", i, rec.Code, rec.Body)
			}
			if rec := do(a, "GET", "/api/wallet/history", remote, auth); rec.Code != 401 {
				t.Fatalf("citizen %d: replay on the other server: %d", i, rec.Code)
			}
		}
	})
	// Forged and stale nonces.
	good, _ := nonce(a, "192.0.2.1:1")
	raw, _ := b64dec(good)
	flip := func(i int) string { c := append([]byte(nil), raw...); c[i] ^= 1; return b64(c) }
	otherKey := func() string {
		c := append([]byte(nil), raw[:24]...)
		m := hmac.New(sha256.New, []byte("another server's key"))
		m.Write(c)
		return b64(append(c, m.Sum(nil)[:16]...))
	}
	for _, tc := range []struct{ name, nonce string }{
		{"expiry changed", flip(3)},
		{"random part changed", flip(10)},
		{"MAC changed", flip(30)},
		{"MAC of another key", otherKey()},
		{"truncated", good[:len(good)-2]},
		{"padded", good + "AA"},
		{"empty", ""},
		{"old in-memory style", "AAAAAAAAAAAAAAAAAAAAAAAA"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if rec := do(a, "GET", "/api/wallet/history", "192.0.2.1:1", "Card card:11010519491231002X~"+kbFor(tc.nonce, aud)); rec.Code != 401 {
				t.Fatalf("accepted: %d", rec.Code)
			}
		})
	}
	// Expired: the same good nonce after its lifetime, on a server whose clock moved on.
	late := &Citizen{Verifier: fakeCards{}, Subject: func(id string) (string, error) { return "subj-" + id, nil },
		History: fakeHistory{}, Audience: aud, Now: func() time.Time { return at.Add(nonceTTL) },
		NonceMAC: testMAC, Used: db.SingleUse()}
	lm := http.NewServeMux()
	late.Mount(lm)
	t.Run("expired", func(t *testing.T) {
		if rec := do(lm, "GET", "/api/wallet/history", "192.0.2.1:1", "Card card:11010519491231002X~"+kbFor(good, aud)); rec.Code != 401 {
			t.Fatalf("expired nonce accepted: %d", rec.Code)
		}
	})
	// A citizen's request that fails verification records no use: the nonce
	// stays good for the real presentation.
	t.Run("a forged presentation does not spend the citizen's nonce", func(t *testing.T) {
		n, _ := nonce(a, "192.0.2.2:1")
		if rec := do(a, "GET", "/api/wallet/history", "192.0.2.2:1", "Card bad:signature~"+kbFor(n, aud)); rec.Code != 401 {
			t.Fatalf("forged card: %d", rec.Code)
		}
		if rec := do(a, "GET", "/api/wallet/history", "192.0.2.2:1", "Card card:11010519491231002X~"+kbFor(n, aud)); rec.Code != 200 {
			t.Fatalf("a forged presentation spent the citizen's nonce: %d", rec.Code)
		}
	})
}

// TestConsoleSignInNotLockedOut: strangers spamming wrong tokens from many
// addresses do not keep the administrator out; each stranger address, and
// each token tried over and over, is limited on its own.
func TestConsoleSignInNotLockedOut(t *testing.T) {
	const token = "0123456789abcdef0123"
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	Mount(mux, Options{AdminToken: token, API: &apiSpy{},
		SignInClient: testLimiter(db, "signin-client", SignInClientEvery, SignInClientBurst),
		SignInToken:  testLimiter(db, "signin-token", SignInTokenEvery, SignInTokenBurst)})
	signIn := func(remote, tok string) int {
		r := httptest.NewRequest("GET", "http://shenfen.test/admin/session", nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		pre := cookieOf(rec, preCookie)
		r = httptest.NewRequest("POST", "http://shenfen.test/admin/session", strings.NewReader(`{"token":"`+tok+`"}`))
		r.RemoteAddr = remote
		r.Header.Set("Origin", "http://shenfen.test")
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(csrfHeader, pre.Value)
		r.AddCookie(pre)
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		return rec.Code
	}
	// 50 stranger addresses × 20 guesses each, all different tokens.
	codes := map[int]int{}
	for s := range 50 {
		for g := range 20 {
			codes[signIn(fmt.Sprintf("203.0.113.%d:999", s+1), fmt.Sprintf("guess-%d-%d-xxxxxxxxxx", s, g))]++
		}
	}
	if codes[200] != 0 || codes[401] != 50*SignInClientBurst || codes[429] != 50*(20-SignInClientBurst) {
		t.Fatalf("stranger answers %v", codes)
	}
	// One wrong token tried from 30 addresses: limited per token.
	codes = map[int]int{}
	for s := range 30 {
		codes[signIn(fmt.Sprintf("198.51.100.%d:1", s+1), "the-same-wrong-token-000")]++
	}
	if codes[401] != SignInTokenBurst || codes[429] != 30-SignInTokenBurst {
		t.Fatalf("one token from many addresses: %v", codes)
	}
	// The administrator: 5 of 5 sign-ins succeed.
	for i := range 5 {
		if code := signIn("192.0.2.77:4242", token); code != 200 {
			t.Fatalf("admin sign-in %d: %d", i, code)
		}
	}
}

// FuzzWalletNonce: no string but one this server's key made is a valid
// nonce.
func FuzzWalletNonce(f *testing.F) {
	c := &Citizen{NonceMAC: testMAC}
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	// A fixed nonce (issueNonce's random part would differ in each fuzz
	// worker): expiry, 16 bytes, MAC.
	raw := make([]byte, nonceLen)
	binary.BigEndian.PutUint64(raw, uint64(at.Add(nonceTTL).Unix()))
	copy(raw[8:24], "sixteen bytes!!!")
	copy(raw[24:], testMAC(raw[:24]))
	good := b64(raw)
	if _, ok := c.checkNonce(c.issueNonce(at), at); !ok {
		f.Fatal("an issued nonce is refused")
	}
	f.Add(good)
	f.Add(good[:len(good)-1] + "A")
	f.Add("")
	f.Add(strings.Repeat("A", 54))
	// The same bytes spelled with non-zero trailing bits.
	last := strings.IndexByte(base64URL, good[len(good)-1])
	f.Add(good[:len(good)-1] + string(base64URL[last|1]))
	f.Fuzz(func(t *testing.T, n string) {
		if _, ok := c.checkNonce(n, at); ok && n != good {
			t.Fatalf("accepted %q, which this server did not issue", n)
		}
	})
}

const base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// countingCards counts the presentations the server verified.
type countingCards struct{ n *atomic.Int64 }

func (c countingCards) VerifyCard(ctx context.Context, pres, nonce, aud string) (*credential.Verified, error) {
	c.n.Add(1)
	return fakeCards{}.VerifyCard(ctx, pres, nonce, aud)
}

// TestCPUFlood: one address sending card presentations (each a fresh,
// genuine nonce) or in-person codes as fast as it can gets its burst of
// signature verifications, then 429 with Retry-After, on every server
// sharing the database; the verifier is not called past the burst, and
// another address is served. Garbage that fails the nonce's MAC costs no
// verification and no limiter row.
func TestCPUFlood(t *testing.T) {
	const aud = "http://shenfen.test/api/wallet"
	db := storetest.SQLite(t)
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var verified atomic.Int64
	server := func() *http.ServeMux {
		c := &Citizen{Verifier: countingCards{&verified}, Subject: func(id string) (string, error) { return "subj-" + id, nil },
			History: fakeHistory{}, Audience: aud, Now: func() time.Time { return at },
			NonceMAC: testMAC, Used: db.SingleUse(),
			CardLimit:  testLimiter(db, "wallet-card", CardClientEvery, CardClientBurst),
			CheckLimit: testLimiter(db, "verifier-check", CheckClientEvery, CheckClientBurst)}
		m := http.NewServeMux()
		c.Mount(m)
		return m
	}
	a, b := server(), server()
	do := func(m *http.ServeMux, method, path, remote, auth, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.RemoteAddr = remote
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, r)
		return rec
	}
	c := &Citizen{NonceMAC: testMAC}
	card := func() string { return "Card card:11010519491231002X~" + kbFor(c.issueNonce(at), aud) }

	ok, last := 0, (*httptest.ResponseRecorder)(nil)
	for i := range 400 {
		m := a
		if i%2 == 1 {
			m = b
		}
		if last = do(m, "GET", "/api/wallet/history", "203.0.113.9:1", card(), ""); last.Code == 200 {
			ok++
		}
	}
	if ok != CardClientBurst || verified.Load() != CardClientBurst {
		t.Fatalf("card flood: %d answered, %d verified; want the burst of %d", ok, verified.Load(), CardClientBurst)
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" {
		t.Fatalf("card flood answer: %d %v", last.Code, last.Header())
	}
	if rec := do(a, "GET", "/api/wallet/history", "198.51.100.7:1", card(), ""); rec.Code != 200 {
		t.Fatalf("another citizen after the flood: %d", rec.Code)
	}
	// Forged nonces are refused before the limiter and the verifier.
	before := verified.Load()
	for range 100 {
		if rec := do(a, "GET", "/api/wallet/history", "192.0.2.50:1", "Card card:11010519491231002X~"+kbFor("forged", aud), ""); rec.Code != 401 {
			t.Fatalf("forged nonce: %d", rec.Code)
		}
	}
	if verified.Load() != before {
		t.Fatal("forged nonces reached the verifier")
	}
	if rec := do(a, "GET", "/api/wallet/history", "192.0.2.50:1", card(), ""); rec.Code != 200 {
		t.Fatalf("the forger's address lost its burst to refused requests: %d", rec.Code)
	}

	verified.Store(0)
	ok = 0
	for i := range 400 {
		m := a
		if i%2 == 1 {
			m = b
		}
		if last = do(m, "POST", "/verifier/api/check", "203.0.113.10:1", "", "card:11010519491231002X~x"); last.Code == 200 {
			ok++
		}
	}
	if ok != CheckClientBurst || verified.Load() != 2*CheckClientBurst { // each check tries this window and the last
		t.Fatalf("check flood: %d answered, %d verifications; want %d and %d", ok, verified.Load(), CheckClientBurst, 2*CheckClientBurst)
	}
	if last.Code != 429 || last.Header().Get("Retry-After") == "" {
		t.Fatalf("check flood answer: %d %v", last.Code, last.Header())
	}
	if rec := do(b, "POST", "/verifier/api/check", "198.51.100.8:1", "", "card:x~x"); rec.Code != 200 {
		t.Fatalf("another desk after the flood: %d", rec.Code)
	}
}
