// Package pkcs11 is the hardware-security-module [keys.Provider]: P-256
// keys generated inside a PKCS#11 token (non-extractable, sensitive) and
// used through crypto.Signer, so the issuer's private keys never exist in
// shenfen's memory. It is tested against SoftHSM 2 and needs cgo (it loads
// the token's library with dlopen through github.com/miekg/pkcs11).
package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/shenfen/shenfen/keys"
)

// LibraryCandidates are where FindLibrary looks for a PKCS#11 module when
// SHENFEN_PKCS11_LIB is not set: SoftHSM 2 as Debian and others install it.
var LibraryCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
}

// FindLibrary returns the PKCS#11 module path: $SHENFEN_PKCS11_LIB, or the
// first of [LibraryCandidates] that exists.
func FindLibrary() (string, error) {
	if p := os.Getenv("SHENFEN_PKCS11_LIB"); p != "" {
		return p, nil
	}
	for _, p := range LibraryCandidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("pkcs11: no PKCS#11 module found (install softhsm2 or set SHENFEN_PKCS11_LIB)")
}

// oidP256 is the DER of the named curve P-256 (CKA_EC_PARAMS).
var oidP256 = []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}

// Provider keeps keys in one token, found by its label, logged in as the
// user. PKCS#11 sessions are not safe for concurrent use, so the provider
// serialises its calls on one session.
type Provider struct {
	ctx  *p11.Ctx
	mu   sync.Mutex
	sess p11.SessionHandle
}

var _ keys.Provider = (*Provider)(nil)

// Open loads the module at lib, finds the token labelled token and logs in
// with pin.
func Open(lib, token, pin string) (*Provider, error) {
	c := p11.New(lib)
	if c == nil {
		return nil, fmt.Errorf("pkcs11: cannot load module %s", lib)
	}
	if err := c.Initialize(); err != nil && !errors.Is(err, p11.Error(p11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
		c.Destroy()
		return nil, fmt.Errorf("pkcs11: initialise %s: %w", lib, err)
	}
	slots, err := c.GetSlotList(true)
	if err != nil {
		c.Destroy()
		return nil, fmt.Errorf("pkcs11: slots: %w", err)
	}
	for _, s := range slots {
		ti, err := c.GetTokenInfo(s)
		if err != nil || ti.Label != token {
			continue
		}
		sh, err := c.OpenSession(s, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
		if err != nil {
			c.Destroy()
			return nil, fmt.Errorf("pkcs11: open session: %w", err)
		}
		if err := c.Login(sh, p11.CKU_USER, pin); err != nil && !errors.Is(err, p11.Error(p11.CKR_USER_ALREADY_LOGGED_IN)) {
			c.CloseSession(sh)
			c.Destroy()
			return nil, fmt.Errorf("pkcs11: log in to token %q: %w", token, err)
		}
		return &Provider{ctx: c, sess: sh}, nil
	}
	c.Destroy()
	return nil, fmt.Errorf("pkcs11: no token labelled %q in %s", token, lib)
}

// Close logs out and unloads the module.
func (p *Provider) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ctx.Logout(p.sess)
	p.ctx.CloseSession(p.sess)
	err := p.ctx.Finalize()
	p.ctx.Destroy()
	return err
}

// Name is "pkcs11".
func (p *Provider) Name() string { return "pkcs11" }

func (p *Provider) find(class uint, label string) ([]p11.ObjectHandle, error) {
	if err := p.ctx.FindObjectsInit(p.sess, []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, class), p11.NewAttribute(p11.CKA_LABEL, label),
	}); err != nil {
		return nil, err
	}
	objs, _, err := p.ctx.FindObjects(p.sess, 2)
	if ferr := p.ctx.FindObjectsFinal(p.sess); err == nil {
		err = ferr
	}
	return objs, err
}

