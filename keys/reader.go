package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"time"
)

// OIDMdocReaderAuth is the extended key usage of an mdoc reader
// authentication certificate (ISO/IEC 18013-5, 1.0.18013.5.1.6). shenfen
// gives it to every registered verifier's certificate, so that a wallet
// can tell a verifier's key from a document signer's.
var OIDMdocReaderAuth = asn1.ObjectIdentifier{1, 0, 18013, 5, 1, 6}

// ErrReader is returned by IssueReader for a request it cannot certify.
var ErrReader = errors.New("keys: reader certificate")

// defaultReaderLife is how long a verifier's certificate is valid; a
// verifier registered again gets a new one.
const defaultReaderLife = 365 * 24 * time.Hour

// Reader is what the authority certifies about a registered verifier.
type Reader struct {
	// Key is the verifier's public key (P-256).
	Key crypto.PublicKey
	// Name is the subject's organisation (the verifier's registered name).
	Name string
	// DNSNames go in the subject alternative name: the hosts the verifier
	// answers on (OpenID4VP x509_san_dns, and the response_uri hosts a
	// wallet accepts).
	DNSNames []string
	// Life is the validity (default one year, never past the root's).
	Life time.Duration
}

// IssueReader issues a verifier (mdoc reader authentication) certificate
// under the root: not a CA, keyUsage digitalSignature, extended key usage
// mdoc reader authentication (critical), the DNS names as subject
// alternative names. The root's key signs it; the ring file is not
// changed (the verifier registry keeps the certificate).
func (r *Ring) IssueReader(ctx context.Context, req Reader) (*x509.Certificate, error) {
	pub, ok := req.Key.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key must be an ECDSA P-256 public key", ErrReader)
	}
	if len(req.DNSNames) == 0 {
		return nil, fmt.Errorf("%w: at least one DNS name is required", ErrReader)
	}
	if err := r.Refresh(ctx); err != nil {
		return nil, err
	}
	r.mu.RLock()
	root, label := r.root, r.rootKey
	r.mu.RUnlock()
	rootKey, err := r.prov.Signer(ctx, label)
	if err != nil {
		return nil, fmt.Errorf("keys: root key: %w", err)
	}
	life := req.Life
	if life <= 0 {
		life = defaultReaderLife
	}
	now := r.cfg.now().UTC()
	notAfter := now.Add(life)
	if notAfter.After(root.NotAfter) {
		notAfter = root.NotAfter
	}
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{OIDMdocReaderAuth})
	if err != nil {
		return nil, err
	}
	t := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Country: []string{r.cfg.Country}, Organization: []string{req.Name}, CommonName: req.DNSNames[0]},
		NotBefore:    now.Add(-maxClockSkewBefore), NotAfter: notAfter,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		SubjectKeyId:    ski(pub),
		DNSNames:        req.DNSNames,
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, t, root, pub, rootKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrReader, err)
	}
	return x509.ParseCertificate(der)
}

// ReaderKey makes (create) or opens the private key under label in the
// ring's provider: the key of a verifier that shenfen hosts (a front desk
// served by shenfen's verifier page), which never leaves the provider.
func (r *Ring) ReaderKey(ctx context.Context, label string, create bool) (crypto.Signer, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	if create {
		return r.prov.Generate(ctx, label)
	}
	return r.prov.Signer(ctx, label)
}
