package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

type pinger struct{ err error }

func (p pinger) Ping(context.Context) error { return p.err }

func TestOperationalEndpoints(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name, path string
		ready      error
		wantCode   int
		wantBody   string
	}{
		{"healthz", "/healthz", nil, 200, "ok"},
		{"readyz ok", "/readyz", nil, 200, "ready"},
		{"readyz down", "/readyz", errors.New("db down"), 503, "not-ready"},
		{"metrics", "/metrics", nil, 200, "go_goroutines"},
		{"unknown", "/nope", nil, 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := New(log, pinger{tc.ready})
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.wantCode || !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Fatalf("%s: %d %q", tc.path, rec.Code, rec.Body.String())
			}
			if rec.Header().Get("X-Request-Id") == "" || rec.Header().Get("Content-Security-Policy") == "" {
				t.Fatal("missing request id or CSP header")
			}
		})
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	var logs strings.Builder
	s := New(slog.New(slog.NewTextHandler(&logs, nil)))
	s.HandleFunc("GET /boom/{id}", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/boom/110101199003077777?secret=1", nil))
	if rec.Code != 500 || rec.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	if strings.Contains(logs.String(), "110101199003077777") || strings.Contains(logs.String(), "secret") {
		t.Fatalf("log carries the raw path: %s", logs.String())
	}
}

// TestGracefulShutdown checks that a request in flight when the serve
// context is cancelled (SIGTERM) finishes its work with a live context and
// its response reaches the client before ListenAndServe returns.
func TestGracefulShutdown(t *testing.T) {
	s := New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	started, release := make(chan struct{}), make(chan struct{})
	s.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		if err := r.Context().Err(); err != nil {
			http.Error(w, "cancelled: "+err.Error(), 500)
			return
		}
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a.String() })
	}()
	addr := <-addrc
	type result struct {
		code int
		body string
		err  error
	}
	resc := make(chan result, 1)
	go func() {
		r, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			resc <- result{err: err}
			return
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		resc <- result{r.StatusCode, string(b), err}
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		t.Fatalf("server stopped with a request in flight: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	res := <-resc
	if res.err != nil || res.code != 200 || res.body != "finished" {
		t.Fatalf("in-flight request: %d %q %v", res.code, res.body, res.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ListenAndServe: %v", err)
	}
}
