package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/shenfen/shenfen/atomicfile"
	"github.com/shenfen/shenfen/keys/jws"
)

// OIDMdocDS is the extended key usage of an mdoc document signer
// (ISO/IEC 18013-5, 1.0.18013.5.1.2).
var OIDMdocDS = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 2}

var (
	oidExtKeyUsage     = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidIssuerAltName   = asn1.ObjectIdentifier{2, 5, 29, 18}
	defaultRootLife    = 10 * 365 * 24 * time.Hour
	defaultSignerLife  = 3 * 365 * 24 * time.Hour
	ringFile           = "ring.json"
	ringFormatVersion  = 1
	uriGeneralNameTag  = 6
	maxClockSkewBefore = time.Hour
)

// Config names the issuer the certificates are made for.
type Config struct {
	// Issuer is the issuer identifier (the public URL); it goes in the
	// certificates' alternative names, as SD-JWT VC's x5c rule asks.
	Issuer string
	// Name is the organisation in the subject ("Identity Authority").
	Name string
	// Country is the ISO 3166 code in the subject (default "CN").
	Country string
	// RootLife and SignerLife are the certificates' validity (defaults
	// 10 years and 3 years).
	RootLife, SignerLife time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Signer is one document-signer key with its certificate.
type Signer struct {
	// Label is the key's label in the provider.
	Label string
	// KeyID is the RFC 7638 thumbprint of the public key (JWK kid).
	KeyID string
	// Cert is the document-signer certificate.
	Cert *x509.Certificate
	// Key signs; nil for a signer whose key is no longer opened.
	Key crypto.Signer
	// Created is when the signer was made (rotation time).
	Created time.Time
}

// Ring is the issuer's root CA and document signers, persisted as
// DIR/ring.json (certificates and labels; private keys stay in the
// provider). The newest signer is current; older ones stay published until
// their certificates expire. A Ring reloads its file when another process
// (shenfen keys rotate) changed it.
type Ring struct {
	dir  string
	prov Provider
	cfg  Config

	// made is set when Open created the ring (first start).
	made bool

	mu      sync.RWMutex
	mod     time.Time
	root    *x509.Certificate
	rootKey string    // label
	signers []*Signer // oldest first
}

type ringJSON struct {
	Version  int         `json:"version"`
	Provider string      `json:"provider"`
	Root     ringEntry   `json:"root"`
	Signers  []ringEntry `json:"signers"`
}

type ringEntry struct {
	Label   string    `json:"label"`
	Cert    []byte    `json:"cert"`
	Created time.Time `json:"created"`
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Open loads the ring in dir, creating a root CA and a first document
// signer on first use.
func Open(ctx context.Context, dir string, prov Provider, cfg Config) (*Ring, error) {
	if cfg.Country == "" {
		cfg.Country = "CN"
	}
	if cfg.Name == "" {
		cfg.Name = "shenfen identity authority"
	}
	if cfg.RootLife == 0 {
		cfg.RootLife = defaultRootLife
	}
	if cfg.SignerLife == 0 {
		cfg.SignerLife = defaultSignerLife
	}
	r := &Ring{dir: dir, prov: prov, cfg: cfg}
	err := r.load(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		if err := r.create(ctx); err != nil {
			return nil, err
		}
		r.made = true
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	return r, nil
}

func randomLabel(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%x", prefix, b)
}

func (r *Ring) create(ctx context.Context) error {
	now := r.cfg.now().UTC()
	label := randomLabel("root")
	key, err := r.prov.Generate(ctx, label)
	if err != nil {
		return fmt.Errorf("keys: root key: %w", err)
	}
	root, err := r.makeRoot(key, now)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.root, r.rootKey = root, label
	r.mu.Unlock()
	if _, err := r.addSigner(ctx, key, now); err != nil {
		return err
	}
	return nil
}

func serial() *big.Int {
	b := make([]byte, 16)
	rand.Read(b)
	b[0] &= 0x7f
	b[0] |= 0x40 // positive, 127 bits of which 126 random, never short
	return new(big.Int).SetBytes(b)
}

func ski(pub crypto.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	var spki struct {
		Alg asn1.RawValue
		Key asn1.BitString
	}
	asn1.Unmarshal(der, &spki)
	h := sha256.Sum256(spki.Key.Bytes)
	return h[:20]
}

// altName encodes a GeneralNames with one URI, for issuerAltName and
// subjectAltName.
func altName(uri string) ([]byte, error) {
	return asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: uriGeneralNameTag, Bytes: []byte(uri)}})
}

