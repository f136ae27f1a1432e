// Package oidc is shenfen's OpenID Provider: hotels, banks, government
// portals and ticketing sites sign citizens in with their virtual ID card.
//
// The protocol engine is github.com/zitadel/oidc/v3's op package, an
// OpenID-certified provider library that is actively maintained, pure Go and
// storage-agnostic (it asks for an op.Storage, which this package implements
// over shenfen's store). It was chosen over ory/fosite because fosite is a
// toolkit of OAuth handlers that leaves discovery, the OIDC session and
// ID-token assembly to the integrator, while op is a complete OP whose
// storage interface matches shenfen's needs; op lacks PAR (RFC 9126), which
// this package adds in front of its authorization endpoint (par.go), and it
// serves discovery and JWKS, which this package precomputes and serves with
// an ETag (discovery.go).
//
// What is shenfen's own: the citizen authenticates with the wallet, never a
// password. The login page shows a QR (cross-device) and a link into the
// wallet (same device); the wallet answers with a holder-bound SD-JWT VC
// presentation over the login transaction's nonce, checked with the
// credential library including status (login.go). The login's acr is the
// assurance the card's enrollment reached, found through the card's status
// entry in the authority's records, and a request's acr_values (or the
// claims parameter's acr) are enforced (assurance.go). Relying parties are
// registered with the claims they are legally entitled to; requests beyond
// entitlement are trimmed, never granted. Each RP sector sees its own
// pairwise subject (HMAC of sector and citizen key under a server secret),
// the one consent is the wallet's (the signed sign-in request names the
// relying party and its purpose and asks exactly the claims asked, the
// optional ones optional), the provider grants what the wallet shared, and
// every grant is recorded for the citizen's history.
package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/shenfen/shenfen/credential"
)

// Assurance levels (the acr claim).
const (
	// ACRHigh: a card issued after face + liveness proofing, presented with
	// holder binding (device key signature) and a valid status.
	ACRHigh = "urn:shenfen:loa:high"
	// ACRSubstantial: a card of a trusted issuer, presented with holder
	// binding and a valid status, whose enrollment is not on record here as
	// face + liveness proofed (assurance.go).
	ACRSubstantial = "urn:shenfen:loa:substantial"
)

// Presentation is a verified wallet answer.
type Presentation struct {
	// Claims are the disclosed card claims (SD-JWT VC names and nesting).
	Claims map[string]any
	// CitizenKey is a stable identifier of the citizen (the ID number): the
	// pairwise subjects derive from it; it is never stored in clear.
	CitizenKey string
	// Issuer is the card's issuer (SD-JWT iss).
	Issuer string
	// Status is the card's issuer-signed status-list entry (nil: none); the
	// provider finds the card's enrollment, hence its assurance level, by it.
	Status *credential.StatusRef
	// AMR lists the authentication methods ("hwk": device key, "pop").
	AMR []string
}

// PresentationVerifier checks a wallet presentation made for nonce and
// audience, including the card's signature chain, holder binding and status.
type PresentationVerifier interface {
	VerifyPresentation(ctx context.Context, presentation, nonce, audience string) (Presentation, error)
}

// Disclosure is one grant of claims to a relying party.
type Disclosure struct {
	// CitizenKey identifies the citizen (the recorder keeps its own index).
	CitizenKey string
	ClientID   string
	ClientName string
	Subject    string
	Claims     []string
	ACR        string
	At         time.Time
}

// DisclosureRecorder records a grant in the citizen's disclosure history
// (the audit log). The provider also keeps its own grant table.
type DisclosureRecorder interface {
	RecordDisclosure(ctx context.Context, d Disclosure) error
}

