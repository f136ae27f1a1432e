// Package verifier is the identity authority's registry of verifiers: the
// in-person desks (a hotel front desk, a bank counter) and the online
// services that ask citizens' wallets for card presentations over
// OpenID4VP. Like a relying party of the OpenID Provider, each is
// registered by the authority with its name (Chinese and English), logo,
// purpose, the card claims it is entitled to and its key; unlike one it is
// known by a certificate that the authority issues for that key (an mdoc
// reader authentication certificate under the authority's root, package
// keys), so that a wallet can check a signed request without asking
// anybody: the signature, the chain to the root, the client identifier
// against the certificate, then the registration the certificate points
// at (names, purpose, entitled claims) from the authority's public
// registry endpoint.
//
// The registry is its own package rather than part of package oidc's
// client registry: verifiers have no redirect URIs, secrets, sectors or
// tokens, they are identified by certificate, their entitlements are the
// card's own claim names (not OIDC claim names), and both the OpenID4VP
// desk endpoints (package oid4vc) and the OpenID Provider's sign-in
// (package oidc, which is itself registered here) use it.
package verifier

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/shenfen/shenfen/keys"
)

// Kind says where a verifier runs and how it is known.
type Kind string

// Kinds of verifier.
const (
	// Desk is an in-person verifier served by shenfen's verifier page:
	// its key stays in the authority's key provider, the desk signs in with
	// a token, and its client identifier is x509_hash (its certificate
	// names the authority's host, where its responses arrive).
	Desk Kind = "desk"
	// Online is a verifier that runs its own service on its own host: it
	// registers its public key and DNS name, keeps its private key, and
	// signs its own requests with client identifier x509_san_dns.
	Online Kind = "online"
	// SignIn is the OpenID Provider's own registration: the sign-in
	// request a relying party's login shows to the wallet.
	SignIn Kind = "sign-in"
)

// Client identifier prefixes (OpenID4VP 1.0 §5.9.3).
const (
	PrefixSANDNS = "x509_san_dns:"
	PrefixHash   = "x509_hash:"
)

// Sentinel errors.
var (
	// ErrInvalid is a registration that cannot be accepted; the message
	// says why.
	ErrInvalid = errors.New("verifier: invalid registration")
	// ErrNotFound: no verifier with that id, certificate or token.
	ErrNotFound = errors.New("verifier: not found")
	// ErrConflict: the id (or certificate) is registered already.
	ErrConflict = errors.New("verifier: already registered")
	// ErrBuiltIn: the OpenID Provider's sign-in registration, which the
	// provider keeps itself, cannot be edited, renewed or removed.
	ErrBuiltIn = errors.New("verifier: built-in registration")
)

// Text is a text in Chinese and English.
type Text struct {
	Zh string `json:"zh"`
	En string `json:"en"`
}

// String is "zh (en)", or whichever is set.
func (t Text) String() string {
	switch {
	case t.Zh == "":
		return t.En
	case t.En == "" || t.En == t.Zh:
		return t.Zh
	}
	return t.Zh + " (" + t.En + ")"
}

// Claim is one entitlement: a claim of the card (its SD-JWT VC name) the
// verifier may ask for, and whether the citizen may leave it out.
type Claim struct {
	Name     string `json:"claim"`
	Optional bool   `json:"optional,omitempty"`
}

// Verifier is one registered verifier.
type Verifier struct {
	ID      string  `json:"id"`
	Kind    Kind    `json:"kind"`
	Name    Text    `json:"name"`
	Purpose Text    `json:"purpose"`
	Logo    string  `json:"logo,omitempty"`
	Claims  []Claim `json:"claims"`
	// DNSNames are the certificate's DNS names: the hosts its responses
	// may be sent to.
	DNSNames []string `json:"dns_names"`
	// Cert is the certificate the authority issued (DER).
	Cert []byte `json:"cert"`
	// CertHash is the base64url SHA-256 of Cert (the x509_hash value).
	CertHash string `json:"cert_hash"`
	// KeyLabel names the private key in the authority's provider (desks
	// and the sign-in; empty for online verifiers, which keep theirs).
	KeyLabel string `json:"key_label,omitempty"`
	// TokenHash is the SHA-256 of a desk's sign-in token.
	TokenHash []byte    `json:"-"`
	Created   time.Time `json:"created"`
}

