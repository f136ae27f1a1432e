package proofing

import (
	"context"
	"time"
)

// VerifierRequest is one in-person OpenID4VP presentation request made by a
// verifier page: short-lived bookkeeping like an enrollment session, kept
// in the same store. The HTTP protocol lives in package oid4vc.
type VerifierRequest struct {
	ID string
	// TokenHash is SHA-256 of the result token the creating page holds.
	TokenHash []byte
	Nonce     string
	// Query is the request as JSON (claims, format, verifier label).
	Query []byte
	// State is pending, verified, failed, declined (the holder said no)
	// or cancelled (the page that made it gave it up).
	State string
	// Result is the sealed outcome (claims or failure), nil while pending.
	Result    []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Verifier request states.
const (
	VerifierPending  = "pending"
	VerifierVerified = "verified"
	VerifierFailed   = "failed"
	// VerifierDeclined is a request the holder declined in the wallet (an
	// OpenID4VP error response access_denied).
	VerifierDeclined = "declined"
	// VerifierCancelled is a request the page that made it cancelled.
	VerifierCancelled = "cancelled"
)

// VerifierStore keeps verifier requests. Errors: ErrNotFound, ErrConflict.
type VerifierStore interface {
	PutVerifierRequest(ctx context.Context, r VerifierRequest) error
	VerifierRequest(ctx context.Context, id string) (VerifierRequest, error)
	// AnswerVerifierRequest sets the state and sealed result of a pending,
	// unexpired request; ErrConflict when it is not pending or expired.
	AnswerVerifierRequest(ctx context.Context, id, state string, result []byte, now time.Time) error
}
