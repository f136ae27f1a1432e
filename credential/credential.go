// Package credential holds shenfen's virtual ID card: the person
// identification data ([PID]) the card carries, the attribute profiles that
// choose which of it goes on a card, and what both encodings share on the
// verifying side: trust anchors ([Anchors]), the status interface
// ([StatusChecker]), one-time nonces ([NonceStore]), the verified result
// ([Verified]) and the sentinel errors every check returns.
//
// The two standard encodings live in subpackages: [github.com/shenfen/shenfen/credential/sdjwt]
// (SD-JWT VC, RFC 9901) and [github.com/shenfen/shenfen/credential/mdoc]
// (ISO/IEC 18013-5 mdoc); [github.com/shenfen/shenfen/credential/qr] is the
// compact, offline, in-person presentation that fits in a QR code.
//
// Verification is a chain of small checks, each failing with exactly one of
// the sentinel errors below (wrapped with context), so a relying party can
// branch with errors.Is. The package imports no HTTP and no SQL: a relying
// party can import it alone.
package credential

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/status/entry"
)

// Sentinel errors. Every verification failure wraps exactly one of them.
var (
	// ErrMalformed: the input is not a well-formed presentation (truncated,
	// bad base64/JSON/CBOR, duplicate CBOR map keys, nesting too deep).
	ErrMalformed = errors.New("credential: malformed")
	// ErrTooLarge: the input exceeds the verifier's size limits.
	ErrTooLarge = errors.New("credential: input too large")
	// ErrUnsupported: a well-formed but unsupported algorithm, type or version.
	ErrUnsupported = errors.New("credential: unsupported")
	// ErrSignature: the issuer's signature does not verify.
	ErrSignature = errors.New("credential: bad issuer signature")
	// ErrUntrusted: the issuer's certificate chain does not lead to a trust anchor.
	ErrUntrusted = errors.New("credential: issuer not trusted")
	// ErrCertProfile refines ErrUntrusted (errors.Is matches both): the
	// chain leads to an anchor, but a certificate does not fit the profile
	// the format requires (mdoc: ISO/IEC 18013-5 Annex B, a document signer
	// with key usage digitalSignature and extended key usage mdlDS under an
	// IACA root that is a CA).
	ErrCertProfile = fmt.Errorf("%w: certificate profile", ErrUntrusted)
	// ErrExpired: the credential's validity ended.
	ErrExpired = errors.New("credential: expired")
	// ErrNotYetValid: the credential's validity has not started.
	ErrNotYetValid = errors.New("credential: not yet valid")
	// ErrHolderBinding: the holder's (device key) signature is missing or
	// does not verify, or does not cover this presentation. For mdoc the
	// verifier's nonce and audience are inside the signed SessionTranscript,
	// so a presentation made for another nonce or audience fails here.
	ErrHolderBinding = errors.New("credential: holder binding failed")
	// ErrNonce: the presentation was made for another nonce (SD-JWT KB-JWT).
	ErrNonce = errors.New("credential: nonce mismatch")
	// ErrAudience: the presentation was made for another verifier (SD-JWT KB-JWT).
	ErrAudience = errors.New("credential: audience mismatch")
	// ErrReplay: the nonce (or the time-window presentation) was already used.
	ErrReplay = errors.New("credential: replayed presentation")
	// ErrStale: the holder's signature is outside the accepted time window.
	ErrStale = errors.New("credential: presentation too old or from the future")
	// ErrDisclosure: a disclosed claim is not covered by the issuer's digests
	// (tampered, duplicated or unknown disclosure or element).
	ErrDisclosure = errors.New("credential: disclosure not signed by issuer")
	// ErrRevoked: the status list says the credential is revoked (invalid).
	ErrRevoked = errors.New("credential: revoked")
	// ErrSuspended: the status list says the credential is suspended.
	ErrSuspended = errors.New("credential: suspended")
	// ErrStatus: the status could not be established (no checker, list
	// unavailable or unknown status value).
	ErrStatus = errors.New("credential: status unavailable")
)

// Status is a Token Status List status value: the one type of package
// status/entry, shared with package status.
type Status = entry.Status

