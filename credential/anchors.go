package credential

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Anchors are the trust anchors a verifier accepts issuers under, with a
// cache of chains already verified so the hot path parses and verifies a
// given issuer chain once, not on every presentation.
type Anchors struct {
	roots *x509.CertPool
	list  []*x509.Certificate
	mu    sync.RWMutex
	// cache1 holds single-certificate chains by their DER (looked up
	// without building a key), cache longer chains by their
	// length-prefixed concatenation.
	cache1, cache map[string]*Chain
	// known holds every certificate given (roots and cached issuer
	// certificates) by KID, for presentations that name their issuer
	// certificate instead of carrying it (the QR form).
	known map[string][]byte
}

// KID is the short identifier of a certificate: the first 8 bytes of the
// SHA-256 of its DER encoding. The compact QR presentation names its
// issuer certificate by KID instead of carrying it.
func KID(der []byte) []byte {
	h := sha256.Sum256(der)
	return h[:8]
}

// maxCachedChains bounds the chain cache; it is emptied when full.
const maxCachedChains = 1024

// Chain is an issuer certificate chain verified to an anchor.
type Chain struct {
	// Certs is the chain as presented, leaf first.
	Certs []*x509.Certificate
	// Key is the leaf's P-256 public key.
	Key *ecdsa.PublicKey
	// Subject is the leaf's subject as a string.
	Subject string
	// Root is the trust anchor the verified path ends at (the leaf itself
	// when the leaf is an anchor).
	Root *x509.Certificate
	// notBefore and notAfter bound the instants at which every certificate
	// of the verified path is valid.
	notBefore, notAfter time.Time
}

// NewAnchors returns anchors trusting the given root (or issuer) certificates.
func NewAnchors(roots ...*x509.Certificate) *Anchors {
	p := x509.NewCertPool()
	a := &Anchors{roots: p, list: roots, cache1: map[string]*Chain{}, cache: map[string]*Chain{}, known: map[string][]byte{}}
	for _, c := range roots {
		p.AddCert(c)
		a.known[string(KID(c.Raw))] = c.Raw
	}
	return a
}

// Roots returns the root certificates (for checking other objects, such as
// status list tokens, against the same anchors).
func (a *Anchors) Roots() []*x509.Certificate { return a.list }

// AddIssuers caches issuer (document signer) certificates so presentations
// that only name them by [KID] can be verified offline. They are not
// trusted by being added: each is still verified to a root.
func (a *Anchors) AddIssuers(certs ...*x509.Certificate) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range certs {
		a.known[string(KID(c.Raw))] = c.Raw
	}
}

// ByKID returns the cached certificate with the given [KID].
func (a *Anchors) ByKID(kid []byte) ([]byte, bool) {
	if a == nil {
		return nil, false
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	der, ok := a.known[string(kid)]
	return der, ok
}

// ParseAnchorsPEM reads trust anchors from PEM "CERTIFICATE" blocks: CA
// certificates (basic constraints CA) are roots; other certificates are
// cached issuer certificates (see [Anchors.AddIssuers]).
func ParseAnchorsPEM(b []byte) (*Anchors, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("credential: trust anchor: %w", err)
		}
		certs = append(certs, c)
	}
	var roots, issuers []*x509.Certificate
	for _, c := range certs {
		if c.IsCA {
			roots = append(roots, c)
		} else {
			issuers = append(issuers, c)
		}
	}
	if len(roots) == 0 {
		return nil, errors.New("credential: no CA certificate in trust anchor PEM")
	}
	a := NewAnchors(roots...)
	a.AddIssuers(issuers...)
	return a, nil
}

// Verify checks that chain (DER certificates, leaf first) leads to an
// anchor at time now and that the leaf holds a P-256 key. The cache key is
// the DER (of a single certificate, or the length-prefixed concatenation of
// a longer chain), so a chain is parsed and path-verified once; later calls
// only compare the validity window.
func (a *Anchors) Verify(chain [][]byte, now time.Time) (*Chain, error) {
	if a == nil {
		return nil, errorf(ErrUntrusted, "no trust anchors configured")
	}
	if len(chain) == 0 {
		return nil, errorf(ErrUntrusted, "no certificate chain")
	}
	if len(chain) > 8 {
		return nil, errorf(ErrTooLarge, "certificate chain of %d", len(chain))
	}
	var key []byte
	if len(chain) > 1 {
		n := 0
		for _, c := range chain {
			n += len(c) + 4
		}
		key = make([]byte, 0, n)
		for _, c := range chain {
			key = append(key, byte(len(c)>>24), byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
			key = append(key, c...)
		}
	}
	var ch *Chain
	a.mu.RLock()
	if len(chain) == 1 {
		ch = a.cache1[string(chain[0])]
	} else {
		ch = a.cache[string(key)]
	}
	a.mu.RUnlock()
	if ch == nil {
		var err error
		if ch, err = a.verify(chain, now); err != nil {
			return nil, err
		}
		a.mu.Lock()
		if len(a.cache)+len(a.cache1) >= maxCachedChains {
			clear(a.cache)
			clear(a.cache1)
		}
		if len(chain) == 1 {
			a.cache1[string(chain[0])] = ch
		} else {
			a.cache[string(key)] = ch
		}
		a.mu.Unlock()
	}
	if now.Before(ch.notBefore) || now.After(ch.notAfter) {
		return nil, errorf(ErrUntrusted, "issuer certificate not valid at %s", now.UTC().Format(time.RFC3339))
	}
	return ch, nil
}

func (a *Anchors) verify(chain [][]byte, now time.Time) (*Chain, error) {
	certs := make([]*x509.Certificate, len(chain))
	for i, der := range chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errorf(ErrMalformed, "certificate %d: %v", i, err)
		}
		certs[i] = c
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	paths, err := certs[0].Verify(x509.VerifyOptions{
		Roots: a.roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return nil, errorf(ErrUntrusted, "%v", err)
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errorf(ErrUnsupported, "issuer key is not P-256 ECDSA")
	}
	ch := &Chain{Certs: certs, Key: pub, Subject: certs[0].Subject.String(), Root: paths[0][len(paths[0])-1]}
	// Cache the window in which the first path found is valid throughout.
	for i, c := range paths[0] {
		if i == 0 || c.NotBefore.After(ch.notBefore) {
			ch.notBefore = c.NotBefore
		}
		if i == 0 || c.NotAfter.Before(ch.notAfter) {
			ch.notAfter = c.NotAfter
		}
	}
	return ch, nil
}
