// Package entry is the vocabulary of one Token Status List entry
// (draft-ietf-oauth-status-list): its status values, the reference to it
// that a credential carries, and the words people see for them. Package
// status (the issuer and checker) owns it; package credential (the
// relying party's library) and the pages use the same types through it.
//
// It imports nothing, so credential can share the types without importing
// package status and its signing machinery.
package entry

import (
	"errors"
	"fmt"
)

// ErrFinal: the entry is revoked; revocation cannot be undone. Package
// status returns it (as status.ErrFinal); package proofing recognises it.
var ErrFinal = errors.New("status: revoked entries cannot change")

// Status is the value of one entry. Two-bit lists carry all three values;
// a one-bit list can only say Valid or Invalid.
type Status uint8

// The status values the draft defines.
const (
	Valid     Status = 0x00
	Invalid   Status = 0x01 // revoked: final
	Suspended Status = 0x02 // may be reinstated to Valid
)

// String is the draft's name: "valid", "invalid", "suspended".
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

// Word is the word shown to people and returned by the verifier APIs:
// "valid", "revoked", "suspended", or "status" for a value shenfen does
// not define.
func (s Status) Word() string {
	switch s {
	case Valid:
		return "valid"
	case Invalid:
		return "revoked"
	case Suspended:
		return "suspended"
	}
	return "status"
}

// Parse reads "valid", "invalid" (or "revoked") and "suspended".
func Parse(s string) (Status, error) {
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

// Ref points at a credential's entry: the status list's URI and the index
// in it (the SD-JWT VC status.status_list object; the mdoc MSO status).
type Ref struct {
	URI   string `json:"uri"`
	Index int    `json:"idx"`
}
