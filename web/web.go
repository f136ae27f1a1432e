// Package web holds shenfen's three browser faces, embedded in the binary:
// the citizen's wallet (/wallet/, a mobile-first PWA), the front-desk
// verifier page (/verifier/) and the authority's admin console (/admin/).
//
// The pages are plain ES modules and CSS with no build step and no inline
// script or style, so they run under server.DefaultCSP unchanged; only the
// handler puts the shared style sheet inline when it serves a page (one
// request less before the first paint), and that page's policy allows
// exactly that style by its hash. Two small
// third-party files are vendored under static/web/vendor (a QR encoder and a
// QR decoder, with their licence headers); everything else is hand-written
// because what the pages need (base64url, compact JWS with a WebCrypto key,
// SD-JWT disclosure selection, WAV encoding, SVG bar charts) is a few dozen
// lines each, smaller than any dependency.
//
// The admin console signs in with the admin token once and then holds an
// HttpOnly, SameSite=Strict session cookie; its API calls go through a
// small forwarding handler (see session.go) that checks the session and a
// CSRF token and adds the bearer token that the admin API requires, so the
// token never stays in the page.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/server"
)

//go:embed static
var static embed.FS

// Assets is the embedded file tree: wallet/, verifier/, admin/ and web/
// (shared modules, styles and vendored files).
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Mux is where the pages are mounted (*server.Server, *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// Options configures Mount.
type Options struct {
	// AdminToken is the admin API's bearer token; the console's sign-in
	// compares against it and its forwarding handler presents it. Empty
	// disables the console's sign-in.
	AdminToken string
	// API is the handler the console's calls are forwarded to (the whole
	// server's handler, so /admin/api/... reach their owners).
	API http.Handler
	// SignInClient and SignInToken limit console sign-in attempts per
	// client address and per token tried (the store's limiters, shared by
	// every server; nil: per-process limits).
	SignInClient, SignInToken Limiter
	// Operators, when set, makes the console sign named operators in
	// (Sessions.UseOperators); the admin token then signs nobody in.
	Operators OperatorDirectory
}

// Mount attaches the pages, the shared assets and the console's session
// endpoints to m.
func Mount(m Mux, o Options) {
	files := Handler()
	m.Handle("GET /{$}", files) // the landing page
	for _, p := range []string{"/wallet/", "/verifier/", "/web/"} {
		m.Handle("GET "+p, files)
	}
	m.Handle("GET /admin/{$}", files)
	m.Handle("GET /admin/console/", files)
	s := NewSessions(o.AdminToken, o.API, o.SignInClient, o.SignInToken)
	if o.Operators != nil {
		s.UseOperators(o.Operators)
	}
	m.Handle("GET /admin/session", http.HandlerFunc(s.state))
	m.Handle("POST /admin/session", server.SameOrigin(http.HandlerFunc(s.signIn)))
	m.Handle("DELETE /admin/session", server.SameOrigin(http.HandlerFunc(s.signOut)))
	fwd := server.SameOrigin(s.Forward())
	for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
		m.Handle(method+" /admin/console/api/", fwd)
	}
}

// Handler serves the embedded pages: a directory path serves its
// index.html. Every response revalidates (Cache-Control: no-cache) so a new
// binary's pages take effect at once; the service workers keep their own
// copies for offline use.
func Handler() http.Handler {
	root := Assets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean(r.URL.Path), "/")
		if strings.HasSuffix(r.URL.Path, "/") {
			p = path.Join(p, "index.html")
		}
		// /admin/ is the console's page; its files live at /admin/console/.
		if p == "admin/console" {
			p = "admin/index.html"
		}
		p = strings.Replace(p, "admin/console/", "admin/", 1)
		if !fs.ValidPath(p) {
			http.NotFound(w, r)
			return
		}
		b, err := fs.ReadFile(root, p)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		csp := ""
		if p == "wallet/index.html" {
			csp = WalletCSP(r.Host)
		}
		if path.Ext(p) == ".html" {
			if st := inlineStyle(root); st.tag != nil && bytes.Contains(b, []byte(styleLink)) {
				b = bytes.Replace(b, []byte(styleLink), st.tag, 1)
				if csp == "" {
					csp = server.DefaultCSP
				}
				csp = withStyle(csp, st.hash)
			}
		}
		if csp != "" {
			h.Set("Content-Security-Policy", csp)
		}
		sum := sha256.Sum256(b)
		etag := hex.EncodeToString(sum[:8])
		if compressible(p) {
			// Text and WebAssembly go gzipped to a browser that takes it
			// (the wallet's first load: about a quarter of the bytes).
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				b = gzipped(p, b)
				etag += "-gz"
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", `"`+etag+`"`)
		h.Set("Content-Type", contentType(p))
		h.Set("Cache-Control", "no-cache")
		// Camera and microphone for this origin's pages only.
		h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=()")
		if strings.HasSuffix(p, "sw.js") {
			// A service worker at /wallet/sw.js controls /wallet/ only.
			h.Set("Service-Worker-Allowed", "/"+path.Dir(p)+"/")
		}
		http.ServeContent(w, r, p, time.Time{}, bytes.NewReader(b))
	})
}

