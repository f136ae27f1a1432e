package proofing

import (
	"context"
	"fmt"
	"image"
	"time"

	"github.com/shenfen/shenfen/biometric/presence"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status/entry"
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
	// ErrRefused: record, status, name, face or genuine presence (the
	// video's face, lip sync, light, replay) did not confirm the identity.
	// Deliberately one error for all of them.
	ErrRefused = errorString("proofing: identity not confirmed")
	// ErrSpeech: the spoken digits are not the challenge's.
	ErrSpeech = errorString("proofing: spoken digits do not match")
	// ErrFaceUnusable is what a FaceChecker wraps when the selfie has no
	// face, several faces, or a face of too low quality (a refusal, not an
	// internal error).
	ErrFaceUnusable = errorString("proofing: no usable face")
)

type errorString string

func (e errorString) Error() string { return string(e) }

// RateLimitError says an attempt was over a rate limit and when to retry.
type RateLimitError struct {
	// Scope is "device", "client", "id_number" or "id_device".
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
	Digits string
	// Language is the language the digits are read in.
	Language Language
	// Light is the light challenge shown while recording.
	Light     presence.Light
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
	// ReasonPortraitCopy: the selfie or a frame is (nearly) the registry
	// portrait itself: a live capture never is.
	ReasonPortraitCopy Reason = "portrait-copy"
	// ReasonFramesFace: the frames do not show one face, the selfie's.
	ReasonFramesFace Reason = "frames-face"
	// ReasonSync: the mouth does not move with the speech.
	ReasonSync Reason = "av-sync"
	// ReasonLight: the face's colour does not follow the light challenge.
	ReasonLight Reason = "light"
	// ReasonReplay: media of an earlier submission reused.
	ReasonReplay Reason = "replay"
)

// Language is a language the challenge digits can be read in.
type Language string

// Languages.
const (
	English  Language = "en"
	Mandarin Language = "zh"
)

// ParseLanguage accepts "en" and "zh"; empty means English.
func ParseLanguage(s string) (Language, error) {
	switch Language(s) {
	case "", English:
		return English, nil
	case Mandarin:
		return Mandarin, nil
	}
	return "", fmt.Errorf("%w: language %q, want \"en\" or \"zh\"", ErrBadRequest, s)
}

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
	// computed); SpeechConfidence the speech engine's score; Liveness the
	// weaker of the lip-sync and light correlations (-1 when not
	// computed). Checks has every figure.
	FaceDistance     float64
	SpeechConfidence float64
	Liveness         float64
	// Models names the engine versions used ("face=...; speech=...").
	Models string
	// Language is the challenge's language.
	Language Language
	// Checks holds every check's scores as JSON (see [Checks]).
	Checks    string
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
	// RememberMedia stores the keyed hashes of one submission's media for
	// the replay window (until expires) and returns those of them already
	// stored for another session, in one transaction.
	RememberMedia(ctx context.Context, sessionID string, hashes [][]byte, expires time.Time) ([][]byte, error)
	// Sweep deletes evidence of sessions whose challenge expired before
	// now minus grace, expired pending sessions, expired secrets and
	// expired media hashes.
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

// Match is the comparison of a selfie with a registry template.
type Match struct {
	// Distance is the descriptor distance; Same is true when it is the
	// same person.
	Distance float64
	Same     bool
	// Copy is true when the distance is so small that the selfie is the
	// registry portrait itself (or a copy of it): two live captures of a
	// face are never that close.
	Copy bool
}

// Video is what the face engine saw in the video frames.
type Video struct {
	// Frames has one entry per frame, in order (At left zero: the caller
	// knows the times).
	Frames []presence.Frame
	// ProbeDistance is the largest descriptor distance between a checked
	// frame's face and the selfie's; Same is true when every checked frame
	// shows the selfie's person.
	ProbeDistance float64
	Same          bool
	// TemplateDistance is the smallest distance between a checked frame's
	// face and the registry template (-1 without a template); TemplateCopy
	// is true when a checked frame is a copy of the portrait (see
	// Match.Copy).
	TemplateDistance float64
	TemplateCopy     bool
	// Checked is the number of frames whose descriptor was computed.
	Checked int
}

// FaceChecker is the face engine as the decision needs it.
type FaceChecker interface {
	// Probe finds exactly one face of sufficient quality in the selfie;
	// failures of that kind wrap ErrFaceUnusable.
	Probe(ctx context.Context, selfie image.Image) (Probe, error)
	// Match compares a probe with a registry template.
	Match(p Probe, template []byte) (Match, error)
	// Video tracks the face through the frames (mouth opening, skin
	// colour per frame) and compares it with the probe and, when template
	// is not nil, the registry template. Frames without a usable face are
	// reported, not errors.
	Video(ctx context.Context, frames []image.Image, p Probe, template []byte) (Video, error)
	// Version names the models.
	Version() string
}

// Spoken is the speech engine's verdict on the recording.
type Spoken struct {
	// Accepted is true when the recording reads the challenge.
	Accepted bool
	// Score is the engine's score (recorded with the decision).
	Score float64
	// Reason is the engine's word for the outcome ("match", "mismatch",
	// "silent", ...).
	Reason string
	// Words are the challenge digits' time spans when accepted (may be
	// empty when the engine gives no times).
	Words []presence.Word
	// Envelope is the recording's energy over time.
	Envelope presence.Envelope
	// Fingerprint identifies the decoded samples (a replay of the same
	// audio in another WAV container has the same one).
	Fingerprint []byte
	// Duration is the recording's length.
	Duration time.Duration
}

// DigitRecognizer is the speech engine as the decision needs it: it decodes
// the WAV recording (failures wrap ErrMedia) and checks that it reads the
// challenge digits in the language.
type DigitRecognizer interface {
	Verify(ctx context.Context, wav []byte, challenge string, lang Language) (Spoken, error)
	Version() string
}

// StatusRef is a card's status-list entry: the one reference type of
// package status/entry, which status and credential share too.
type StatusRef = entry.Ref

// StatusLists allocates status entries for new cards and revokes them
// (package status's Service satisfies it as it is).
type StatusLists interface {
	Allocate(ctx context.Context) (StatusRef, error)
	Revoke(ctx context.Context, ref StatusRef) error
}

// Sealer encrypts evidence and ID numbers at rest and computes keyed
// hashes (package seal).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
	// Index is a keyed hash (HMAC) of data for a purpose.
	Index(purpose string, data []byte) []byte
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