// ClientID is the verifier's OpenID4VP client identifier: x509_hash for a
// desk (many desks share the authority's host), x509_san_dns otherwise.
func (v Verifier) ClientID() string {
	if v.Kind == Desk || len(v.DNSNames) == 0 {
		return PrefixHash + v.CertHash
	}
	return PrefixSANDNS + v.DNSNames[0]
}

// Entitled reports whether the verifier may ask for claim, and whether
// the claim is optional for the citizen.
func (v Verifier) Entitled(claim string) (entitled, optional bool) {
	for _, c := range v.Claims {
		if c.Name == claim {
			return true, c.Optional
		}
	}
	return false, false
}

// OverAsks returns the claims of asked the verifier is not entitled to.
func (v Verifier) OverAsks(asked []string) []string {
	var out []string
	for _, c := range asked {
		if ok, _ := v.Entitled(c); !ok {
			out = append(out, c)
		}
	}
	return out
}

// Certificate parses Cert.
func (v Verifier) Certificate() (*x509.Certificate, error) { return x509.ParseCertificate(v.Cert) }

// Public is what anybody (a wallet) may read about a verifier.
type Public struct {
	ID       string   `json:"id"`
	Kind     Kind     `json:"kind"`
	ClientID string   `json:"client_id"`
	Name     Text     `json:"name"`
	Purpose  Text     `json:"purpose"`
	Logo     string   `json:"logo,omitempty"`
	Claims   []Claim  `json:"claims"`
	DNSNames []string `json:"dns_names"`
	CertHash string   `json:"cert_hash"`
	// NotAfter is the end of the certificate's validity.
	NotAfter time.Time `json:"not_after"`
}

// Public returns the public view.
func (v Verifier) Public() Public {
	p := Public{ID: v.ID, Kind: v.Kind, ClientID: v.ClientID(), Name: v.Name, Purpose: v.Purpose, Logo: v.Logo,
		Claims: v.Claims, DNSNames: v.DNSNames, CertHash: v.CertHash}
	if c, err := v.Certificate(); err == nil {
		p.NotAfter = c.NotAfter.UTC()
	}
	return p
}

