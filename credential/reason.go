package credential

import (
	"errors"

	"github.com/shenfen/shenfen/status/entry"
)

// reasons maps each sentinel to the word verifiers show (docs/api.md §3.4;
// the pages' i18n keys are "reason.<word>"). The status words are the
// entry package's.
var reasons = []struct {
	err  error
	word string
}{
	{ErrRevoked, entry.Invalid.Word()}, {ErrSuspended, entry.Suspended.Word()}, {ErrStatus, "status"},
	{ErrExpired, "expired"}, {ErrNotYetValid, "expired"},
	{ErrUntrusted, "untrusted"}, {ErrSignature, "signature"},
	// A disclosure that matches no signed digest is tampering.
	{ErrDisclosure, "signature"},
	{ErrHolderBinding, "holder-binding"},
	// Another request's nonce or audience, or a key-binding time outside
	// the window: an answer to another request.
	{ErrNonce, "nonce"}, {ErrAudience, "nonce"}, {ErrStale, "nonce"},
	{ErrReplay, "replay"},
}

// Reason is the one word for a verification failure that the verifier
// API and pages use: "revoked", "suspended", "status", "expired",
// "untrusted", "signature", "holder-binding", "nonce", "replay", or
// "malformed" for anything else.
func Reason(err error) string {
	for _, r := range reasons {
		if errors.Is(err, r.err) {
			return r.word
		}
	}
	return "malformed"
}
