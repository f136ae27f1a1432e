package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/store/storetest"
)

// testMAC keys the wallet nonces of the tests.
func testMAC(data []byte) []byte {
	m := hmac.New(sha256.New, []byte("web test nonce key"))
	m.Write(data)
	return m.Sum(nil)
}

// fakeCards accepts presentations "card:ID~KB" whose key-binding nonce
// and audience are the ones asked for; "bad:ERR~KB" fails with ERR.
type fakeCards struct{}

func kbFor(nonce, aud string) string {
	p, _ := json.Marshal(map[string]string{"nonce": nonce, "aud": aud})
	return "e30." + base64.RawURLEncoding.EncodeToString(p) + ".sig"
}

var fakeErrs = map[string]error{"revoked": credential.ErrRevoked, "signature": credential.ErrSignature, "nonce": credential.ErrNonce}

func (fakeCards) VerifyCard(_ context.Context, pres, nonce, aud string) (*credential.Verified, error) {
	body, kb, _ := strings.Cut(pres, "~")
	if kb != kbFor(nonce, aud) {
		return nil, credential.ErrNonce
	}
	if e, ok := strings.CutPrefix(body, "bad:"); ok {
		return nil, fakeErrs[e]
	}
	id, ok := strings.CutPrefix(body, "card:")
	if !ok {
		return nil, credential.ErrMalformed
	}
	return &credential.Verified{Format: "dc+sd-jwt", Claims: map[string]any{"id_number": id},
		Status: &credential.StatusRef{URI: "http://x/status/1", Index: 7}}, nil
}

type fakeHistory map[string][]audit.Recorded

func (h fakeHistory) History(_ context.Context, s string, _ int) ([]audit.Recorded, error) {
	return h[s], nil
}

type fakeSuspender struct{ got []credential.StatusRef }

func (f *fakeSuspender) Suspend(_ context.Context, ref credential.StatusRef) error {
	f.got = append(f.got, ref)
	return nil
}

func TestCitizenEndpoints(t *testing.T) {
	const aud = "http://shenfen.test/api/wallet"
	at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	susp := &fakeSuspender{}
	c := &Citizen{
		Verifier: fakeCards{},
		Subject:  func(id string) (string, error) { return "subj-" + id, nil },
		History: fakeHistory{"subj-11010519491231002X": {{Disclosure: audit.Disclosure{
			RP: "hotel", RPName: "Pearl River Hotel", Claims: []string{"name"}, Channel: "oidc", At: at}}}},
		Suspend: susp, Audience: aud, Now: func() time.Time { return at },
		NonceMAC: testMAC, Used: storetest.SQLite(t).SingleUse(),
	}
	mux := http.NewServeMux()
	c.Mount(mux)
	do := func(method, path, auth, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		return rec
	}
	nonce := func() string {
		var v struct{ Nonce string }
		json.NewDecoder(do("POST", "/api/wallet/nonce", "", "").Body).Decode(&v)
		return v.Nonce
	}
	n1 := nonce()
	good := "Card card:11010519491231002X~" + kbFor(n1, aud)
	if rec := do("GET", "/api/wallet/history", good, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), "Pearl River Hotel") {
		t.Fatalf("history: %d %s", rec.Code, rec.Body)
	}
	n2 := nonce()
	tests := []struct{ name, auth string }{
		{"replayed nonce", good},
		{"no header", ""},
		{"bearer scheme", "Bearer card:11010519491231002X~" + kbFor(n2, aud)},
		{"unissued nonce", "Card card:11010519491231002X~" + kbFor("made-up", aud)},
		{"other audience", "Card card:11010519491231002X~" + kbFor(nonce(), "http://evil.test")},
		{"bad signature", "Card bad:signature~" + kbFor(nonce(), aud)},
		{"garbage kb", "Card card:1~a.b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec := do("GET", "/api/wallet/history", tc.auth, ""); rec.Code != 401 {
				t.Fatalf("code %d: %s", rec.Code, rec.Body)
			}
		})
	}
	// Suspension of the presented card.
	if rec := do("POST", "/api/wallet/suspend", "Card card:11010519491231002X~"+kbFor(n2, aud), ""); rec.Code != 200 ||
		len(susp.got) != 1 || susp.got[0].Index != 7 {
		t.Fatalf("suspend: %d %s %+v", rec.Code, rec.Body, susp.got)
	}
	// An expired nonce.
	n3 := nonce()
	c.Now = func() time.Time { return at.Add(nonceTTL + time.Second) }
	if rec := do("GET", "/api/wallet/history", "Card card:11010519491231002X~"+kbFor(n3, aud), ""); rec.Code != 401 {
		t.Fatalf("expired nonce: %d", rec.Code)
	}
}

func TestVerifierCheck(t *testing.T) {
	at := time.Date(2026, 11, 23, 9, 0, 15, 0, time.UTC)
	c := &Citizen{Verifier: fakeCards{}, Now: func() time.Time { return at }}
	mux := http.NewServeMux()
	c.Mount(mux)
	win := at.Unix() / 30
	tests := []struct {
		name, body, want string
	}{
		{"current window", "card:1~" + kbFor(fmt.Sprint(win), "in-person"), `"status":"verified"`},
		{"previous window", "card:1~" + kbFor(fmt.Sprint(win-1), "in-person"), `"status":"verified"`},
		{"old window", "card:1~" + kbFor(fmt.Sprint(win-2), "in-person"), `"error":"nonce"`},
		{"other audience", "card:1~" + kbFor(fmt.Sprint(win), "hotel"), `"error":"nonce"`},
		{"revoked", "bad:revoked~" + kbFor(fmt.Sprint(win), "in-person"), `"error":"revoked"`},
		{"forged", "bad:signature~" + kbFor(fmt.Sprint(win), "in-person"), `"error":"signature"`},
		{"garbage", "hello", `"error":"nonce"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("POST", "/verifier/api/check", strings.NewReader(tc.body)))
			if rec.Code != 200 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s, want %s", rec.Code, rec.Body, tc.want)
			}
		})
	}
}

func FuzzKBNonce(f *testing.F) {
	f.Add(kbFor("n", "a"))
	f.Add("a.b.c")
	f.Add("..")
	f.Add("e30.eyJub25jZSI6MX0.x")
	f.Fuzz(func(t *testing.T, kb string) {
		n, err := kbNonce(kb)
		if err == nil && n == "" {
			t.Fatal("empty nonce accepted")
		}
	})
}

type fakeDecisions []Decision

func (f fakeDecisions) RecentDecisions(context.Context, time.Time, int) ([]Decision, error) {
	return f, nil
}

func TestStats(t *testing.T) {
	var ds fakeDecisions
	for i := 1; i <= 100; i++ {
		o := "approved"
		if i%10 == 0 {
			o = "speech-mismatch"
		}
		ds = append(ds, Decision{Outcome: o, Latency: time.Duration(i) * time.Millisecond})
	}
	mux := http.NewServeMux()
	(&Stats{Decisions: ds}).Mount(mux, "0123456789abcdef0123")
	tests := []struct {
		name, path, auth string
		code             int
		want             string
	}{
		{"no token", "/admin/api/enrollments/stats", "", 401, ""},
		{"stats", "/admin/api/enrollments/stats", "Bearer 0123456789abcdef0123", 200,
			`"approved":90,"days":7,"latency_ms":{"p50":50,"p90":90,"p99":99},"refused_by_reason":{"speech-mismatch":10}`},
		{"bad days", "/admin/api/enrollments/stats?days=0", "Bearer 0123456789abcdef0123", 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", tc.path, nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		})
	}
}
