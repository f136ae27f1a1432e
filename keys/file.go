package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shenfen/shenfen/atomicfile"
)

// sealedKeyPEM is the PEM type of a sealed key file.
const sealedKeyPEM = "SHENFEN SEALED PRIVATE KEY"

// Sealer encrypts values at rest bound to associated data (package seal's
// Sealer, keyed by the master key file, is the one shenfen uses).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// FileProvider keeps keys as files DIR/LABEL.key: the PKCS#8 DER of the
// key sealed by the [Sealer] (AES-256-GCM under a key derived from the
// master key), with the label as associated data so that files cannot be
// swapped, in a PEM block. Files are created 0600 and never overwritten.
type FileProvider struct {
	dir    string
	sealer Sealer
}

// NewFileProvider returns a provider over dir sealing keys with s.
func NewFileProvider(dir string, s Sealer) *FileProvider {
	return &FileProvider{dir: dir, sealer: s}
}

// Name is "file".
func (p *FileProvider) Name() string { return "file" }

func (p *FileProvider) path(label string) string { return filepath.Join(p.dir, label+".key") }

// Key kinds a FileProvider keeps. The [Provider] interface (and so
// PKCS#11) covers P-256 only; the other kinds are kept in files.
const (
	// KindP256 is an ECDSA P-256 key (ES256): document signers, ID tokens.
	KindP256 = "P-256"
	// KindEd25519 is an Ed25519 key: the transparency log's checkpoint
	// (C2SP signed-note) key.
	KindEd25519 = "Ed25519"
	// KindRSA is a 2048-bit RSA key: ID tokens for relying parties that
	// registered RS256 (OpenID Connect Discovery requires RS256).
	KindRSA = "RSA-2048"
)

// Generate makes a new P-256 key file.
func (p *FileProvider) Generate(ctx context.Context, label string) (crypto.Signer, error) {
	return p.GenerateKind(ctx, label, KindP256)
}

// GenerateKind makes a new key file of a kind (KindP256, KindEd25519,
// KindRSA).
func (p *FileProvider) GenerateKind(ctx context.Context, label, kind string) (crypto.Signer, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	var k crypto.Signer
	var err error
	switch kind {
	case KindP256:
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case KindEd25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case KindRSA:
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("keys: unknown key kind %q", kind)
	}
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	sealed := p.sealer.Seal(der, []byte("shenfen key "+label))
	clear(der)
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	err = atomicfile.Create(p.path(label), pem.EncodeToMemory(&pem.Block{Type: sealedKeyPEM, Bytes: sealed}), 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w: %s", ErrExists, label)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: write %s: %w", label, err)
	}
	return k, nil
}

// Signer opens a P-256 key file.
func (p *FileProvider) Signer(ctx context.Context, label string) (crypto.Signer, error) {
	return p.SignerKind(ctx, label, KindP256)
}

// SignerKind opens a key file that must hold a key of kind.
func (p *FileProvider) SignerKind(ctx context.Context, label, kind string) (crypto.Signer, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p.path(label))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, label)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != sealedKeyPEM {
		return nil, fmt.Errorf("%w: %s is not a sealed key file", ErrSealed, label)
	}
	der, err := p.sealer.Open(blk.Bytes, []byte("shenfen key "+label))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", ErrSealed, label)
	}
	defer clear(der)
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", label, err)
	}
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		if kind == KindP256 && k.Curve == elliptic.P256() {
			return k, nil
		}
	case ed25519.PrivateKey:
		if kind == KindEd25519 {
			return k, nil
		}
	case *rsa.PrivateKey:
		if kind == KindRSA && k.N.BitLen() >= 2048 {
			return k, nil
		}
	}
	return nil, fmt.Errorf("keys: %s is not a %s key", label, kind)
}

// OpenOrGenerate opens the key file of a kind under label, making it on
// first use.
func (p *FileProvider) OpenOrGenerate(ctx context.Context, label, kind string) (crypto.Signer, error) {
	s, err := p.SignerKind(ctx, label, kind)
	if errors.Is(err, ErrNotFound) {
		s, err = p.GenerateKind(ctx, label, kind)
		if errors.Is(err, ErrExists) { // another process made it first
			s, err = p.SignerKind(ctx, label, kind)
		}
	}
	return s, err
}