// Generate makes a P-256 key pair in the token: the private key sensitive,
// non-extractable, allowed only to sign.
func (p *Provider) Generate(ctx context.Context, label string) (crypto.Signer, error) {
	if err := keys.CheckLabel(label); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if objs, err := p.find(p11.CKO_PRIVATE_KEY, label); err != nil {
		return nil, fmt.Errorf("pkcs11: find %s: %w", label, err)
	} else if len(objs) > 0 {
		return nil, fmt.Errorf("%w: %s", keys.ErrExists, label)
	}
	pubT := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_VERIFY, true),
		p11.NewAttribute(p11.CKA_EC_PARAMS, oidP256),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	privT := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true),
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_SIGN, true),
		p11.NewAttribute(p11.CKA_LABEL, label),
	}
	pub, priv, err := p.ctx.GenerateKeyPair(p.sess, []*p11.Mechanism{p11.NewMechanism(p11.CKM_EC_KEY_PAIR_GEN, nil)}, pubT, privT)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: generate %s: %w", label, err)
	}
	pk, err := p.publicKey(pub)
	if err != nil {
		return nil, err
	}
	return &signer{p: p, priv: priv, pub: pk}, nil
}

// Signer opens the key pair labelled label.
func (p *Provider) Signer(ctx context.Context, label string) (crypto.Signer, error) {
	if err := keys.CheckLabel(label); err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	privs, err := p.find(p11.CKO_PRIVATE_KEY, label)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: find %s: %w", label, err)
	}
	pubs, err := p.find(p11.CKO_PUBLIC_KEY, label)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: find %s: %w", label, err)
	}
	if len(privs) == 0 || len(pubs) == 0 {
		return nil, fmt.Errorf("%w: %s", keys.ErrNotFound, label)
	}
	if len(privs) > 1 || len(pubs) > 1 {
		return nil, fmt.Errorf("pkcs11: several keys labelled %s", label)
	}
	pk, err := p.publicKey(pubs[0])
	if err != nil {
		return nil, err
	}
	return &signer{p: p, priv: privs[0], pub: pk}, nil
}

// publicKey reads CKA_EC_POINT (a DER OCTET STRING around the uncompressed
// point; some tokens give the bare point).
func (p *Provider) publicKey(o p11.ObjectHandle) (*ecdsa.PublicKey, error) {
	attrs, err := p.ctx.GetAttributeValue(p.sess, o, []*p11.Attribute{p11.NewAttribute(p11.CKA_EC_POINT, nil)})
	if err != nil || len(attrs) != 1 {
		return nil, fmt.Errorf("pkcs11: read public key: %v", err)
	}
	pt := attrs[0].Value
	var inner []byte
	if rest, err := asn1.Unmarshal(pt, &inner); err == nil && len(rest) == 0 {
		pt = inner
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: public key: %w", err)
	}
	return pk, nil
}

// signer is a token-held key as a crypto.Signer.
type signer struct {
	p    *Provider
	priv p11.ObjectHandle
	pub  *ecdsa.PublicKey
}

func (s *signer) Public() crypto.PublicKey { return s.pub }

// Sign signs a SHA-256 digest with CKM_ECDSA and returns the ASN.1 DER
// ECDSA-Sig-Value that crypto.Signer promises (the token gives r||s).
func (s *signer) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != crypto.SHA256 || len(digest) != 32 {
		return nil, fmt.Errorf("pkcs11: sign: want a SHA-256 digest")
	}
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if err := s.p.ctx.SignInit(s.p.sess, []*p11.Mechanism{p11.NewMechanism(p11.CKM_ECDSA, nil)}, s.priv); err != nil {
		return nil, fmt.Errorf("pkcs11: sign: %w", err)
	}
	rs, err := s.p.ctx.Sign(s.p.sess, digest)
	if err != nil {
		return nil, fmt.Errorf("pkcs11: sign: %w", err)
	}
	if len(rs) != 64 {
		return nil, fmt.Errorf("pkcs11: sign: %d-byte signature from the token", len(rs))
	}
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(rs[:32]), new(big.Int).SetBytes(rs[32:])})
}