// CertHash is the base64url SHA-256 of a DER certificate: the x509_hash
// client identifier value (OpenID4VP 1.0 §5.9.3).
func CertHash(der []byte) string {
	h := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// TokenHash is the SHA-256 under which a desk token is stored.
func TokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Store keeps registrations (package store, on SQLite and PostgreSQL).
type Store interface {
	// PutVerifier inserts v, or replaces the verifier with the same id.
	PutVerifier(ctx context.Context, v Verifier) error
	// Verifier, VerifierByCert and VerifierByToken find one, or fail
	// wrapping ErrNotFound.
	Verifier(ctx context.Context, id string) (Verifier, error)
	VerifierByCert(ctx context.Context, certHash string) (Verifier, error)
	VerifierByToken(ctx context.Context, tokenHash []byte) (Verifier, error)
	// Verifiers lists every registration, by id.
	Verifiers(ctx context.Context) ([]Verifier, error)
	// DeleteVerifier removes one (ErrNotFound when absent).
	DeleteVerifier(ctx context.Context, id string) error
}

// CA issues verifier certificates and keeps hosted verifiers' keys
// (*keys.Ring).
type CA interface {
	IssueReader(ctx context.Context, r keys.Reader) (*x509.Certificate, error)
	ReaderKey(ctx context.Context, label string, create bool) (crypto.Signer, error)
	// Root is the authority's root certificate (the wallets' trust anchor).
	Root() *x509.Certificate
}

// Spec is a registration as the authority submits it (admin API JSON).
type Spec struct {
	// ID names the verifier; empty means a random one.
	ID      string `json:"id,omitempty"`
	Kind    Kind   `json:"kind"`
	Name    Text   `json:"name"`
	Purpose Text   `json:"purpose"`
	// Logo is a data: URL of a PNG, JPEG or WebP image (at most 32 KiB).
	Logo string `json:"logo,omitempty"`
	// Claims are the entitlements: card claim names, comma-separated; a
	// trailing "?" marks a claim the citizen may leave out
	// ("family_name,given_name,picture?").
	Claims string `json:"claims"`
	// DNSName is an online verifier's host (its certificate's DNS name,
	// its client identifier and the host of its response URIs).
	DNSName string `json:"dns_name,omitempty"`
	// JWK is an online verifier's public key (EC P-256).
	JWK json.RawMessage `json:"jwk,omitempty"`
}

// Registry registers verifiers and finds them.
type Registry struct {
	Store Store
	CA    CA
	// Claims are the card's claim names a verifier may be entitled to.
	Claims []string
	// Host is the authority's host name: the DNS name of the certificates
	// of desks and of the sign-in, whose responses arrive there.
	Host string
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (g *Registry) now() time.Time {
	if g.Now != nil {
		return g.Now().UTC()
	}
	return time.Now().UTC()
}

var (
	idRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,47}$`)
	dnsRE    = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.(?i:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?))*$`)
	logoRE   = regexp.MustCompile(`^data:image/(?:png|jpeg|webp);base64,[A-Za-z0-9+/]+={0,2}$`)
	maxLogo  = 32 << 10
	maxText  = 200
	maxClaim = 32
)

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// ParseClaims reads the entitlement syntax against the known claim names.
func ParseClaims(s string, known []string) ([]Claim, error) {
	var out []Claim
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		c := Claim{Name: strings.TrimSuffix(f, "?"), Optional: strings.HasSuffix(f, "?")}
		if !slices.Contains(known, c.Name) {
			return nil, invalid("claims: the card has no claim %q; its claims are %s", c.Name, strings.Join(known, ", "))
		}
		if slices.ContainsFunc(out, func(o Claim) bool { return o.Name == c.Name }) {
			return nil, invalid("claims: %q twice", c.Name)
		}
		out = append(out, c)
	}
	if len(out) == 0 || len(out) > maxClaim {
		return nil, invalid("claims: 1 to %d claim names are required", maxClaim)
	}
	return out, nil
}

