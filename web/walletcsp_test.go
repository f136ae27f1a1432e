package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/server"
)

// TestWalletCSP: the wallet page may connect to https verifiers on any
// host, and to http ones on loopback only when it is itself served on
// loopback; everything else stays as strict as server.DefaultCSP.
func TestWalletCSP(t *testing.T) {
	tests := []struct {
		host     string
		loopback bool
	}{
		{"id.shenfen.cn", false},
		{"id.shenfen.cn:443", false},
		{"127.0.0.1:8080", true},
		{"localhost:8080", true},
		{"localhost", true},
		{"[::1]:8080", true},
		{"127.0.0.1.attacker.example", false},
		{"localhost.attacker.example:80", false},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			csp := WalletCSP(tt.host)
			if !strings.Contains(csp, "connect-src 'self' https:") {
				t.Errorf("%s: no https connect-src: %s", tt.host, csp)
			}
			if got := strings.Contains(csp, "http://127.0.0.1:*"); got != tt.loopback {
				t.Errorf("%s: loopback http allowed = %v, want %v", tt.host, got, tt.loopback)
			}
			// Only connect-src differs from the default policy.
			strip := func(s string) string {
				var out []string
				for _, d := range strings.Split(s, ";") {
					if !strings.HasPrefix(strings.TrimSpace(d), "connect-src") {
						out = append(out, strings.TrimSpace(d))
					}
				}
				return strings.Join(out, ";")
			}
			if strip(csp) != strip(server.DefaultCSP) {
				t.Errorf("%s: directives other than connect-src changed:\n%s\n%s", tt.host, csp, server.DefaultCSP)
			}
		})
	}

	// The wallet page carries it; other pages keep their own (each with the
	// hash of the inline style sheet, TestStyleInline).
	h := Handler()
	hash := inlineStyle(Assets()).hash
	for path, want := range map[string]string{"/wallet/": withStyle(WalletCSP("id.shenfen.cn"), hash), "/verifier/": withStyle(server.DefaultCSP, hash)} {
		r := httptest.NewRequest(http.MethodGet, "https://id.shenfen.cn"+path, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if got := w.Header().Get("Content-Security-Policy"); w.Code != 200 || got != want {
			t.Errorf("%s: %d, CSP %q, want %q", path, w.Code, got, want)
		}
	}
}
