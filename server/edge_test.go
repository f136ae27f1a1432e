package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/problem"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// echoClient answers the client address and scheme the handler sees.
func echoClient(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, ClientKey(r)+" "+r.Header.Get("X-Forwarded-Proto")+" "+r.Header.Get("X-Forwarded-For")+r.Header.Get("Forwarded"))
}

// proxyCase is a request from remote with headers and the client
// address, scheme and forwarding headers the handler must see.
type proxyCase struct {
	name, remote string
	headers      map[string]string
	want         string
}

func runProxyCases(t *testing.T, tests []proxyCase) {
	t.Helper()
	s := New(quiet())
	s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	s.HandleFunc("GET /who", echoClient)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/who", nil)
			req.RemoteAddr = tc.remote
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if got := rec.Body.String(); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTrustedProxies: forwarding headers are believed from trusted proxies
// only; a stranger cannot pick the address it is limited under, nor claim
// https, nor hide behind a spoofed hop or an address of its /64.
func TestTrustedProxies(t *testing.T) {
	runProxyCases(t, []proxyCase{
		{"stranger sets XFF", "203.0.113.9:5000", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}, "203.0.113.9  "},
		{"stranger sets Forwarded", "203.0.113.9:5000", map[string]string{"Forwarded": "for=198.51.100.1;proto=https"}, "203.0.113.9  "},
		{"spoofed hop before the real client", "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "1.1.1.1, 198.51.100.1"}, "198.51.100.1  "},
		{"garbage hop", "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.1, not-an-ip"}, "10.1.2.3  "},
		{"bad proto ignored", "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "javascript"}, "198.51.100.1  "},
		{"IPv6 groups by /64", "[2001:db8:aa:bb:1:2:3:4]:5000", nil, "2001:db8:aa:bb::/64  "},
	})
}

// TestForwardedFromProxies: what a trusted proxy says is what handlers see.
func TestForwardedFromProxies(t *testing.T) {
	runProxyCases(t, []proxyCase{
		{"direct, no headers", "203.0.113.9:5000", nil, "203.0.113.9  "},
		{"trusted proxy XFF", "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.1", "X-Forwarded-Proto": "https"}, "198.51.100.1 https "},
		{"two trusted hops", "10.1.2.3:5000", map[string]string{"X-Forwarded-For": "198.51.100.1, 10.9.9.9"}, "198.51.100.1  "},
		{"Forwarded wins over XFF", "10.1.2.3:5000", map[string]string{"Forwarded": `for="[2001:db8:1:2::7]:4711";proto=https`, "X-Forwarded-For": "1.1.1.1"}, "2001:db8:1:2::/64 https "},
		{"IPv6 loopback proxy", "[::1]:5000", map[string]string{"X-Forwarded-For": "192.0.2.44"}, "192.0.2.44  "},
	})
}

type bodyCase struct {
	name, path string
	body       []byte
	chunked    bool
	wantCode   int
}

// TestBodyLimits: a body over its route's limit (declared or chunked) gets
// 413 problem+json naming the limit.
func TestBodyLimits(t *testing.T) {
	runBodyCases(t, []bodyCase{
		{"selfie on a default route", "/default", selfie, false, 413},
		{"selfie chunked on a default route", "/default", selfie, true, 413},
		{"over the small limit", "/small", make([]byte, 1025), false, 413},
		{"over the small limit chunked", "/small", make([]byte, 1025), true, 413},
	})
}

// TestRouteBodySizeReplacesDefault: a route's own limit applies in full
// (the default does not undercut it).
func TestRouteBodySizeReplacesDefault(t *testing.T) {
	runBodyCases(t, []bodyCase{
		{"selfie on the 16 MiB route", "/big", selfie, false, 200},
		{"selfie chunked on the 16 MiB route", "/big", selfie, true, 200},
		{"at the small limit", "/small", make([]byte, 1024), false, 200},
	})
}

var selfie = bytes.Repeat([]byte{0xff}, 1_080_000) // a phone selfie over the old 1 MiB cap

