package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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

// Generate makes a new P-256 key file.
func (p *FileProvider) Generate(ctx context.Context, label string) (crypto.Signer, error) {
	if err := CheckLabel(label); err != nil {
		return nil, err
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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

// Signer opens a key file.
func (p *FileProvider) Signer(ctx context.Context, label string) (crypto.Signer, error) {
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
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("keys: %s is not a P-256 key", label)
	}
	return ek, nil
}