// Sealer encrypts claim values at rest (seal.Sealer).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Config is what New needs.
type Config struct {
	// Issuer is the provider's identifier, e.g. https://id.example/oidc; its
	// path is where Handler must be mounted.
	Issuer string
	Store  Store
	// Signer signs ID tokens (P-256, ES256); KeyID names it in the JWKS.
	Signer crypto.Signer
	KeyID  string
	// RSASigner (RSA, 2048 bits or more), if set, signs the ID tokens of
	// clients registered with id_token_signed_response_alg RS256, and
	// discovery offers RS256 next to ES256 (OpenID Connect Discovery 1.0
	// section 3 requires RS256). RSAKeyID names it (default: its RFC 7638
	// thumbprint).
	RSASigner crypto.Signer
	RSAKeyID  string
	// Secret (32+ bytes) keys pairwise subjects, the citizen history index,
	// CSRF tokens and access-token encryption.
	Secret []byte
	Sealer Sealer
	// Verifier checks wallet presentations.
	Verifier PresentationVerifier
	// RequestKey returns the key and certificate that sign the wallet
	// sign-in requests (the provider's verifier registration).
	RequestKey func(ctx context.Context) (RequestKey, error)
	// Enrollments tells how the enrollment behind a card was proofed, which
	// sets the login's acr (default: Store, whose records are the
	// authority's own enrollments).
	Enrollments EnrollmentRecords
	// Recorder, if set, also receives every grant.
	Recorder DisclosureRecorder
	// WalletURL is the same-device wallet entry (default /wallet/).
	WalletURL string
	// AuthorizeLimit bounds authorization requests (each stores a login
	// transaction) per client address (nil: no limit).
	AuthorizeLimit RateLimiter
	Log            *slog.Logger
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Lifetimes (defaults: login 10 min, code 60 s, access 15 min,
	// refresh 30 days, ID token 1 h).
	LoginTTL, CodeTTL, AccessTTL, RefreshTTL, IDTokenTTL time.Duration
}

// RateLimiter limits events per key (the store's limiter, shared by every
// server through the database).
type RateLimiter interface {
	Take(ctx context.Context, key string, now time.Time) (bool, time.Duration, error)
}

// Authorization request limits per client address: a citizen's login is
// one request; an address may carry a carrier-grade NAT of citizens.
const (
	AuthorizeClientEvery = time.Second
	AuthorizeClientBurst = 30
)

// Provider is the OpenID Provider.
type Provider struct {
	cfg     Config
	op      *op.Provider
	path    string // issuer path, e.g. /oidc
	secure  bool
	key     signingKey
	rsaKey  *signingKey // nil: no RS256
	mux     *http.ServeMux
	handler http.Handler
	// opHandler is op's router under the issuer path.
	opHandler http.Handler
	disc      cached
	jwks      cached
	clients   *clientCache
}

// New builds the provider.
func New(cfg Config) (*Provider, error) {
	if cfg.Store == nil || cfg.Signer == nil || cfg.Sealer == nil || cfg.Verifier == nil || cfg.RequestKey == nil {
		return nil, errors.New("oidc: store, signer, sealer, verifier and request key are required")
	}
	if len(cfg.Secret) < 32 {
		return nil, errors.New("oidc: secret must be at least 32 bytes")
	}
	u, err := url.Parse(cfg.Issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("oidc: issuer %q is not an http(s) URL", cfg.Issuer)
	}
	cfg.Issuer = strings.TrimSuffix(cfg.Issuer, "/")
	pub, ok := cfg.Signer.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve.Params().Name != "P-256" {
		return nil, errors.New("oidc: signer must be a P-256 ECDSA key (ES256)")
	}
	if cfg.KeyID == "" {
		cfg.KeyID = thumbprint(pub)
	}
	var rsaKey *signingKey
	if cfg.RSASigner != nil {
		rpub, ok := cfg.RSASigner.Public().(*rsa.PublicKey)
		if !ok || rpub.N.BitLen() < 2048 {
			return nil, errors.New("oidc: the RS256 signer must be an RSA key of at least 2048 bits")
		}
		if cfg.RSAKeyID == "" {
			cfg.RSAKeyID = thumbprint(rpub)
		}
		rsaKey = &signingKey{id: cfg.RSAKeyID, alg: jose.RS256, signer: cfg.RSASigner, pub: rpub}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.LoginTTL, 10*time.Minute)
	def(&cfg.CodeTTL, time.Minute)
	def(&cfg.AccessTTL, 15*time.Minute)
	def(&cfg.RefreshTTL, 30*24*time.Hour)
	def(&cfg.IDTokenTTL, time.Hour)
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WalletURL == "" {
		cfg.WalletURL = "/wallet/"
	}
	if cfg.Enrollments == nil {
		cfg.Enrollments = cfg.Store
	}
	p := &Provider{cfg: cfg, path: strings.TrimSuffix(u.Path, "/"), secure: u.Scheme == "https",
		clients: &clientCache{st: cfg.Store, m: map[string]clientEntry{}}}
	p.key = signingKey{id: cfg.KeyID, alg: jose.ES256, signer: cfg.Signer, pub: pub}
	p.rsaKey = rsaKey
	var cryptoKey [32]byte
	copy(cryptoKey[:], p.mac("access-token-key"))
	opts := []op.Option{op.WithLogger(cfg.Log)}
	if !p.secure {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(&op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		// A logout without post_logout_redirect_uri ends on the provider's
		// own page rather than on the server's root.
		DefaultLogoutRedirectURI: p.path + "/logged-out",
		AuthMethodPrivateKeyJWT:  true,
		GrantTypeRefreshToken:    true,
		SupportedScopes:          Scopes,
		SupportedClaims:          append([]string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "at_hash", "c_hash", "azp"}, ClaimNames()...),
	}, &storage{p: p}, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: provider: %w", err)
	}
	if err := p.precompute(); err != nil {
		return nil, err
	}
	p.routes()
	return p, nil
}

