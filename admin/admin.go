// Package admin is the identity authority's HTTP admin API: registry
// records (add, get, change status), a citizen's cards, the management of
// relying parties, and the operators' own endpoints (approvals, operators,
// whoami). Every endpoint sits behind a [Gate]: in the server the [Guard]
// (named operators and machine tokens, roles, reasons, four eyes, each
// access to a citizen recorded), in single-API tests [TokenGate]. Errors
// are RFC 9457 problem+json with stable types.
package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/shenfen/shenfen/problem"
)

// RequireToken lets a request through to h only when it carries
// "Authorization: Bearer TOKEN". The comparison takes the same time whatever
// the guess (both sides are hashed first, so not even the length leaks). An
// empty token refuses every request.
func RequireToken(token string, h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearer(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || token == "" || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="shenfen-admin"`)
			problem.Write(w, r, problem.Unauthorized("a valid admin bearer token is required"))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func bearer(r *http.Request) (string, bool) {
	a := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(a, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// Mux is where endpoints are mounted (*server.Server, *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}
