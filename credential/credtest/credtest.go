// Package credtest makes what credential tests need: an issuer CA and
// document-signer chain, holder keys, a sample PID with a real portrait
// thumbnail, and doubles for the status and nonce interfaces. It is a
// normal package so the interop generator and other areas' tests can use it.
package credtest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/shenfen/shenfen/credential"
)

// Issuer is a test issuing authority: a root CA and a document signer.
type Issuer struct {
	Root    *x509.Certificate
	RootKey *ecdsa.PrivateKey
	Leaf    *x509.Certificate
	Key     *ecdsa.PrivateKey
	// Chain is the signer's chain, leaf first (without the root).
	Chain []*x509.Certificate
}

// IssuerURL is the issuer identifier (iss) of test issuers, also the URI
// subjectAltName of their document signer certificates.
const IssuerURL = "https://id.shenfen.test"

// NewIssuer makes a P-256 root CA and document signer valid from notBefore
// for ten years, to the ISO/IEC 18013-5 Annex B profile (the signer has key
// usage digitalSignature and extended key usage mdlDS). name distinguishes
// issuers in subjects.
func NewIssuer(name string, notBefore time.Time) (*Issuer, error) {
	rk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " root", Country: []string{"CN"}},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(10, 0, 0),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	rder, err := x509.CreateCertificate(rand.Reader, root, root, rk.Public(), rk)
	if err != nil {
		return nil, err
	}
	rc, _ := x509.ParseCertificate(rder)
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name + " document signer", Country: []string{"CN"}},
		NotBefore: notBefore, NotAfter: notBefore.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature,
		URIs:     []*url.URL{issuerURL},
		// Extended key usage mdlDS, critical (ISO/IEC 18013-5 Annex B).
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: mdlDSEKU}},
	}
	lder, err := x509.CreateCertificate(rand.Reader, leaf, rc, lk.Public(), rk)
	if err != nil {
		return nil, err
	}
	lc, _ := x509.ParseCertificate(lder)
	return &Issuer{Root: rc, RootKey: rk, Leaf: lc, Key: lk, Chain: []*x509.Certificate{lc}}, nil
}

var issuerURL, _ = url.Parse(IssuerURL)

var (
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	// mdlDSEKU is the DER extended key usage extension value holding only
	// id-mdl-kp-mdlDS (1.0.18013.5.1.2).
	mdlDSEKU, _ = asn1.Marshal([]asn1.ObjectIdentifier{{1, 0, 18013, 5, 1, 2}})
)

// RootPEM returns the root certificate as PEM.
func (i *Issuer) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: i.Root.Raw})
}

// Anchors returns trust anchors holding the root.
func (i *Issuer) Anchors() *credential.Anchors { return credential.NewAnchors(i.Root) }

// Signer returns the document signer as a bare crypto.Signer (hiding the
// concrete key type, as an HSM-backed signer would).
func (i *Issuer) Signer() crypto.Signer { return opaqueSigner{i.Key} }

type opaqueSigner struct{ k crypto.Signer }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

// HolderKey makes a device key.
func HolderKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// FacesDir is where the shared face photos are (SHENFEN_FACES_DIR overrides).
func FacesDir() string {
	if d := os.Getenv("SHENFEN_FACES_DIR"); d != "" {
		return d
	}
	// Walk up from the working directory to the repository's parent.
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "..", "shared", "testdata", "faces")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
		if filepath.Dir(d) == d {
			return filepath.Join("..", "shared", "testdata", "faces")
		}
	}
}

var (
	portraitOnce sync.Once
	portrait     []byte
	thumb        []byte
	portraitErr  error
)

// Portrait returns a real face photo (JPEG) and its thumbnail.
func Portrait() (jpeg, thumbnail []byte, err error) {
	portraitOnce.Do(func() {
		portrait, portraitErr = os.ReadFile(filepath.Join(FacesDir(), "obama", "obama_small.jpg"))
		if portraitErr == nil {
			thumb, portraitErr = credential.Thumbnail(portrait)
		}
	})
	return portrait, thumb, portraitErr
}

// PID returns a sample card holder (with the real portrait when available).
func PID() (credential.PID, error) {
	p, t, err := Portrait()
	if err != nil {
		return credential.PID{}, fmt.Errorf("credtest: portrait: %w", err)
	}
	return credential.NewPID(credential.PID{
		FamilyName: "张", GivenName: "三", NameOriginal: "张三",
		Sex: credential.SexMale, BirthDate: "1990-03-07",
		Ethnicity: "汉", Address: "广东省广州市南沙区进港大道 1 号",
		IDNumber: "44011519900307001X", Authority: "广州市公安局南沙分局", Country: "CN",
		IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01",
		Portrait: p, Thumbnail: t,
	})
}

// Status is a StatusChecker double answering from a map (missing: valid).
type Status struct {
	mu sync.Mutex
	m  map[string]credential.Status
	// Err, when set, is returned by every lookup.
	Err error
}

// Set records the status of uri#index.
func (s *Status) Set(uri string, index int, st credential.Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]credential.Status{}
	}
	s.m[fmt.Sprintf("%s#%d", uri, index)] = st
}

// Status implements credential.StatusChecker.
func (s *Status) Status(_ context.Context, uri string, index int) (credential.Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return 0, s.Err
	}
	return s.m[fmt.Sprintf("%s#%d", uri, index)], nil
}

// Nonces is an in-memory NonceStore.
type Nonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

// Consume implements credential.NonceStore.
func (n *Nonces) Consume(_ context.Context, v string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.seen == nil {
		n.seen = map[string]bool{}
	}
	if n.seen[v] {
		return credential.ErrReplay
	}
	n.seen[v] = true
	return nil
}