// WalletCSP is the wallet page's Content-Security-Policy: server.DefaultCSP
// with connect-src opened to https origins, since the wallet fetches
// request objects from, and posts responses to, verifiers on their own
// hosts (OpenID4VP request_uri and response_uri; the verifiers answer with
// CORS). A wallet served on a loopback host (development, tests) may also
// reach http verifiers on loopback, which is where the wallet's request
// check (request.js) accepts http response URIs. Scripts, styles, frames
// and forms stay 'self'.
func WalletCSP(host string) string {
	src := "connect-src 'self' https:"
	if h, _, err := net.SplitHostPort(host); err == nil && loopback(h) || loopback(host) {
		src += " http://127.0.0.1:* http://localhost:*"
	}
	return strings.Replace(server.DefaultCSP, "connect-src 'self'", src, 1)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// styleLink is how a page links the shared style sheet. The handler puts
// the sheet inline in its place, at serve time (the files keep the link):
// the first paint then waits for no second request, a round trip less on a
// phone network (docs/benchmarks.md, "First load"). Such a page's
// Content-Security-Policy (server.DefaultCSP, or WalletCSP for the wallet)
// allows that one style by its SHA-256, and nothing else inline.
const styleLink = `<link rel="stylesheet" href="/web/app.css">`

// inlined is the shared style sheet ready to go inline.
type inlined struct {
	tag  []byte // <style>...</style>; nil when the sheet cannot go inline
	hash string // its CSP source, 'sha256-...'
}

var (
	styleOnce sync.Once
	style     inlined
)

// inlineStyle reads web/app.css from root once.
func inlineStyle(root fs.FS) inlined {
	styleOnce.Do(func() {
		css, err := fs.ReadFile(root, "web/app.css")
		if err != nil || bytes.Contains(bytes.ToLower(css), []byte("</style")) {
			return
		}
		sum := sha256.Sum256(css)
		style.tag = append(append([]byte("<style>"), css...), "</style>"...)
		style.hash = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	})
	return style
}

// withStyle is policy with the inline style of hash allowed.
func withStyle(policy, hash string) string {
	return strings.Replace(policy, "style-src 'self'", "style-src 'self' "+hash, 1)
}

// gz holds the gzip copy of each compressible file served, made on its
// first request (the files are embedded: they never change while running).
var gz sync.Map // path -> []byte

func gzipped(p string, b []byte) []byte {
	if v, ok := gz.Load(p); ok {
		return v.([]byte)
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level: no error
	zw.Write(b)                                              // a bytes.Buffer does not fail
	zw.Close()
	v, _ := gz.LoadOrStore(p, buf.Bytes())
	return v.([]byte)
}

// compressible reports whether p is worth gzipping (not images already
// compressed).
func compressible(p string) bool {
	switch path.Ext(p) {
	case ".html", ".js", ".mjs", ".css", ".svg", ".json", ".webmanifest", ".wasm":
		return true
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: a
// listed "gzip" (or "*") whose q is not 0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		for _, prm := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(prm), "=")
			if strings.EqualFold(k, "q") {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

func contentType(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".json":
		return "application/json"
	case ".wasm":
		return "application/wasm"
	case ".webmanifest":
		return "application/manifest+json"
	}
	return "application/octet-stream"
}