// makeRoot issues the self-signed root (IACA profile of ISO/IEC 18013-5
// Annex B as far as it applies: CA, path length 0, keyCertSign and
// cRLSign, issuer alternative name).
func (r *Ring) makeRoot(key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	ian, err := altName(r.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Country: []string{r.cfg.Country}, Organization: []string{r.cfg.Name}, CommonName: r.cfg.Name + " IACA"},
		NotBefore:    now.Add(-maxClockSkewBefore), NotAfter: now.Add(r.cfg.RootLife),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage:        x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		SubjectKeyId:    ski(key.Public()),
		ExtraExtensions: []pkix.Extension{{Id: oidIssuerAltName, Value: ian}},
	}
	der, err := x509.CreateCertificate(rand.Reader, t, t, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("keys: root certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// addSigner makes a new document-signer key and certificate (keyUsage
// digitalSignature, extended key usage mdoc DS marked critical, the issuer
// URL as subject and issuer alternative name), appends it and saves.
func (r *Ring) addSigner(ctx context.Context, rootKey crypto.Signer, now time.Time) (*Signer, error) {
	label := randomLabel("ds")
	key, err := r.prov.Generate(ctx, label)
	if err != nil {
		return nil, fmt.Errorf("keys: document signer key: %w", err)
	}
	r.mu.RLock()
	root := r.root
	r.mu.RUnlock()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{OIDMdocDS})
	if err != nil {
		return nil, err
	}
	san, err := altName(r.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(r.cfg.SignerLife)
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	u, _ := url.Parse(r.cfg.Issuer)
	t := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Country: []string{r.cfg.Country}, Organization: []string{r.cfg.Name}, CommonName: r.cfg.Name + " document signer " + now.Format("2006-01-02")},
		NotBefore:    now.Add(-maxClockSkewBefore), NotAfter: notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		SubjectKeyId: ski(key.Public()),
		ExtraExtensions: []pkix.Extension{
			{Id: oidExtKeyUsage, Critical: true, Value: eku},
			{Id: oidIssuerAltName, Value: san},
		},
	}
	if u != nil && u.Host != "" {
		t.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, t, root, key.Public(), rootKey)
	if err != nil {
		return nil, fmt.Errorf("keys: document signer certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	s := &Signer{Label: label, KeyID: Thumbprint(key.Public().(*ecdsa.PublicKey)), Cert: cert, Key: key, Created: now}
	r.mu.Lock()
	r.signers = append(r.signers, s)
	r.mu.Unlock()
	if err := r.save(); err != nil {
		return nil, err
	}
	return s, nil
}

// Rotate makes a new current document signer; the previous ones stay
// published (and keep verifying the cards they signed) until they expire.
func (r *Ring) Rotate(ctx context.Context) (*Signer, error) {
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	label := r.rootKey
	r.mu.RUnlock()
	rootKey, err := r.prov.Signer(ctx, label)
	if err != nil {
		return nil, fmt.Errorf("keys: root key: %w", err)
	}
	return r.addSigner(ctx, rootKey, r.cfg.now().UTC())
}

// RotateIfDue rotates when the current document signer's certificate has
// less than minRemaining of validity left, so that no card is signed by a
// certificate that expires before the card does (cards verify only while
// their signer's certificate is valid). It reports whether it rotated.
func (r *Ring) RotateIfDue(ctx context.Context, minRemaining time.Duration) (*Signer, bool, error) {
	cur, err := r.Current(ctx)
	if err != nil {
		return nil, false, err
	}
	if cur.Cert.NotAfter.Sub(r.cfg.now()) >= minRemaining {
		return cur, false, nil
	}
	s, err := r.Rotate(ctx)
	return s, err == nil, err
}

func (r *Ring) save() error {
	r.mu.RLock()
	j := ringJSON{Version: ringFormatVersion, Provider: r.prov.Name(), Root: ringEntry{Label: r.rootKey, Cert: r.root.Raw}}
	for _, s := range r.signers {
		j.Signers = append(j.Signers, ringEntry{Label: s.Label, Cert: s.Cert.Raw, Created: s.Created})
	}
	r.mu.RUnlock()
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(r.dir, ringFile), b, 0o600); err != nil {
		return fmt.Errorf("keys: save ring: %w", err)
	}
	if st, err := os.Stat(filepath.Join(r.dir, ringFile)); err == nil {
		r.mu.Lock()
		r.mod = st.ModTime()
		r.mu.Unlock()
	}
	return nil
}

func (r *Ring) load(ctx context.Context) error {
	path := filepath.Join(r.dir, ringFile)
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var j ringJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("keys: %s: %w", path, err)
	}
	if j.Version != ringFormatVersion {
		return fmt.Errorf("keys: %s: format version %d", path, j.Version)
	}
	if j.Provider != r.prov.Name() {
		return fmt.Errorf("keys: %s was made with the %s provider, not %s", path, j.Provider, r.prov.Name())
	}
	root, err := x509.ParseCertificate(j.Root.Cert)
	if err != nil {
		return fmt.Errorf("keys: %s: root: %w", path, err)
	}
	var signers []*Signer
	for _, e := range j.Signers {
		c, err := x509.ParseCertificate(e.Cert)
		if err != nil {
			return fmt.Errorf("keys: %s: signer %s: %w", path, e.Label, err)
		}
		if err := c.CheckSignatureFrom(root); err != nil {
			return fmt.Errorf("keys: %s: signer %s not issued by the root: %w", path, e.Label, err)
		}
		pub, ok := c.PublicKey.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("keys: %s: signer %s is not ECDSA", path, e.Label)
		}
		signers = append(signers, &Signer{Label: e.Label, KeyID: Thumbprint(pub), Cert: c, Created: e.Created})
	}
	if len(signers) == 0 {
		return fmt.Errorf("keys: %s: no document signer", path)
	}
	// Open the current signer's key now, so a wrong master key or a
	// missing HSM fails at start, not at the first issuance.
	cur := signers[len(signers)-1]
	k, err := r.prov.Signer(ctx, cur.Label)
	if err != nil {
		return fmt.Errorf("keys: current document signer: %w", err)
	}
	if !publicEqual(k.Public(), cur.Cert.PublicKey) {
		return fmt.Errorf("keys: key %s does not match its certificate", cur.Label)
	}
	cur.Key = k
	r.mu.Lock()
	r.root, r.rootKey, r.signers, r.mod = root, j.Root.Label, signers, st.ModTime()
	r.mu.Unlock()
	return nil
}

func publicEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(*ecdsa.PublicKey)
	return ok && ea.Equal(b)
}

// Made reports whether Open created the ring (a first start), so that the
// caller can log the new keys.
func (r *Ring) Made() bool { return r.made }

// Refresh reloads the ring file when another process changed it.
func (r *Ring) Refresh(ctx context.Context) error {
	st, err := os.Stat(filepath.Join(r.dir, ringFile))
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	r.mu.RLock()
	same := st.ModTime().Equal(r.mod)
	r.mu.RUnlock()
	if same {
		return nil
	}
	return r.load(ctx)
}

// Root is the root CA certificate (the trust anchor).
func (r *Ring) Root() *x509.Certificate {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.root
}

// Current is the document signer that signs new cards and lists.
func (r *Ring) Current(ctx context.Context) (*Signer, error) {
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.signers[len(r.signers)-1]
	if s.Key == nil {
		return nil, fmt.Errorf("keys: current signer %s not open", s.Label)
	}
	return s, nil
}

// Signers returns the published document signers: every one whose
// certificate has not expired at now, newest first.
func (r *Ring) Signers(now time.Time) []*Signer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []*Signer
	for _, s := range r.signers {
		if now.Before(s.Cert.NotAfter) {
			out = append(out, s)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// SigningKey is the current signer as a JWS key with x5c = [DS] (status
// list tokens, audit tree heads); the root is the verifier's trust anchor,
// obtained out of band (trust list), so it is not sent along.
func (r *Ring) SigningKey(ctx context.Context) (jws.Key, error) {
	s, err := r.Current(ctx)
	if err != nil {
		return jws.Key{}, err
	}
	return jws.Key{Signer: s.Key, KeyID: s.KeyID, Chain: [][]byte{s.Cert.Raw}}, nil
}

// Chain returns the current signer and its chain for issuing cards: the
// document-signer certificate alone (the SD-JWT x5c and the mdoc x5chain
// carry the signer; the IACA root is the verifier's trust anchor).
func (r *Ring) Chain(ctx context.Context) (crypto.Signer, []*x509.Certificate, error) {
	s, err := r.Current(ctx)
	if err != nil {
		return nil, nil, err
	}
	return s.Key, []*x509.Certificate{s.Cert}, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url) of a P-256 key.
func Thumbprint(pub *ecdsa.PublicKey) string {
	j := JWKOf(pub)
	// Members in lexicographic order, no whitespace, as RFC 7638 requires.
	s := `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `","y":"` + j.Y + `"}`
	h := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// JWK is a public P-256 JSON Web Key.
type JWK struct {
	Kty string   `json:"kty"`
	Crv string   `json:"crv"`
	X   string   `json:"x"`
	Y   string   `json:"y"`
	Kid string   `json:"kid,omitempty"`
	Use string   `json:"use,omitempty"`
	Alg string   `json:"alg,omitempty"`
	X5C [][]byte `json:"x5c,omitempty"`
}

// JWKOf returns the bare JWK of a P-256 key.
func JWKOf(pub *ecdsa.PublicKey) JWK {
	b, _ := pub.Bytes() // uncompressed point 0x04 || X || Y
	enc := base64.RawURLEncoding
	return JWK{Kty: "EC", Crv: "P-256", X: enc.EncodeToString(b[1:33]), Y: enc.EncodeToString(b[33:65])}
}

// JWKS is a JWK Set.
type JWKS struct {
	Keys []JWK `json:"keys"`
}

// JWKS returns the published signers as a JWK Set, each with kid, use
// sig, alg ES256 and its x5c chain.
func (r *Ring) JWKS(now time.Time) JWKS {
	out := JWKS{Keys: []JWK{}}
	root := r.Root()
	for _, s := range r.Signers(now) {
		j := JWKOf(s.Cert.PublicKey.(*ecdsa.PublicKey))
		j.Kid, j.Use, j.Alg, j.X5C = s.KeyID, "sig", "ES256", [][]byte{s.Cert.Raw, root.Raw}
		out.Keys = append(out.Keys, j)
	}
	return out
}

// TrustList is shenfen's published trust list: the trust anchors (root
// certificates) a verifier configures, and the document-signer
// certificates currently valid under them, as PEM, with their key ids and
// validity so that a verifier can pin or audit them.
type TrustList struct {
	Issuer  string       `json:"issuer"`
	Updated time.Time    `json:"updated"`
	Anchors []TrustEntry `json:"anchors"`
	Signers []TrustEntry `json:"signers"`
}

// TrustEntry is one certificate of a [TrustList].
type TrustEntry struct {
	Kid       string    `json:"kid,omitempty"`
	Subject   string    `json:"subject"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"`
	PEM       string    `json:"pem"`
	Current   bool      `json:"current,omitempty"`
}

func trustEntry(c *x509.Certificate) TrustEntry {
	h := sha256.Sum256(c.Raw)
	return TrustEntry{Subject: c.Subject.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SHA256: fmt.Sprintf("%x", h), PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))}
}

// TrustList returns the trust list at now.
func (r *Ring) TrustList(now time.Time) TrustList {
	tl := TrustList{Issuer: r.cfg.Issuer, Anchors: []TrustEntry{trustEntry(r.Root())}, Signers: []TrustEntry{}}
	for i, s := range r.Signers(now) {
		e := trustEntry(s.Cert)
		e.Kid, e.Current = s.KeyID, i == 0
		tl.Signers = append(tl.Signers, e)
		if s.Created.After(tl.Updated) {
			tl.Updated = s.Created.UTC()
		}
	}
	return tl
}

// AnchorsPEM returns the root certificate as PEM, the form
// credential.ParseAnchorsPEM and status.ChainKeys users load.
func (r *Ring) AnchorsPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Root().Raw})
}

// TrustPEM returns the root certificate followed by the published
// document-signer certificates, as PEM: the root is the trust anchor, the
// signers let a verifier check presentations that name their signer by key
// id instead of carrying the certificate (compact QR codes).
func (r *Ring) TrustPEM(now time.Time) []byte {
	out := r.AnchorsPEM()
	for _, s := range r.Signers(now) {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Cert.Raw})...)
	}
	return out
}
