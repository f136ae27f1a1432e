package verifier

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/keys/jws"
)

// RequestType is the typ of a signed OpenID4VP request object (RFC 9101).
const RequestType = "oauth-authz-req+jwt"

// StaticAudience is the aud of a request object sent to a wallet that
// published no metadata (OpenID4VP 1.0 §5.8).
const StaticAudience = "https://self-issued.me/v2"

// Query is one DCQL credential query of a request.
type Query struct {
	ID     string `json:"id"`
	Format string `json:"format"`
	// Meta is vct_values (dc+sd-jwt) or doctype_value (mso_mdoc).
	Meta      map[string]any `json:"meta"`
	Claims    []QueryClaim   `json:"claims"`
	ClaimSets [][]string     `json:"claim_sets,omitempty"`
}

// QueryClaim is one claim of a DCQL credential query.
type QueryClaim struct {
	ID   string `json:"id,omitempty"`
	Path []any  `json:"path"`
}

// Name is the claim's top-level name (mdoc: the element identifier).
func (c QueryClaim) Name(format string) string {
	i := 0
	if format == "mso_mdoc" {
		i = 1
	}
	if len(c.Path) <= i {
		return ""
	}
	s, _ := c.Path[i].(string)
	return s
}

// Request is the payload of a request object, as far as shenfen reads it.
type Request struct {
	ClientID     string         `json:"client_id"`
	ResponseType string         `json:"response_type"`
	ResponseMode string         `json:"response_mode"`
	ResponseURI  string         `json:"response_uri"`
	Nonce        string         `json:"nonce"`
	State        string         `json:"state,omitempty"`
	Audience     string         `json:"aud,omitempty"`
	IssuedAt     int64          `json:"iat,omitempty"`
	Expires      int64          `json:"exp,omitempty"`
	DCQL         DCQL           `json:"dcql_query"`
	Metadata     map[string]any `json:"client_metadata,omitempty"`
}

// DCQL is a Digital Credentials Query (OpenID4VP 1.0 §6).
type DCQL struct {
	Credentials []Query `json:"credentials"`
}

// Sign returns the signed request object: ES256 by key, typ
// oauth-authz-req+jwt, x5c the verifier's certificate (the root, the
// wallet's trust anchor, is not sent, as HAIP asks).
func Sign(key crypto.Signer, cert []byte, payload any) (string, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("verifier: request: %w", err)
	}
	return jws.Sign(jws.Key{Signer: key, Chain: [][]byte{cert}}, RequestType, b)
}

// Refusal is why a wallet refuses a request; Code is a stable word the
// wallet's messages are keyed on.
type Refusal struct {
	Code string
	Err  error
}

func (r *Refusal) Error() string {
	return "verifier: request refused (" + r.Code + "): " + r.Err.Error()
}
func (r *Refusal) Unwrap() error { return r.Err }

// ErrRefused is wrapped by every [Refusal].
var ErrRefused = errors.New("refused")

func refuse(code, format string, args ...any) error {
	return &Refusal{Code: code, Err: fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))}
}

// Refusal codes.
const (
	RefuseMalformed    = "malformed"    // not a signed request object shenfen reads
	RefuseSignature    = "signature"    // signature does not verify under the certificate
	RefuseUntrusted    = "untrusted"    // certificate not issued by the authority, expired, or not a verifier's
	RefuseClientID     = "client-id"    // client_id prefix or value does not match the certificate
	RefuseResponseURI  = "response-uri" // response_uri not on a host of the certificate
	RefuseUnregistered = "unregistered" // no registration for this certificate
	RefuseOverAsking   = "over-asking"  // asks claims the registration does not entitle
	RefuseExpired      = "expired"      // exp passed or iat in the future
	RefuseReplay       = "replay"       // this request was answered already
	RefuseUnsupported  = "unsupported"  // a query shenfen's card cannot answer
)

// Lookup finds a registration by certificate hash (the authority's public
// registry endpoint, or the registry itself).
type Lookup func(ctx context.Context, certHash string) (Public, error)

// Checker verifies request objects the way shenfen's wallet does
// (web/static/wallet/request.js is the same algorithm): ES256 under the
// x5c leaf, the leaf issued by the authority's root as a verifier's
// certificate, client_id matching the certificate (x509_hash: its hash;
// x509_san_dns: one of its DNS names), response_uri on one of its DNS
// names, a registration for it, every claim asked within the
// registration's entitlements, fresh, not answered before.
//
// A leaf certificate checked once is remembered by hash, so a request
// costs one signature verification (the request's) after the verifier's
// first.
type Checker struct {
	Root   *x509.Certificate
	Lookup Lookup
	// Seen records answered requests (client_id + nonce); nil: no replay
	// memory.
	Seen interface {
		Seen(key string) bool
	}
	Now func() time.Time

	mu    sync.Mutex
	leafs map[string]*x509.Certificate
}

