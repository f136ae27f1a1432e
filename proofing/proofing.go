package proofing

import (
	"context"
	"image"
	"time"

	"github.com/shenfen/shenfen/registry"
)

// Sentinel errors. The HTTP layer maps each to one problem type.
var (
	// ErrBadRequest: the request is malformed (device key, parts, counts).
	ErrBadRequest = errorString("proofing: bad request")
	// ErrTooLarge: a part exceeds its bound.
	ErrTooLarge = errorString("proofing: part too large")
	// ErrMedia: an image or the audio cannot be used (format, size, decoding).
	ErrMedia = errorString("proofing: unusable media")
	// ErrNotFound: no such enrollment (or offer, card, secret).
	ErrNotFound = errorString("proofing: not found")
	// ErrConflict: a state change lost a race or a single-use value was used.
	ErrConflict = errorString("proofing: conflict")
	// ErrExpired: the challenge expired.
	ErrExpired = errorString("proofing: challenge expired")
	// ErrUsed: the challenge was already used (decided or being decided).
	ErrUsed = errorString("proofing: challenge already used")
	// ErrSignature: the signed request is missing or does not verify with
	// the bound device key, or does not cover these parts.
	ErrSignature = errorString("proofing: bad signature")
	// ErrRefused: record, status, name or face did not confirm the
	// identity. Deliberately one error for all of them.
	ErrRefused = errorString("proofing: identity not confirmed")
	// ErrSpeech: the spoken digits are not the challenge's.
	ErrSpeech = errorString("proofing: spoken digits do not match")
	// ErrLiveness: the frames do not show the same person speaking.
	ErrLiveness = errorString("proofing: liveness check failed")
	// ErrFaceUnusable is what a FaceChecker wraps when the selfie has no
	// face, several faces, or a face of too low quality (a refusal, not an
	// internal error).
	ErrFaceUnusable = errorString("proofing: no usable face")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// RateLimitError says an attempt was over a rate limit and when to retry.
type RateLimitError struct {
	// Scope is "device", "client" or "id_number".
	Scope      string
	RetryAfter time.Duration
}

func (e *RateLimitError) Error() string {
	return "proofing: too many attempts per " + e.Scope + "; retry after " + e.RetryAfter.Round(time.Second).String()
}

// State is an enrollment session's state.
type State string

// Session states: pending -> deciding -> approved | refused. A deciding
// session whose lease ran out counts as pending again.
const (
	StatePending  State = "pending"
	StateDeciding State = "deciding"
	StateApproved State = "approved"
	StateRefused  State = "refused"
)

// Session is one enrollment attempt: a challenge bound to a device key.
type Session struct {
	ID string
	// DeviceKey is the canonical public JWK; DeviceThumb its RFC 7638
	// thumbprint.
	DeviceKey   []byte
	DeviceThumb string
	// Digits is the challenge: four decimal digits.
	Digits    string
	State     State
	CreatedAt time.Time
	ExpiresAt time.Time
	// LeaseUntil bounds a deciding state; zero otherwise.
	LeaseUntil time.Time
	DecidedAt  time.Time
}

// Reason is the internal reason of a decision (kept for audit, never told
// to the client beyond the outward error).
type Reason string

// Decision reasons, in the order of the checks.
const (
	ReasonApproved Reason = "approved"
	ReasonNoRecord Reason = "record-not-found"
	ReasonStatus   Reason = "record-not-valid"
	// ReasonDocumentExpired: the record is valid but the ID card it
	// describes is past its valid-until date (renew the card first).
	ReasonDocumentExpired Reason = "document-expired"
	ReasonName            Reason = "name-mismatch"
	ReasonNoTemplate      Reason = "no-portrait-template"
	ReasonFaceUnusable    Reason = "selfie-face-unusable"
	ReasonFaceMismatch    Reason = "face-mismatch"
	ReasonSpeech          Reason = "speech-mismatch"
	ReasonLiveness        Reason = "liveness-failed"
)

// Decision is what is kept of a decided enrollment: no evidence, only the
// outcome, the scores, the model versions and the times.
type Decision struct {
	SessionID string
	Approved  bool
	Reason    Reason
	// Subject is the registry blind index of the ID number (base64url),
	// empty when the ID number was not in the registry.
	Subject string
	// FaceDistance is the selfie-to-template distance (-1 when not
	// computed); SpeechConfidence the recogniser's confidence; Liveness the
	// liveness score (-1 when not computed).
	FaceDistance     float64
	SpeechConfidence float64
	Liveness         float64
	// Models names the engine versions used ("face=...; speech=...").
	Models    string
	StartedAt time.Time
	DecidedAt time.Time
}

// CardState is the state of an issued card record.
type CardState string

// Card states: active, then revoking (recorded, status list not yet
// updated), then revoked.
const (
	CardActive   CardState = "active"
	CardRevoking CardState = "revoking"
	CardRevoked  CardState = "revoked"
)

// Card links an approved enrollment to its device key and status entry;
// both formats of the card (SD-JWT VC and mdoc) share it.
type Card struct {
	ID        string
	SessionID string
	// Subject is the registry blind index of the ID number.
	Subject string
	// IDNumber is the ID number sealed with the Sealer (additional data
	// "proofing/card "+ID).
	IDNumber []byte
	// DeviceKey is the canonical public JWK, DeviceThumb its thumbprint.
	DeviceKey   []byte
	DeviceThumb string
	StatusURI   string
	StatusIndex int
	State       CardState
	CreatedAt   time.Time
}

// Secret is a single-use or short-lived value kept by hash only:
// pre-authorized codes, access tokens, nonces.
type Secret struct {
	Kind string
	// Hash is SHA-256 of the value.
	Hash []byte
	// Ref is what the secret points at (a card id).
	Ref       string
	ExpiresAt time.Time
}

// Secret kinds.
const (
	SecretOffer     = "offer"
	SecretToken     = "token"
	SecretNonce     = "c_nonce"
	SecretCollected = "collected"
)

// Finish is everything one decision writes, in one transaction.
type Finish struct {
	Decision Decision
	// Card and Offer are set on approval.
	Card  *Card
	Offer *Secret
}

// Store is proofing's persistence (package store implements it on both
// drivers). Errors: ErrNotFound, ErrConflict.
type Store interface {
	// CreateSession stores a new pending session.
	CreateSession(ctx context.Context, s Session) error
	// Session returns a session.
	Session(ctx context.Context, id string) (Session, error)
	// Claim moves a session that is pending (or deciding with a lease that
	// ended before now) to deciding until leaseUntil and stores the sealed
	// evidence, in one transaction; ErrConflict when it is not claimable.
	Claim(ctx context.Context, id string, now, leaseUntil time.Time, evidence []byte) error
	// Release returns a deciding session to pending and deletes its
	// evidence (the decision could not be made: internal error, bad audio).
	Release(ctx context.Context, id string) error
	// Finish, in one transaction: requires the session deciding, sets it
	// approved or refused, stores the decision, deletes the evidence and on
	// approval stores the card and the offer and marks every other active
	// card of the same subject revoking. ErrConflict when the session is
	// not deciding.
	Finish(ctx context.Context, f Finish) error
	// Decision returns a session's decision.
	Decision(ctx context.Context, sessionID string) (Decision, error)
	// Evidence returns a session's sealed evidence (ErrNotFound once decided).
	Evidence(ctx context.Context, sessionID string) ([]byte, error)
	// Card returns a card record.
	Card(ctx context.Context, id string) (Card, error)
	// CardByStatus returns the card with a status entry.
	CardByStatus(ctx context.Context, uri string, index int) (Card, error)
	// CardsInState lists up to limit cards in a state (revoking: to apply).
	CardsInState(ctx context.Context, st CardState, limit int) ([]Card, error)
	// SetCardState changes a card's state.
	SetCardState(ctx context.Context, id string, st CardState) error
	// PutSecret stores a secret; ErrConflict when its hash exists.
	PutSecret(ctx context.Context, s Secret) error
	// UseSecret marks an unexpired, unused secret used and returns its ref;
	// ErrNotFound when unknown or expired, ErrConflict when already used.
	UseSecret(ctx context.Context, kind string, hash []byte, now time.Time) (string, error)
	// PeekSecret returns the ref of an unexpired, unused secret.
	PeekSecret(ctx context.Context, kind string, hash []byte, now time.Time) (string, error)
	// Sweep deletes evidence of sessions whose challenge expired before
	// now minus grace, expired pending sessions, and expired secrets.
	Sweep(ctx context.Context, now time.Time) (int64, error)
}

// RecordSource is the population registry as the decision needs it
// (*registry.Service).
type RecordSource interface {
	Get(ctx context.Context, id registry.IDNumber) (registry.Record, error)
	Index(id registry.IDNumber) []byte
}

// Probe is the face found in a selfie: its template in the engine's
// serialised form and its quality.
type Probe struct {
	Template []byte
	Quality  float64
}

// LivenessResult is the outcome of the frames check.
type LivenessResult struct {
	// Live is true when the frames show the probe's person and the mouth
	// moves; Score is the engine's score (higher is more alive).
	Live  bool
	Score float64
}

// FaceChecker is the face engine as the decision needs it.
type FaceChecker interface {
	// Probe finds exactly one face of sufficient quality in the selfie;
	// failures of that kind wrap ErrFaceUnusable.
	Probe(ctx context.Context, selfie image.Image) (Probe, error)
	// Match compares a probe with a registry template and returns the
	// distance and whether it is the same person.
	Match(p Probe, template []byte) (distance float64, same bool, err error)
	// Liveness checks that the frames show the probe's person speaking.
	Liveness(ctx context.Context, frames []image.Image, p Probe) (LivenessResult, error)
	// Version names the models.
	Version() string
}

// Spoken is what the recogniser heard.
type Spoken struct {
	Digits     string
	Confidence float64
	// Rejected is true when the recogniser judged the audio not to be
	// spoken digits (or too uncertain).
	Rejected bool
}

// DigitRecognizer is the speech engine as the decision needs it: it decodes
// the WAV recording (failures wrap ErrMedia) and recognises the digits.
type DigitRecognizer interface {
	Recognize(ctx context.Context, wav []byte) (Spoken, error)
	Version() string
}

// StatusRef is a card's status-list entry.
type StatusRef struct {
	URI   string
	Index int
}

// StatusLists allocates status entries for new cards and revokes them
// (package status's Service, through a small adapter).
type StatusLists interface {
	Allocate(ctx context.Context) (StatusRef, error)
	Revoke(ctx context.Context, ref StatusRef) error
}

// Sealer encrypts evidence and ID numbers at rest (package seal).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Submission is what the wallet sends for a challenge.
type Submission struct {
	// Request is the compact JWS signed by the device key.
	Request string
	Selfie  []byte
	Audio   []byte
	Frames  [][]byte
	// Client is the client's address (for rate limiting only).
	Client string
}
