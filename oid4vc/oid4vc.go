// Package oid4vc is shenfen's wallet-facing HTTP API: the enrollment
// endpoints (challenge, signed submission), the OpenID4VCI 1.0 credential
// issuer (pre-authorized code flow with proof of possession of the device
// key) and the OpenID4VP 1.0 verifier used in person (request by
// reference, a direct_post or encrypted direct_post.jwt response, the
// wallet's error response as a decline, result polling and cancelling for
// the verifier page). docs/api.md documents every endpoint with examples.
//
// The protocol messages are written by hand rather than through an OAuth or
// OpenID4VC library: the pre-authorized code flow is three small endpoints
// with no redirects, client authentication or PKCE, and the verifier needs
// only request-object serving and the two direct_post modes; the cryptographic checks
// (JWS, SD-JWT VC, mdoc) are go-jose and shenfen's credential packages.
package oid4vc

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/verifier"
)

// Mux is where the endpoints are attached (*server.Server, *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// CardIssuer makes one format of a card, one credential per holder key.
type CardIssuer interface {
	// Issue returns a credential of configuration configID for each
	// holder key, in order (ConfigSDJWT: the SD-JWT VC; ConfigMdoc and
	// ConfigQR: base64url IssuerSigned).
	Issue(ctx context.Context, configID string, card proofing.Card, holders []*ecdsa.PublicKey) ([]string, error)
}

// Disclosures records what a citizen disclosed (the audit log's
// disclosure history).
type Disclosures interface {
	Record(ctx context.Context, d audit.Disclosure) (uint64, error)
}

// Credential configuration identifiers: the three encodings of one card
// (same device key, status-list entry and validity). ConfigQR is the
// compact mdoc (docType org.shenfen.pid.qr.1, package credential/qr) the
// wallet shows as the offline in-person QR code.
const (
	ConfigSDJWT = "pid_sd_jwt"
	ConfigMdoc  = "pid_mdoc"
	ConfigQR    = "pid_mdoc_qr"
)

// Configs lists every credential configuration, in the order of the
// credential offer.
var Configs = []string{ConfigSDJWT, ConfigMdoc, ConfigQR}

func knownConfig(id string) bool {
	for _, c := range Configs {
		if c == id {
			return true
		}
	}
	return false
}

// API is the HTTP face of enrollment, issuance and in-person verification.
type API struct {
	// Issuer is the credential issuer identifier: the public URL, no
	// trailing slash.
	Issuer   string
	Proofing *proofing.Service
	Cards    CardIssuer
	// VCT and DocType name the card types in the metadata and queries.
	VCT, DocType, Namespace string
	// Verifier checks presentations (nil: the verifier endpoints answer
	// 503); Requests keeps verifier requests; Sealer seals their results.
	Verifier    PresentationVerifier
	Requests    proofing.VerifierStore
	Sealer      proofing.Sealer
	Disclosures Disclosures
	// Desks is the verifier registry: the desks that may ask for a card,
	// their keys, and the public registry endpoint the wallet reads (nil:
	// the verifier endpoints answer 503).
	Desks DeskRegistry
	// VerifierLimit bounds verifier request creation per client address
	// (nil: no limit).
	VerifierLimit proofing.RateLimiter
	// NonceLimit bounds c_nonce requests (each stores a row) per client
	// address (nil: no limit).
	NonceLimit proofing.RateLimiter
	// BatchLimit bounds credential requests per card and configuration
	// (BatchCardEvery, BatchCardBurst; nil: no limit).
	BatchLimit proofing.RateLimiter
	// MetadataSigner, when set, signs the issuer metadata
	// (signed_metadata, OpenID4VCI 1.0 §12.2.3) with the current document
	// signer, whose x5c chain leads to the trust list's root: a wallet
	// then trusts what the metadata says as it trusts the cards, LogKey
	// included.
	MetadataSigner Signers
	// LogKey is the transparency log's C2SP signed-note verifier key
	// ("origin+hash+base64"), published in the metadata as
	// shenfen_transparency_log.verifier_key (empty: not published).
	LogKey string
	Log    *slog.Logger
	Clock  func() time.Time
}

func (a *API) now() time.Time {
	if a.Clock != nil {
		return a.Clock().UTC()
	}
	return time.Now().UTC()
}