// Status values of draft-ietf-oauth-status-list.
const (
	StatusValid     = entry.Valid
	StatusInvalid   = entry.Invalid // revoked
	StatusSuspended = entry.Suspended
)

// StatusRef points at a credential's entry in a Token Status List (the
// same type as status.Ref).
type StatusRef = entry.Ref

// StatusChecker looks a credential's status up. Implementations fetch, cache
// and verify status list tokens; an offline verifier answers from a cached list.
type StatusChecker interface {
	Status(ctx context.Context, uri string, index int) (Status, error)
}

// StatusFunc adapts a function to [StatusChecker].
type StatusFunc func(ctx context.Context, uri string, index int) (Status, error)

// Status implements [StatusChecker].
func (f StatusFunc) Status(ctx context.Context, uri string, index int) (Status, error) {
	return f(ctx, uri, index)
}

// NonceStore consumes one-time values. Consume returns nil the first time it
// sees v and an error wrapping [ErrReplay] afterwards. A verifier that issues
// nonces checks them through it so a captured presentation cannot be
// replayed; the QR time-window mode records each presentation's signature.
type NonceStore interface {
	Consume(ctx context.Context, v string) error
}

// CheckStatus applies a [StatusChecker] to ref and maps the answer to the
// sentinel errors. A nil ref is fine (credential without status); a non-nil
// ref with a nil checker is [ErrStatus].
func CheckStatus(ctx context.Context, c StatusChecker, ref *StatusRef) error {
	if ref == nil {
		return nil
	}
	if c == nil {
		return errorf(ErrStatus, "no status checker configured")
	}
	s, err := c.Status(ctx, ref.URI, ref.Index)
	if err != nil {
		return errorf(ErrStatus, "%v", err)
	}
	switch s {
	case StatusValid:
		return nil
	case StatusInvalid:
		return ErrRevoked
	case StatusSuspended:
		return ErrSuspended
	}
	return errorf(ErrStatus, "status value %d", s)
}

// Verified is what a successful verification returns.
type Verified struct {
	// Format is "dc+sd-jwt" or "mso_mdoc".
	Format string
	// Type is the SD-JWT vct or the mdoc docType.
	Type string
	// Issuer is the SD-JWT iss claim, or the issuer certificate's subject for mdoc.
	Issuer string
	// Claims are the disclosed claims: for SD-JWT the reconstructed JSON
	// object; for mdoc, namespace -> element identifier -> value.
	Claims map[string]any
	// Chain is the issuer's certificate chain, leaf first, as verified.
	Chain []*x509.Certificate
	// HolderKey is the device key the credential is bound to.
	HolderKey *ecdsa.PublicKey
	// Signed, ValidFrom and ValidUntil are the credential's times.
	Signed, ValidFrom, ValidUntil time.Time
	// Status is the credential's status-list entry, if any.
	Status *StatusRef
}

// Clock returns the current time; verifiers take one so tests control time.
type Clock func() time.Time

// Now returns c(), or time.Now() for a nil Clock.
func (c Clock) Now() time.Time {
	if c == nil {
		return time.Now()
	}
	return c()
}

// ConsumeNonce consumes v through s, returning an error wrapping
// [ErrReplay] if it was already used (or the store fails).
func ConsumeNonce(ctx context.Context, s NonceStore, v string) error {
	err := s.Consume(ctx, v)
	if err == nil || errors.Is(err, ErrReplay) {
		return err
	}
	return errorf(ErrReplay, "nonce store: %v", err)
}

// Sentinels lists every sentinel error, for tests and callers that check a
// failure is one of them.
var Sentinels = []error{
	ErrMalformed, ErrTooLarge, ErrUnsupported, ErrSignature, ErrUntrusted, ErrExpired, ErrNotYetValid,
	ErrHolderBinding, ErrNonce, ErrAudience, ErrReplay, ErrStale, ErrDisclosure, ErrRevoked, ErrSuspended, ErrStatus,
}

// IsSentinel reports whether err wraps one of [Sentinels].
func IsSentinel(err error) bool {
	for _, s := range Sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}