func runBodyCases(t *testing.T, tests []bodyCase) {
	t.Helper()
	s := New(quiet())
	read := func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem.Write(w, r, problem.TooLarge(mbe.Limit))
			return
		}
		io.WriteString(w, "read "+itoa(n))
	}
	s.HandleFunc("POST /big", read)
	s.HandleFunc("POST /small", read)
	s.HandleFunc("POST /default", read)
	s.SetBodyLimit("POST /big", 16<<20)
	s.SetBodyLimit("POST /small", 1024)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length: no Content-Length
			}
			req := httptest.NewRequest("POST", tc.path, body)
			if tc.chunked {
				req.ContentLength = -1
			}
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.wantCode, rec.Body.String())
			}
			if tc.wantCode == 413 {
				var d problem.Details
				if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil || d.Type != problem.TypeBase+"too-large" ||
					!strings.Contains(d.Detail, itoa(s.BodyLimit("POST "+tc.path))) {
					t.Fatalf("413 body %s", rec.Body.String())
				}
			}
		})
	}
	if s.BodyLimit("POST /default") != DefaultBodyLimit || s.BodyLimit("POST /big") != 16<<20 {
		t.Fatal("BodyLimit does not report the limits")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestPublicHandlerHidesAdmin: with a separate admin listener, the public
// handler answers 404 for the admin API, the console and /metrics, and the
// admin handler serves them.
func TestPublicHandlerHidesAdmin(t *testing.T) {
	s := New(quiet())
	ok := func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }
	s.HandleFunc("GET /admin/api/rps", ok)
	s.HandleFunc("GET /admin/{$}", ok)
	s.HandleFunc("POST /admin/status", ok)
	s.HandleFunc("GET /wallet/", ok)
	for _, tc := range []struct {
		method, path          string
		wantPublic, wantAdmin int
	}{
		{"GET", "/admin/api/rps", 404, 200},
		{"GET", "/admin/", 404, 200},
		{"POST", "/admin/status", 404, 200},
		{"GET", "/metrics", 404, 200},
		{"GET", "/wallet/", 200, 200},
		{"GET", "/healthz", 200, 200},
	} {
		for _, h := range []struct {
			name string
			h    http.Handler
			want int
		}{{"public", s.PublicHandler(), tc.wantPublic}, {"admin", s.Handler(), tc.wantAdmin}} {
			rec := httptest.NewRecorder()
			h.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != h.want {
				t.Errorf("%s %s %s: %d, want %d", h.name, tc.method, tc.path, rec.Code, h.want)
			}
		}
	}
}

// TestProblemCauseNeverSent: a problem's cause reaches the access log
// line and never the client.
func TestProblemCauseNeverSent(t *testing.T) {
	var logs bytes.Buffer
	s := New(slog.New(slog.NewTextHandler(&logs, nil)))
	s.HandleFunc("POST /parse", func(w http.ResponseWriter, r *http.Request) {
		var v struct{}
		err := json.NewDecoder(strings.NewReader(`{"a":`)).Decode(&v)
		problem.Write(w, r, problem.BadRequest("send a JSON object").WithCause(err))
	})
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("POST", "/parse", nil))
	if rec.Code != 400 || strings.Contains(rec.Body.String(), "unexpected EOF") || strings.Contains(rec.Body.String(), "cause") {
		t.Fatalf("client got %d %s", rec.Code, rec.Body.String())
	}
	if !strings.Contains(logs.String(), "cause=\"unexpected EOF\"") {
		t.Fatalf("cause not logged: %s", logs.String())
	}
}

// FuzzForwarded: any forwarding headers from a trusted proxy resolve to a
// parseable address without panicking, and a stranger's are always
// ignored.
func FuzzForwarded(f *testing.F) {
	f.Add("198.51.100.1, 10.0.0.2", `for="[2001:db8::1]:4711";proto=https, for=10.0.0.3`, "https")
	f.Add("", "for=unknown", "http,https")
	f.Add(",,,", `for="_hidden";by=10.0.0.1`, "")
	f.Add("not-an-ip", `for=[::1`, "javascript")
	s := New(quiet())
	s.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff, fwd, proto string) {
		for _, peer := range []string{"10.1.1.1:80", "203.0.113.9:80"} {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = peer
			r.Header.Set("X-Forwarded-For", xff)
			r.Header.Set("Forwarded", fwd)
			r.Header.Set("X-Forwarded-Proto", proto)
			s.resolveClient(r)
			ap, err := netip.ParseAddrPort(r.RemoteAddr)
			if peer == "203.0.113.9:80" {
				if r.RemoteAddr != peer || r.Header.Get("X-Forwarded-Proto") != "" || r.Header.Get("X-Forwarded-For") != "" {
					t.Fatalf("a stranger's headers were believed: %q %v", r.RemoteAddr, r.Header)
				}
				continue
			}
			if err != nil || !ap.Addr().IsValid() {
				t.Fatalf("resolved %q from %q / %q", r.RemoteAddr, xff, fwd)
			}
			if p := r.Header.Get("X-Forwarded-Proto"); p != "" && p != "http" && p != "https" {
				t.Fatalf("scheme %q", p)
			}
		}
	})
}
