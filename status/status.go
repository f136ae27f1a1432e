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
// Each shard holds [DefaultShardSize] (2^20) entries. By default a list has
// one bit per entry: 0 VALID, 1 INVALID. 100 million cards then need 96
// shards of 128 KiB, 12.58 MB raw in all, inside the 13 MB budget (two bits
// per entry would need 25.2 MB). The authority still records SUSPENDED as a
// distinct state (it can be reinstated, a revocation cannot), but a 1-bit
// list publishes it as INVALID: verifiers refuse both. A deployment that
// wants verifiers to tell the two apart configures 2-bit lists, where
// SUSPENDED is published as 0x02 as the draft defines, at twice the size.
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
)

// Status is a status value of a Token Status List entry.
type Status uint8

// Status values defined by the draft.
const (
	Valid     Status = 0x00
	Invalid   Status = 0x01 // revoked: final
	Suspended Status = 0x02 // may be reinstated to Valid
)

func (s Status) String() string {
	switch s {
	case Valid:
		return "valid"
	case Invalid:
		return "invalid"
	case Suspended:
		return "suspended"
	}
	return fmt.Sprintf("status(0x%02x)", uint8(s))
}

// ParseStatus reads "valid", "invalid" (or "revoked") and "suspended".
func ParseStatus(s string) (Status, error) {
	switch s {
	case "valid":
		return Valid, nil
	case "invalid", "revoked":
		return Invalid, nil
	case "suspended":
		return Suspended, nil
	}
	return 0, fmt.Errorf("status: unknown status %q", s)
}

// Sentinel errors.
var (
	// ErrNotFound: no such list, or the index was never allocated.
	ErrNotFound = errors.New("status: not found")
	// ErrFinal: the entry is revoked; revocation cannot be undone.
	ErrFinal = errors.New("status: revoked entries cannot change")
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
