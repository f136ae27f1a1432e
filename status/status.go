// Package status implements IETF Token Status Lists
// (draft-ietf-oauth-status-list) for shenfen's cards: the issuer side
// allocates each card an unlinkable index in a sharded list, records
// suspensions, revocations and reinstatements, and produces signed,
// compressed status list tokens (JWT, typ statuslist+jwt); the verifier side
// ([Checker]) fetches, verifies and caches those tokens and answers the
// status of one index, offline from its cache when the network is gone.
//
// # Sizing
//
// Each shard holds [DefaultShardSize] (2^20) entries with [DefaultBits]
// (two) bits per entry: 0x00 VALID, 0x01 INVALID (revoked, final), 0x02
// SUSPENDED (may be reinstated), as the draft defines, so verifiers tell
// a suspended card from a revoked one. 100 million cards need 96 shards of
// 256 KiB, 25.17 MB raw; what verifiers download is the ZLIB-compressed
// list, about 1.43 MB for all 96 shards with 1% of the cards revoked
// (1.39 MB in one-bit lists; BenchmarkSize100M, docs/trust.md). A
// deployment may still configure one-bit shards (Service.Bits = 1), which
// publish SUSPENDED as INVALID; a shard keeps the bits it was made with.
//
// # Unlinkability
//
// Indexes are handed out in a pseudo-random order within a shard: the n-th
// allocation of a shard gets index P(n), where P is a keyed permutation of
// [0, size) (a Feistel network over HMAC-SHA256 with cycle walking, keyed
// per shard). Consecutive issuances therefore get unrelated indexes (the
// draft's privacy considerations), an index is never handed out twice, and
// the store only needs one counter per shard; the inverse permutation tells
// whether an index was ever allocated.
//
// The package imports no HTTP and no SQL: the store implements [Store], the
// HTTP handler and fetcher live in package trustapi.
package status

import (
	"errors"
	"fmt"

	"github.com/shenfen/shenfen/status/entry"
)

// Status is a status value of a Token Status List entry (the one type of
// package entry, shared with credential).
type Status = entry.Status

// Status values defined by the draft.
const (
	Valid     = entry.Valid
	Invalid   = entry.Invalid // revoked: final
	Suspended = entry.Suspended
)

// ParseStatus reads "valid", "invalid" (or "revoked") and "suspended".
func ParseStatus(s string) (Status, error) { return entry.Parse(s) }

// Sentinel errors.
var (
	// ErrNotFound: no such list, or the index was never allocated.
	ErrNotFound = errors.New("status: not found")
	// ErrFinal: the entry is revoked; revocation cannot be undone.
	ErrFinal = entry.ErrFinal
	// ErrTransition: the requested change is not allowed from the current
	// status (for example reinstating a valid entry is a no-op, not an error,
	// but setting an unknown status value is this).
	ErrTransition = errors.New("status: transition not allowed")
	// ErrMalformed: a status list token or list that cannot be parsed.
	ErrMalformed = errors.New("status: malformed status list")
	// ErrTooLarge: a token or list over the verifier's limits.
	ErrTooLarge = errors.New("status: status list too large")
	// ErrSignature: the token's signature does not verify.
	ErrSignature = errors.New("status: bad status list signature")
	// ErrUntrusted: the token's signer does not lead to a trust anchor.
	ErrUntrusted = errors.New("status: status list signer not trusted")
	// ErrExpired: the token's exp has passed (and no fresher one is at hand).
	ErrExpired = errors.New("status: status list token expired")
	// ErrMismatch: the token's sub is not the URI it was fetched from.
	ErrMismatch = errors.New("status: status list token for another URI")
	// ErrIndex: the index is outside the list.
	ErrIndex = errors.New("status: index out of range")
)

// Transition checks that an entry may go from old to next. Changing to
// the same status is allowed (idempotent). Invalid is final; Suspended
// may become Valid (reinstate) or Invalid; Valid may become either.
func Transition(old, next Status) error {
	if next != Valid && next != Invalid && next != Suspended {
		return fmt.Errorf("%w: unknown status %v", ErrTransition, next)
	}
	if old == next {
		return nil
	}
	if old == Invalid {
		return ErrFinal
	}
	return nil
}