// Handler serves every endpoint under the issuer path (mount it at
// "<path>/").
func (p *Provider) Handler() http.Handler { return p.handler }

// Path is the issuer's path ("/oidc"), where Handler belongs.
func (p *Provider) Path() string { return p.path }

// patterns are the provider's own routes (net/http patterns, relative to
// the issuer path) in front of op's router.
func (p *Provider) patterns() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /.well-known/openid-configuration": p.disc.serve,
		"GET /keys":                             p.jwks.serve,
		"GET /authorize":                        p.authorize,
		"POST /authorize":                       p.authorize,
		// op's callback would hand a code to whoever knows a request id;
		// the finish handler answers the RP itself instead.
		"/authorize/callback":         p.notFound,
		"POST /par":                   p.par,
		"GET /login":                  p.login,
		"GET /login/status":           p.loginStatus,
		"GET /finish":                 p.finish,
		"GET /wallet/request/{txn}":   p.walletRequest,
		"POST /wallet/response/{txn}": p.walletResponse,
		"/end_session":                p.endSession,
		"GET /logged-out":             p.loggedOut,
		"GET /static/login.js":        serveJS,
		"GET /static/oidc.css":        serveCSS,
	}
}

// opRoutes are op's endpoints, listed so that the server can label metrics
// by endpoint (Patterns).
var opRoutes = []string{"POST /oauth/token", "/userinfo", "POST /revoke", "POST /oauth/introspect"}

// Patterns lists every route under the issuer path as net/http patterns
// with the path prefix, plus the catch-all "<path>/": mounting Handler at
// each gives per-endpoint route labels in the server's metrics and logs.
func (p *Provider) Patterns() []string {
	var out []string
	for pat := range p.patterns() {
		out = append(out, withPrefix(pat, p.path))
	}
	for _, pat := range opRoutes {
		out = append(out, withPrefix(pat, p.path))
	}
	return append(out, p.path+"/")
}

func withPrefix(pattern, prefix string) string {
	if m, path, ok := strings.Cut(pattern, " "); ok {
		return m + " " + prefix + path
	}
	return prefix + pattern
}

func (p *Provider) routes() {
	m := http.NewServeMux()
	for pat, h := range p.patterns() {
		m.Handle(withPrefix(pat, p.path), h)
	}
	p.opHandler = http.StripPrefix(p.path, withTokenAlg(p.withAssertionSlot(p.op)))
	m.Handle(p.path+"/", http.HandlerFunc(p.serveRest))
	p.mux = m
	// Discovery and the key set, the most requested documents, skip the
	// router (GET and HEAD, as their patterns match).
	disc, keys := p.path+"/.well-known/openid-configuration", p.path+"/keys"
	p.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			switch r.URL.Path {
			case disc:
				p.disc.serve(w, r)
				return
			case keys:
				p.jwks.serve(w, r)
				return
			}
		}
		m.ServeHTTP(w, r)
	})
}

// withIssuer gives op's helpers, called outside op's router, their issuer.
func (p *Provider) withIssuer(r *http.Request) *http.Request {
	return r.WithContext(op.ContextWithIssuer(r.Context(), p.cfg.Issuer))
}

// mac is HMAC-SHA256 under the server secret over the parts, separated.
func (p *Provider) mac(parts ...string) []byte {
	h := hmac.New(sha256.New, p.cfg.Secret)
	for _, s := range parts {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// PairwiseSubject is the sub a sector sees for a citizen.
func (p *Provider) PairwiseSubject(sector, citizenKey string) string {
	return base64.RawURLEncoding.EncodeToString(p.mac("pairwise-sub", sector, citizenKey))
}

// CitizenIndex is the blind index under which the citizen's grants are kept.
func (p *Provider) CitizenIndex(citizenKey string) []byte {
	return p.mac("citizen-history", citizenKey)
}

// Grants returns the citizen's grant history.
func (p *Provider) Grants(ctx context.Context, citizenKey string) ([]Grant, error) {
	return p.cfg.Store.Grants(ctx, p.CitizenIndex(citizenKey))
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashHex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func thumbprint(pub crypto.PublicKey) string {
	tp, err := (&jose.JSONWebKey{Key: pub}).Thumbprint(crypto.SHA256)
	if err != nil {
		return "key"
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}
