package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/server"
)

// testApp opens an app in a temporary data directory with extra flags.
func testApp(t *testing.T, args ...string) *app {
	t.Helper()
	cfg, _, err := config.Load("serve", append([]string{"--data", t.TempDir(), "--admin-token", "test-admin-token-0123"}, args...),
		func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	return a
}

// docBodyLimits reads the body-limit table of docs/api.md §7.4.
func docBodyLimits(t *testing.T) map[string]int64 {
	t.Helper()
	f, err := os.Open("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "<!-- body-limits -->":
			in = true
			continue
		case line == "<!-- /body-limits -->":
			return out
		case !in || !strings.HasPrefix(line, "| `"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), "|")
		if len(cells) != 2 {
			t.Fatalf("docs/api.md: bad row %q", line)
		}
		route := strings.Trim(strings.TrimSpace(cells[0]), "`")
		num, unit, _ := strings.Cut(strings.TrimSpace(cells[1]), " ")
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			t.Fatalf("docs/api.md: bad limit in %q", line)
		}
		switch unit {
		case "KiB":
			n <<= 10
		case "MiB":
			n <<= 20
		default:
			t.Fatalf("docs/api.md: unit %q in %q", unit, line)
		}
		out[route] = n
	}
	t.Fatal("docs/api.md: no body-limits table")
	return nil
}

// TestBodyLimitsDocumented: the body limits documented in docs/api.md are
// the server's, every documented route is mounted, and every mounted route
// that takes a body is documented.
func TestBodyLimitsDocumented(t *testing.T) {
	a := testApp(t)
	srv := server.New(a.log, a.db)
	if err := mount(context.Background(), a, srv); err != nil {
		t.Fatal(err)
	}
	doc := docBodyLimits(t)
	mounted := map[string]bool{}
	for _, p := range srv.Patterns() {
		mounted[p] = true
		method, _, hasMethod := strings.Cut(p, " ")
		takesBody := !hasMethod || method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE"
		if _, ok := doc[p]; takesBody && !ok {
			t.Errorf("route %q takes a body but docs/api.md §7.4 does not list its limit (server: %d)", p, srv.BodyLimit(p))
		}
	}
	for route, n := range doc {
		if !mounted[route] {
			t.Errorf("docs/api.md lists %q, which is not mounted", route)
		}
		if got := srv.BodyLimit(route); got != n {
			t.Errorf("%s: server limit %d, docs/api.md %d", route, got, n)
		}
	}
	if len(doc) != len(bodyLimits) {
		t.Errorf("docs/api.md lists %d routes, bodyLimits %d", len(doc), len(bodyLimits))
	}
	// Behaviour: the enrollment submission takes a 1.08 MB selfie upload past
	// the server (the handler answers, not the 413 of the old 1 MiB cap);
	// a wallet nonce request with a 2 KiB body is refused before it runs.
	h := srv.Handler()
	for _, tc := range []struct {
		path string
		size int
		want func(int) bool
	}{
		{"/api/enrollments/x/submission", 1_080_000, func(c int) bool { return c != http.StatusRequestEntityTooLarge }},
		{"/api/wallet/nonce", 2 << 10, func(c int) bool { return c == http.StatusRequestEntityTooLarge }},
	} {
		rec := newRecorder()
		req, _ := http.NewRequest("POST", "http://127.0.0.1/"+strings.TrimPrefix(tc.path, "/"), strings.NewReader(strings.Repeat("x", tc.size)))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=zz")
		h.ServeHTTP(rec, req)
		if !tc.want(rec.code) {
			t.Errorf("POST %s with %d bytes: %d", tc.path, tc.size, rec.code)
		}
	}
}

// The operators' status change is a JSON endpoint too.
func TestAdminStatusContentType(t *testing.T) {
	a := testApp(t)
	srv := server.New(a.log, a.db)
	if err := mount(context.Background(), a, srv); err != nil {
		t.Fatal(err)
	}
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", ""} {
		req, _ := http.NewRequest("POST", "http://127.0.0.1/admin/status", strings.NewReader(`{"uri":"x","idx":1,"status":"revoked"}`))
		req.Header.Set("Authorization", "Bearer test-admin-token-0123")
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := newRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.code != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: %d, want 415", ct, rec.code)
		}
	}
}

type recorder struct {
	h    http.Header
	code int
}

func newRecorder() *recorder                    { return &recorder{h: http.Header{}} }
func (r *recorder) Header() http.Header         { return r.h }
func (r *recorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *recorder) WriteHeader(code int)        { r.code = code }

// TestServeAdminListenerAndShutdown: with --admin-addr the admin routes and
// /metrics answer only on the admin listener; the public one says 404.
// Cancelling the context stops both listeners and every background loop
// before serve returns.
func TestServeAdminListenerAndShutdown(t *testing.T) {
	a := testApp(t, "--addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--trusted-proxies", "127.0.0.1")
	srv := server.New(a.log, a.db)
	if err := mount(context.Background(), a, srv); err != nil {
		t.Fatal(err)
	}
	var finished atomic.Bool
	a.addLoop("slow loop", time.Hour, func(ctx context.Context, _ time.Time) error {
		<-ctx.Done()
		time.Sleep(200 * time.Millisecond) // work still finishing at shutdown
		finished.Store(true)
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan [2]net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, a, srv, func(p, adm net.Addr) { addrs <- [2]net.Addr{p, adm} }) }()
	var pub, adm string
	select {
	case as := <-addrs:
		pub, adm = "http://"+as[0].String(), "http://"+as[1].String()
	case err := <-done:
		t.Fatal(err)
	}
	get := func(base, path string) int {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, tc := range []struct {
		path          string
		public, admin int
	}{
		{"/metrics", 404, 200},
		{"/admin/", 404, 200},
		{"/admin/session", 404, 200},
		{"/admin/api/rps", 404, 401},
		{"/healthz", 200, 200},
		{"/wallet/", 200, 200},
	} {
		if got := get(pub, tc.path); got != tc.public {
			t.Errorf("public %s: %d, want %d", tc.path, got, tc.public)
		}
		if got := get(adm, tc.path); got != tc.admin {
			t.Errorf("admin %s: %d, want %d", tc.path, got, tc.admin)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
	if _, err := http.Get(pub + "/healthz"); err == nil {
		t.Fatal("public listener still open after serve returned")
	}
	if !finished.Load() {
		t.Fatal("serve returned before its background loop finished")
	}
}