func (a *API) log() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Mount attaches every endpoint. Without a proofing service (the
// biometric engines could not be loaded) the enrollment and issuance
// endpoints answer 503 enrollment-unavailable.
func (a *API) Mount(m Mux) {
	// The wallet page's enrollment and the verifier page's requests are
	// browser-facing: cross-site state changes are refused; JSON bodies
	// must say so (a cross-site simple POST cannot).
	m.Handle("POST /api/enrollments", server.SameOrigin(server.RequireJSON(a.needProofing(a.start))))
	m.Handle("POST /api/enrollments/{id}/submission", server.SameOrigin(a.needProofing(a.submit)))
	m.Handle("GET /api/enrollments/{id}", a.needProofing(a.status))

	m.Handle("GET /.well-known/openid-credential-issuer", http.HandlerFunc(a.issuerMetadata))
	m.Handle("GET /.well-known/oauth-authorization-server", http.HandlerFunc(a.asMetadata))
	m.Handle("GET "+TypeMetadataPath+"{vct}", http.HandlerFunc(a.typeMetadata))
	m.Handle("POST /vci/token", a.needProofing(a.token))
	m.Handle("POST /vci/nonce", a.needProofing(a.nonce))
	m.Handle("POST /vci/credential", server.RequireJSON(a.needProofing(a.credential)))

	m.Handle("POST /api/verifier/requests", server.SameOrigin(server.RequireJSON(http.HandlerFunc(a.createRequest))))
	m.Handle("GET /api/verifier/requests/{id}", http.HandlerFunc(a.result))
	m.Handle("DELETE /api/verifier/requests/{id}", server.SameOrigin(http.HandlerFunc(a.cancelRequest)))
	// A wallet on another origin (a browser wallet served elsewhere)
	// fetches the request object, posts the response and looks up the
	// registration: these answer any origin (CORS, no credentials). Both
	// calls are CORS-simple (a GET with Accept, a form POST), so no
	// preflight is needed.
	m.Handle("GET /oid4vp/requests/{id}", anyOrigin(a.requestObject))
	m.Handle("POST /oid4vp/responses/{id}", anyOrigin(a.response))
	m.Handle("GET /api/verifiers/{cert}", anyOrigin(a.registration))
}

// anyOrigin lets scripts of any origin read h's answers (errors included):
// Access-Control-Allow-Origin "*", never with credentials, so a browser
// sends no cookies along and no session of the reader's is ever in play.
func anyOrigin(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h(w, r)
	})
}

// registration is the public registry entry of the verifier a
// certificate was issued to (the wallet looks up the x5c leaf of a signed
// request by its SHA-256): names, purpose, logo, entitled claims.
func (a *API) registration(w http.ResponseWriter, r *http.Request) {
	if a.Desks == nil {
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "verifier-unavailable", "Verifier unavailable", "the verifier registry is not configured"))
		return
	}
	v, err := a.Desks.ByCert(r.Context(), r.PathValue("cert"))
	if errors.Is(err, verifier.ErrNotFound) {
		problem.Write(w, r, problem.New(http.StatusNotFound, "unregistered-verifier", "Unregistered verifier",
			"no verifier is registered with the authority under this certificate"))
		return
	}
	if err != nil {
		a.log().Error("verifier registry", "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	json.NewEncoder(w).Encode(v.Public())
}

func (a *API) needProofing(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.Proofing == nil || a.Cards == nil {
			problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "enrollment-unavailable", "Enrollment unavailable",
				"the biometric engines are not available on this server"))
			return
		}
		h(w, r)
	})
}

// clientAddr is the peer address without port (for rate limits only).
func clientAddr(r *http.Request) string { return server.ClientKey(r) }

// limit takes one event for key from l (nil: no limit); over the limit or
// on the limiter's failure it answers the request and returns false.
func (a *API) limit(w http.ResponseWriter, r *http.Request, l proofing.RateLimiter, key string) bool {
	if l == nil {
		return true
	}
	ok, after, err := l.Take(r.Context(), key, a.now())
	switch {
	case err != nil:
		problem.Write(w, r, problem.Internal().WithCause(err))
		return false
	case !ok:
		tooMany(w, r, after)
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// oauthError writes an OAuth-style error (RFC 6749 §5.2, OpenID4VCI §8.3.1).
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func tooMany(w http.ResponseWriter, r *http.Request, after time.Duration) {
	problem.Write(w, r, problem.TooManyRequests("too many attempts; retry later", after))
}
