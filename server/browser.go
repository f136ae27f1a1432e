package server

import (
	"mime"
	"net/http"

	"github.com/shenfen/shenfen/problem"
)

// crossOrigin is Go's cross-site request protection (Sec-Fetch-Site, then
// Origin against Host) with a problem+json refusal.
var crossOrigin = func() *http.CrossOriginProtection {
	c := http.NewCrossOriginProtection()
	c.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem.Write(w, r, problem.CrossSite())
	}))
	return c
}()

// SameOrigin refuses cross-site state changes to a browser-facing route:
// a non-safe request (POST, PUT, PATCH, DELETE) that a browser marks as
// cross-site (Sec-Fetch-Site, or an Origin that is not this host) gets 403
// problem+json. Requests from non-browser clients, which send neither
// header, pass; so do GET, HEAD and OPTIONS.
func SameOrigin(h http.Handler) http.Handler { return crossOrigin.Handler(h) }

// IsSameOrigin is SameOrigin's check for handlers that decide themselves.
func IsSameOrigin(r *http.Request) bool { return crossOrigin.Check(r) == nil }

// IsJSON reports whether the request declares a JSON body
// (Content-Type: application/json, any parameters).
func IsJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// RequireJSON answers 415 problem+json to a request whose Content-Type is
// not application/json, before h reads the body: a browser's simple
// cross-site POST (form or text/plain) never reaches a JSON endpoint.
func RequireJSON(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !IsJSON(r) {
			problem.Write(w, r, problem.UnsupportedMediaType("application/json"))
			return
		}
		h.ServeHTTP(w, r)
	})
}
