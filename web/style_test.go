package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/server"
)

// TestStyleInline: every page that links the shared style sheet is served
// with the sheet inline instead, and with a policy that allows that one
// style by its SHA-256 and is server.DefaultCSP otherwise; other files
// keep the default policy (set by the server).
func TestStyleInline(t *testing.T) {
	h := Handler()
	css := readAsset(t, "web/app.css")
	sum := sha256.Sum256([]byte(css))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	want := strings.Replace(server.DefaultCSP, "style-src 'self'", "style-src 'self' "+hash, 1)
	if want == server.DefaultCSP {
		t.Fatal("DefaultCSP has no style-src 'self' to extend")
	}
	for _, p := range []string{"/", "/wallet/", "/wallet/lost.html", "/verifier/", "/admin/"} {
		for _, enc := range []string{"", "gzip"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", p, nil)
			req.Header.Set("Accept-Encoding", enc)
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if enc == "gzip" {
				body = gunzip(t, rec.Body.Bytes())
			}
			if rec.Code != 200 || strings.Contains(body, styleLink) || !strings.Contains(body, "<style>"+css+"</style>") {
				t.Errorf("%s (%q): %d, the style sheet is not inline", p, enc, rec.Code)
			}
			w := want
			if p == "/wallet/" { // the wallet's own policy, with the style's hash
				w = withStyle(WalletCSP(req.Host), hash)
				if !strings.Contains(w, hash) || w == WalletCSP(req.Host) {
					t.Fatalf("the wallet's policy %q does not take the style's hash", WalletCSP(req.Host))
				}
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != w {
				t.Errorf("%s: policy %q, want %q", p, got, w)
			}
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/wallet/wallet.js", nil))
	if got := rec.Header().Get("Content-Security-Policy"); got != "" {
		t.Errorf("a script got its own policy %q", got)
	}
}

func readAsset(t *testing.T, p string) string {
	t.Helper()
	f, err := Assets().Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	return string(b)
}

func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
