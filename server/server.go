// Package server wires shenfen's HTTP surface: the router, the middleware
// every request goes through (request ids, panic recovery, access logs
// without PII, Prometheus metrics, security headers, body limits) and the
// operational endpoints /healthz, /readyz and /metrics. Domain endpoints are
// mounted by cmd/shenfen.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/shenfen/shenfen/problem"
)

// Pinger is what /readyz asks before it says the server is ready.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server is shenfen's HTTP server.
type Server struct {
	mux      *http.ServeMux
	log      *slog.Logger
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	ready    []Pinger
	// MaxBodyBytes bounds the request body of every route without a limit
	// of its own (SetBodyLimit).
	MaxBodyBytes int64
	// TrustedProxies are the peers whose X-Forwarded-For, Forwarded and
	// X-Forwarded-Proto headers are believed; everyone else's are dropped.
	TrustedProxies []netip.Prefix

	limits   map[string]int64 // route pattern → body limit
	patterns []string         // every mounted pattern, in order
}

// New makes a server whose /readyz checks every pinger.
func New(log *slog.Logger, ready ...Pinger) *Server {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &Server{
		mux:      http.NewServeMux(),
		log:      log,
		registry: reg,
		ready:    ready,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "shenfen_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "shenfen_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		MaxBodyBytes: DefaultBodyLimit,
		limits:       map[string]int64{},
	}
	reg.MustRegister(s.requests, s.latency)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return s
}

// Metrics is the registry domain packages register their collectors with.
func (s *Server) Metrics() prometheus.Registerer { return s.registry }

// DefaultBodyLimit is the body limit of a route without its own.
const DefaultBodyLimit = 1 << 20

// Handle mounts h at a net/http ServeMux pattern ("POST /admin/registry").
func (s *Server) Handle(pattern string, h http.Handler) {
	s.mux.Handle(pattern, h)
	s.patterns = append(s.patterns, pattern)
}

// HandleFunc mounts f at a net/http ServeMux pattern.
func (s *Server) HandleFunc(pattern string, f http.HandlerFunc) { s.Handle(pattern, f) }

// SetBodyLimit sets the body limit, in bytes, of the route pattern (as
// mounted): the middleware answers 413 to a declared Content-Length over it
// and cuts a longer body off at it. It replaces MaxBodyBytes for that
// route, larger or smaller.
func (s *Server) SetBodyLimit(pattern string, n int64) { s.limits[pattern] = n }

// BodyLimit is the body limit of the route pattern.
func (s *Server) BodyLimit(pattern string) int64 {
	if n, ok := s.limits[pattern]; ok {
		return n
	}
	return s.MaxBodyBytes
}

// Patterns lists every mounted route pattern, in mounting order.
func (s *Server) Patterns() []string { return slices.Clone(s.patterns) }

// IsAdminPattern reports whether a route pattern belongs to the operators'
// surface (admin API, console, /metrics), which a separate admin listener
// serves alone.
func IsAdminPattern(pattern string) bool {
	_, p, ok := strings.Cut(pattern, " ")
	if !ok {
		p = pattern
	}
	return p == "/metrics" || p == "/admin" || strings.HasPrefix(p, "/admin/")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	for _, p := range s.ready {
		if err := p.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "not-ready", "Not ready", "a dependency is not answering"))
			return
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ready\n"))
}

type ctxKey struct{}

// RequestID returns the id of the request carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

type recorder struct {
	http.ResponseWriter
	code  int
	bytes int
	cause error
}

// RecordCause implements problem.CauseRecorder: the cause goes on the
// access log line.
func (r *recorder) RecordCause(err error) { r.cause = err }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Handler returns the full handler: middleware around the router, every
// route. With a separate admin listener it is that listener's handler.
func (s *Server) Handler() http.Handler { return s.handler(false) }

// PublicHandler is Handler without the operators' routes (IsAdminPattern):
// they answer 404, for the public listener when the admin API, console and
// metrics have a listener of their own.
func (s *Server) PublicHandler() http.Handler { return s.handler(true) }

func (s *Server) handler(public bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > 64 {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, id)
		r = r.WithContext(ctx)
		s.resolveClient(r)
		h := w.Header()
		h.Set("X-Request-Id", id)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if h.Get("Content-Security-Policy") == "" {
			h.Set("Content-Security-Policy", DefaultCSP)
		}
		rec := &recorder{ResponseWriter: w}
		_, route := s.mux.Handler(r)
		limit := s.BodyLimit(route)
		if route == "" {
			route = "unmatched"
		}
		hidden := public && IsAdminPattern(route)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic in handler", "request_id", id, "route", route, "panic", v)
				if rec.code == 0 {
					problem.Write(rec, r, problem.Internal())
				}
			}
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			s.requests.WithLabelValues(route, r.Method, strconv.Itoa(code)).Inc()
			s.latency.WithLabelValues(route).Observe(time.Since(start).Seconds())
			// Access log: the route pattern, never the raw path or query,
			// which may carry ID numbers or codes.
			attrs := []slog.Attr{slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
				slog.Int("status", code), slog.Int("bytes", rec.bytes), slog.Duration("duration", time.Since(start))}
			if rec.cause != nil {
				attrs = append(attrs, slog.String("cause", rec.cause.Error()))
			}
			s.log.LogAttrs(ctx, slog.LevelInfo, "http", attrs...)
		}()
		switch {
		case hidden:
			problem.Write(rec, r, problem.NotFound("no such endpoint"))
			return
		case r.ContentLength > limit:
			problem.Write(rec, r, problem.TooLarge(limit))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		s.mux.ServeHTTP(rec, r)
	})
}

// DefaultCSP is the Content-Security-Policy of every response that does not
// set its own: nothing inline, nothing from elsewhere. 'wasm-unsafe-eval'
// lets the pages compile their own WebAssembly (the desk's QR reader,
// web/static/web/qr.js); it allows no eval of JavaScript.
const DefaultCSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// ListenAndServe serves every route on addr until ctx is cancelled (see
// Serve). ready, if not nil, is called with the bound address once
// listening.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	if ready != nil {
		ready(ln.Addr())
	}
	return s.Serve(ctx, ln, s.Handler())
}

// Serve serves h on ln until ctx is cancelled, then shuts down gracefully,
// letting requests in flight finish for up to 15 seconds. It closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests keep ctx's values but not its cancellation: on SIGTERM
		// the requests in flight finish their work while Shutdown waits.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: finishing requests in flight", "addr", ln.Addr().String(), "grace", "15s")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