// FormatClaims writes entitlements in the registration syntax.
func FormatClaims(cs []Claim) string {
	var parts []string
	for _, c := range cs {
		s := c.Name
		if c.Optional {
			s += "?"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func checkText(field string, t Text, required bool) error {
	if required && (strings.TrimSpace(t.Zh) == "" || strings.TrimSpace(t.En) == "") {
		return invalid("%s: both zh and en are required", field)
	}
	if len(t.Zh) > maxText || len(t.En) > maxText {
		return invalid("%s: at most %d bytes each", field, maxText)
	}
	return nil
}

func randomText(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Register validates spec, has the authority certify the verifier's key
// (made in the provider for a desk), and stores it. For a desk it also
// returns the desk's sign-in token (shown once, stored as a hash).
func (g *Registry) Register(ctx context.Context, s Spec) (Verifier, string, error) {
	v := Verifier{ID: s.ID, Kind: s.Kind, Name: trim(s.Name), Purpose: trim(s.Purpose), Logo: s.Logo, Created: g.now()}
	if v.ID == "" {
		v.ID = "v-" + strings.ToLower(strings.NewReplacer("_", "0", "-", "1").Replace(randomText(9)))
	}
	if !idRE.MatchString(v.ID) {
		return v, "", invalid("id %q: 1 to 48 lower-case letters, digits or '-'", v.ID)
	}
	if err := checkText("name", v.Name, true); err != nil {
		return v, "", err
	}
	if err := checkText("purpose", v.Purpose, true); err != nil {
		return v, "", err
	}
	if v.Logo != "" && (len(v.Logo) > maxLogo || !logoRE.MatchString(v.Logo)) {
		return v, "", invalid("logo: a data: URL of a PNG, JPEG or WebP image, at most %d bytes", maxLogo)
	}
	var err error
	if v.Claims, err = ParseClaims(s.Claims, g.Claims); err != nil {
		return v, "", err
	}
	if _, err := g.Store.Verifier(ctx, v.ID); err == nil {
		return v, "", fmt.Errorf("verifier %q: %w", v.ID, ErrConflict)
	} else if !errors.Is(err, ErrNotFound) {
		return v, "", err
	}
	var pub crypto.PublicKey
	token := ""
	switch v.Kind {
	case Desk:
		if s.DNSName != "" || len(s.JWK) > 0 {
			return v, "", invalid("a desk has no dns_name or jwk: shenfen keeps its key and serves its requests")
		}
		v.DNSNames = []string{g.Host}
		v.KeyLabel = "reader-" + strings.ToLower(randomHex(8))
		k, err := g.CA.ReaderKey(ctx, v.KeyLabel, true)
		if err != nil {
			return v, "", fmt.Errorf("verifier: desk key: %w", err)
		}
		pub = k.Public()
		token = "sfd_" + randomText(32)
		v.TokenHash = TokenHash(token)
	case Online:
		if !dnsRE.MatchString(s.DNSName) || len(s.DNSName) > 253 || !strings.Contains(s.DNSName, ".") && s.DNSName != "localhost" {
			return v, "", invalid("dns_name %q: the verifier's host name is required", s.DNSName)
		}
		if pub, err = parseJWK(s.JWK); err != nil {
			return v, "", err
		}
		v.DNSNames = []string{strings.ToLower(s.DNSName)}
	default:
		return v, "", invalid("kind %q: desk or online", s.Kind)
	}
	cert, err := g.CA.IssueReader(ctx, keys.Reader{Key: pub, Name: v.Name.En, DNSNames: v.DNSNames})
	if err != nil {
		return v, "", fmt.Errorf("verifier: certificate: %w", err)
	}
	v.Cert, v.CertHash = cert.Raw, CertHash(cert.Raw)
	if err := g.Store.PutVerifier(ctx, v); err != nil {
		return v, "", err
	}
	return v, token, nil
}

// Update changes what a registration says of a desk or an online
// verifier: its names, purpose, logo and entitlements (s.Name, s.Purpose,
// s.Logo, s.Claims, validated as in Register). Its kind, host and key
// stay: s.Kind, s.DNSName and s.JWK must be empty or the same (a verifier
// that moves host registers anew). The certificate stays too, so wallets
// see the change at their next look-up. The sign-in is not edited here
// (EnsureSignIn keeps it).
func (g *Registry) Update(ctx context.Context, id string, s Spec) (Verifier, error) {
	v, err := g.Store.Verifier(ctx, id)
	if err != nil {
		return v, err
	}
	if v.Kind == SignIn {
		return v, fmt.Errorf("verifier %q: %w: the sign-in is kept by the OpenID Provider", id, ErrBuiltIn)
	}
	if (s.ID != "" && s.ID != v.ID) || (s.Kind != "" && s.Kind != v.Kind) || len(s.JWK) > 0 ||
		(s.DNSName != "" && !slices.Equal([]string{strings.ToLower(s.DNSName)}, v.DNSNames)) {
		return v, invalid("id, kind, dns_name and jwk cannot change: register a new verifier (a new key: renew the certificate)")
	}
	name, purpose := trim(s.Name), trim(s.Purpose)
	if err := checkText("name", name, true); err != nil {
		return v, err
	}
	if err := checkText("purpose", purpose, true); err != nil {
		return v, err
	}
	if s.Logo != "" && (len(s.Logo) > maxLogo || !logoRE.MatchString(s.Logo)) {
		return v, invalid("logo: a data: URL of a PNG, JPEG or WebP image, at most %d bytes", maxLogo)
	}
	claims, err := ParseClaims(s.Claims, g.Claims)
	if err != nil {
		return v, err
	}
	v.Name, v.Purpose, v.Logo, v.Claims = name, purpose, s.Logo, claims
	return v, g.Store.PutVerifier(ctx, v)
}

// Renew has the authority issue a new certificate to a desk or an online
// verifier, before the one it has expires (or at any time): for a desk
// over its hosted key, for an online verifier over jwk when given (a new
// key), else over the key of its current certificate. The registration
// then names the new certificate only: a desk's requests carry it at once
// (shenfen signs them); an online verifier puts it in its requests' x5c
// from then on, since wallets refuse the old one as unregistered. The
// sign-in renews itself (EnsureSignIn).
func (g *Registry) Renew(ctx context.Context, id string, jwk json.RawMessage) (Verifier, error) {
	v, err := g.Store.Verifier(ctx, id)
	if err != nil {
		return v, err
	}
	var pub crypto.PublicKey
	switch v.Kind {
	case Desk:
		if len(jwk) > 0 {
			return v, invalid("a desk has no jwk: shenfen keeps its key")
		}
		k, err := g.Signer(ctx, v)
		if err != nil {
			return v, fmt.Errorf("verifier: desk key: %w", err)
		}
		pub = k.Public()
	case Online:
		if len(jwk) > 0 {
			if pub, err = parseJWK(jwk); err != nil {
				return v, err
			}
		} else {
			c, err := v.Certificate()
			if err != nil {
				return v, fmt.Errorf("verifier %q: stored certificate: %w", id, err)
			}
			pub = c.PublicKey
		}
	default:
		return v, fmt.Errorf("verifier %q: %w: the sign-in renews its own certificate", id, ErrBuiltIn)
	}
	cert, err := g.CA.IssueReader(ctx, keys.Reader{Key: pub, Name: v.Name.En, DNSNames: v.DNSNames})
	if err != nil {
		return v, fmt.Errorf("verifier: certificate: %w", err)
	}
	v.Cert, v.CertHash = cert.Raw, CertHash(cert.Raw)
	return v, g.Store.PutVerifier(ctx, v)
}

// RenewDue renews the certificate of every desk whose certificate ends
// within the given time (shenfen holds desks' keys, and signs their
// requests with the stored certificate, so nobody has to act), and returns
// their ids. Online verifiers are left to the console (Renew): their new
// certificate must reach them before wallets see it. Errors of one desk
// do not stop the others; the first is returned.
func (g *Registry) RenewDue(ctx context.Context, within time.Duration) ([]string, error) {
	all, err := g.Store.Verifiers(ctx)
	if err != nil {
		return nil, err
	}
	var renewed []string
	var first error
	for _, v := range all {
		c, err := v.Certificate()
		if v.Kind != Desk || err == nil && c.NotAfter.Sub(g.now()) > within {
			continue
		}
		if _, err := g.Renew(ctx, v.ID, nil); err != nil {
			if first == nil {
				first = fmt.Errorf("verifier %q: %w", v.ID, err)
			}
			continue
		}
		renewed = append(renewed, v.ID)
	}
	return renewed, first
}

func trim(t Text) Text { return Text{Zh: strings.TrimSpace(t.Zh), En: strings.TrimSpace(t.En)} }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func parseJWK(raw json.RawMessage) (*ecdsa.PublicKey, error) {
	var j struct {
		Kty, Crv, X, Y, D string
	}
	if len(raw) == 0 || json.Unmarshal(raw, &j) != nil || j.Kty != "EC" || j.Crv != "P-256" || j.D != "" {
		return nil, invalid("jwk: a public EC P-256 key is required")
	}
	x, errX := base64.RawURLEncoding.DecodeString(j.X)
	y, errY := base64.RawURLEncoding.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, invalid("jwk: x and y must be 32-byte base64url coordinates")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, invalid("jwk: not a point on P-256")
	}
	return k, nil
}

// Desk finds the desk a sign-in token belongs to.
func (g *Registry) Desk(ctx context.Context, token string) (Verifier, error) {
	if !strings.HasPrefix(token, "sfd_") {
		return Verifier{}, ErrNotFound
	}
	v, err := g.Store.VerifierByToken(ctx, TokenHash(token))
	if err != nil {
		return v, err
	}
	if v.Kind != Desk {
		return Verifier{}, ErrNotFound
	}
	return v, nil
}

// Verifier finds a registration by id.
func (g *Registry) Verifier(ctx context.Context, id string) (Verifier, error) {
	return g.Store.Verifier(ctx, id)
}

// ByCert finds a registration by its certificate's hash.
func (g *Registry) ByCert(ctx context.Context, certHash string) (Verifier, error) {
	return g.Store.VerifierByCert(ctx, certHash)
}

// Lookup is [Registry.ByCert] as a [Checker]'s Lookup.
func (g *Registry) Lookup(ctx context.Context, certHash string) (Public, error) {
	v, err := g.ByCert(ctx, certHash)
	return v.Public(), err
}

// Signer opens the private key of a verifier shenfen hosts.
func (g *Registry) Signer(ctx context.Context, v Verifier) (crypto.Signer, error) {
	if v.KeyLabel == "" {
		return nil, fmt.Errorf("verifier %q: %w: no hosted key", v.ID, ErrNotFound)
	}
	return g.CA.ReaderKey(ctx, v.KeyLabel, false)
}

// EnsureSignIn returns the registration of the OpenID Provider's sign-in
// (id, names and purpose as given, every card claim, key label), making
// its key and certificate on first use and a new certificate when the one
// stored has less than a month left or names another host.
func (g *Registry) EnsureSignIn(ctx context.Context, id string, name, purpose Text) (Verifier, error) {
	v, err := g.Store.Verifier(ctx, id)
	switch {
	case err == nil:
		if v.Kind != SignIn {
			return v, fmt.Errorf("verifier %q: %w (not the sign-in)", id, ErrConflict)
		}
		if c, err := v.Certificate(); err == nil && c.NotAfter.Sub(g.now()) > 30*24*time.Hour &&
			slices.Equal(v.DNSNames, []string{g.Host}) && v.Name == name && v.Purpose == purpose {
			return v, nil
		}
	case errors.Is(err, ErrNotFound):
		v = Verifier{ID: id, Kind: SignIn, KeyLabel: "reader-" + id, Created: g.now()}
	default:
		return v, err
	}
	k, err := g.CA.ReaderKey(ctx, v.KeyLabel, false)
	if errors.Is(err, keys.ErrNotFound) {
		k, err = g.CA.ReaderKey(ctx, v.KeyLabel, true)
		if errors.Is(err, keys.ErrExists) { // another server made it meanwhile
			k, err = g.CA.ReaderKey(ctx, v.KeyLabel, false)
		}
	}
	if err != nil {
		return v, fmt.Errorf("verifier: sign-in key: %w", err)
	}
	v.Name, v.Purpose, v.DNSNames = name, purpose, []string{g.Host}
	v.Claims = nil
	for _, c := range g.Claims {
		v.Claims = append(v.Claims, Claim{Name: c})
	}
	cert, err := g.CA.IssueReader(ctx, keys.Reader{Key: k.Public(), Name: name.En, DNSNames: v.DNSNames})
	if err != nil {
		return v, fmt.Errorf("verifier: sign-in certificate: %w", err)
	}
	v.Cert, v.CertHash = cert.Raw, CertHash(cert.Raw)
	if err := g.Store.PutVerifier(ctx, v); err != nil {
		return v, err
	}
	// Servers starting together may each have written a certificate (for
	// the same key): use the one stored.
	return g.Store.Verifier(ctx, id)
}
