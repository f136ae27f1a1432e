// Package keys holds shenfen's issuer signing keys and the certificates
// that make them verifiable: a root certificate authority (an IACA in ISO/IEC
// 18013-5 terms) and document-signer certificates issued by it, one current
// and the older ones kept so that cards signed before a rotation still
// verify. It publishes them as a JWKS (RFC 7517) and a trust list.
//
// Private keys never leave their [Provider]: [FileProvider] keeps P-256 keys
// in files under the data directory, PKCS#8 sealed with AES-256-GCM under a
// key derived from the master key; package keys/pkcs11 keeps them in a
// hardware security module (or SoftHSM). Everything else sees a
// crypto.Signer.
package keys

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"regexp"
)

// Provider makes and opens P-256 signing keys by label.
type Provider interface {
	// Name is "file" or "pkcs11".
	Name() string
	// Generate makes a new P-256 key under label; a label in use is an
	// error wrapping [ErrExists].
	Generate(ctx context.Context, label string) (crypto.Signer, error)
	// Signer opens the key under label, or fails wrapping [ErrNotFound].
	Signer(ctx context.Context, label string) (crypto.Signer, error)
}

// Sentinel errors.
var (
	// ErrNotFound: no key under that label.
	ErrNotFound = errors.New("keys: key not found")
	// ErrExists: a key under that label exists already.
	ErrExists = errors.New("keys: key exists")
	// ErrSealed: a key file cannot be opened with this master key
	// (wrong key, or the file was altered).
	ErrSealed = errors.New("keys: key file does not open with this master key")
)

var labelRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// CheckLabel accepts labels of 1 to 64 lower-case letters, digits and
// hyphens (they become file names and PKCS#11 labels).
func CheckLabel(label string) error {
	if !labelRE.MatchString(label) {
		return fmt.Errorf("keys: bad key label %q", label)
	}
	return nil
}