// Checked is a request the wallet may show to the citizen.
type Checked struct {
	Request  Request
	Verifier Public
	Query    Query
	// Optional lists the claims (top-level names) the request lets the
	// citizen leave out (absent from some claim set).
	Optional []string
	// Encryption is where an encrypted response goes (response mode
	// direct_post.jwt); nil for direct_post.
	Encryption *Encryption
}

// Encryption is the verifier's key for an encrypted response (OpenID4VP
// 1.0 §8.3, direct_post.jwt): a P-256 key of client_metadata.jwks for
// ECDH-ES, and the content encryption to use.
type Encryption struct {
	Key   *ecdsa.PublicKey
	KeyID string
	// Enc is A128GCM (the default) or A256GCM.
	Enc string
}

// responseEncryption reads the key of a direct_post.jwt request: the first
// EC P-256 key of client_metadata.jwks for encryption (use "enc" or none,
// alg "ECDH-ES" or none), and A128GCM unless
// encrypted_response_enc_values_supported lists only A256GCM. A published
// private key is malformed.
func responseEncryption(meta map[string]any) (*Encryption, error) {
	raw, _ := json.Marshal(meta)
	var m struct {
		JWKS struct {
			Keys []struct {
				Kty, Crv, X, Y, D, Use, Alg, Kid string
			} `json:"keys"`
		} `json:"jwks"`
		Enc []string `json:"encrypted_response_enc_values_supported"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, refuse(RefuseUnsupported, "client_metadata: %v", err)
	}
	e := &Encryption{Enc: "A128GCM"}
	if m.Enc != nil {
		switch {
		case slices.Contains(m.Enc, "A128GCM"):
		case slices.Contains(m.Enc, "A256GCM"):
			e.Enc = "A256GCM"
		default:
			return nil, refuse(RefuseUnsupported, "encrypted_response_enc_values_supported %v: A128GCM or A256GCM needed", m.Enc)
		}
	}
	for _, k := range m.JWKS.Keys {
		if k.D != "" {
			return nil, refuse(RefuseMalformed, "client_metadata.jwks publishes a private key")
		}
		if k.Kty != "EC" || k.Crv != "P-256" || (k.Use != "" && k.Use != "enc") || (k.Alg != "" && k.Alg != "ECDH-ES") {
			continue
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			continue
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			continue
		}
		e.Key, e.KeyID = pub, k.Kid
		return e, nil
	}
	return nil, refuse(RefuseUnsupported, "direct_post.jwt without a P-256 ECDH-ES key in client_metadata.jwks")
}

const maxRequest = 64 << 10

// dcqlID is the form of DCQL identifiers (OpenID4VP 1.0 §6).
var dcqlID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Check verifies a request object; outerClientID is the client_id of the
// link that pointed at it ("" when the link had none).
func (c *Checker) Check(ctx context.Context, object, outerClientID string) (*Checked, error) {
	p, err := jws.Parse([]byte(object), maxRequest)
	if err != nil {
		return nil, refuse(RefuseMalformed, "%v", err)
	}
	if p.Header.Typ != RequestType {
		return nil, refuse(RefuseMalformed, "typ %q, want %s", p.Header.Typ, RequestType)
	}
	if len(p.Header.X5C) == 0 {
		return nil, refuse(RefuseUntrusted, "no x5c certificate")
	}
	leaf, err := c.leaf(p.Header.X5C[0])
	if err != nil {
		return nil, err
	}
	pub, _ := leaf.PublicKey.(*ecdsa.PublicKey)
	if err := p.Verify(pub); err != nil {
		return nil, refuse(RefuseSignature, "%v", err)
	}
	var r Request
	if err := json.Unmarshal(p.Payload, &r); err != nil {
		return nil, refuse(RefuseMalformed, "payload: %v", err)
	}
	if outerClientID != "" && outerClientID != r.ClientID {
		return nil, refuse(RefuseClientID, "the link's client_id %q is not the request's %q", outerClientID, r.ClientID)
	}
	hash := CertHash(leaf.Raw)
	switch {
	case strings.HasPrefix(r.ClientID, PrefixHash):
		if r.ClientID[len(PrefixHash):] != hash {
			return nil, refuse(RefuseClientID, "x509_hash client_id is not the hash of the certificate")
		}
	case strings.HasPrefix(r.ClientID, PrefixSANDNS):
		if !slices.Contains(leaf.DNSNames, r.ClientID[len(PrefixSANDNS):]) {
			return nil, refuse(RefuseClientID, "x509_san_dns client_id %q is not a DNS name of the certificate", r.ClientID)
		}
	default:
		return nil, refuse(RefuseClientID, "client_id %q: x509_san_dns or x509_hash prefix required", r.ClientID)
	}
	if r.ResponseType != "vp_token" || (r.ResponseMode != "direct_post" && r.ResponseMode != "direct_post.jwt") {
		return nil, refuse(RefuseUnsupported, "response_type %q, response_mode %q", r.ResponseType, r.ResponseMode)
	}
	var enc *Encryption
	if r.ResponseMode == "direct_post.jwt" {
		if enc, err = responseEncryption(r.Metadata); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(r.ResponseURI)
	if err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && loopback(u.Hostname()))) || u.User != nil || u.Fragment != "" {
		return nil, refuse(RefuseResponseURI, "response_uri %q must be an https URL", r.ResponseURI)
	}
	if !slices.Contains(leaf.DNSNames, u.Hostname()) {
		return nil, refuse(RefuseResponseURI, "response_uri host %q is not a DNS name of the certificate", u.Hostname())
	}
	now := c.now()
	if r.Expires == 0 || now.Unix() > r.Expires || r.IssuedAt > now.Add(5*time.Minute).Unix() {
		return nil, refuse(RefuseExpired, "request expired or not yet valid")
	}
	if r.Audience != "" && r.Audience != StaticAudience {
		return nil, refuse(RefuseMalformed, "aud %q", r.Audience)
	}
	if r.Nonce == "" || len(r.Nonce) > 256 {
		return nil, refuse(RefuseMalformed, "nonce missing")
	}
	if len(r.DCQL.Credentials) != 1 {
		return nil, refuse(RefuseUnsupported, "one credential query expected, got %d", len(r.DCQL.Credentials))
	}
	q := r.DCQL.Credentials[0]
	if q.Format != "dc+sd-jwt" && q.Format != "mso_mdoc" || len(q.Claims) == 0 {
		return nil, refuse(RefuseUnsupported, "query format %q without claims", q.Format)
	}
	reg, err := c.Lookup(ctx, hash)
	if errors.Is(err, ErrNotFound) {
		return nil, refuse(RefuseUnregistered, "no verifier is registered with this certificate")
	}
	if err != nil {
		return nil, fmt.Errorf("verifier: registry: %w", err)
	}
	if reg.CertHash != hash {
		return nil, refuse(RefuseUnregistered, "the registration names another certificate")
	}
	ch := &Checked{Request: r, Verifier: reg, Query: q, Encryption: enc}
	var over []string
	for _, cl := range q.Claims {
		n := cl.Name(q.Format)
		if cl.ID != "" && !dcqlID.MatchString(cl.ID) {
			return nil, refuse(RefuseMalformed, "DCQL claim id %q", cl.ID)
		}
		if n == "" {
			return nil, refuse(RefuseUnsupported, "claim path %v", cl.Path)
		}
		if !slices.ContainsFunc(reg.Claims, func(e Claim) bool { return e.Name == n }) {
			over = append(over, n)
		}
		if cl.ID != "" && len(q.ClaimSets) > 0 && slices.ContainsFunc(q.ClaimSets, func(set []string) bool { return !slices.Contains(set, cl.ID) }) {
			ch.Optional = append(ch.Optional, n)
		}
	}
	if len(over) > 0 {
		return nil, refuse(RefuseOverAsking, "%s is not entitled to %s", reg.Name.En, strings.Join(over, ", "))
	}
	if c.Seen != nil && c.Seen.Seen(r.ClientID+" "+r.Nonce) {
		return nil, refuse(RefuseReplay, "this request was answered already")
	}
	return ch, nil
}

func loopback(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && ip.IsLoopback()
}

// leaf parses and checks a verifier certificate against the root, once
// per certificate.
func (c *Checker) leaf(der []byte) (*x509.Certificate, error) {
	hash := CertHash(der)
	c.mu.Lock()
	cert, ok := c.leafs[hash]
	c.mu.Unlock()
	now := c.now()
	if ok {
		if now.After(cert.NotAfter) || now.Before(cert.NotBefore) {
			return nil, refuse(RefuseUntrusted, "the verifier's certificate is outside its validity")
		}
		return cert, nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, refuse(RefuseUntrusted, "x5c: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c.Root)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, refuse(RefuseUntrusted, "the certificate is not issued by the authority: %v", err)
	}
	if cert.IsCA || cert.KeyUsage&x509.KeyUsageDigitalSignature == 0 ||
		!slices.ContainsFunc(cert.UnknownExtKeyUsage, func(o asn1.ObjectIdentifier) bool { return o.Equal(keys.OIDMdocReaderAuth) }) {
		return nil, refuse(RefuseUntrusted, "the certificate is not a verifier's (mdoc reader authentication)")
	}
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		return nil, refuse(RefuseUntrusted, "the certificate's key is not ECDSA")
	}
	c.mu.Lock()
	if c.leafs == nil {
		c.leafs = map[string]*x509.Certificate{}
	}
	if len(c.leafs) > 4096 {
		clear(c.leafs)
	}
	c.leafs[hash] = cert
	c.mu.Unlock()
	return cert, nil
}
