package proofing

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/status/entry"
)

// Card status words, as the authority's record of a status-list entry
// tells them apart (a 1-bit list publishes suspended as invalid): the
// words of [entry.Status.Word] for Valid, Suspended and Invalid.
const (
	StatusValid     = "valid"
	StatusSuspended = "suspended"
	StatusRevoked   = "revoked"
)

// Who asked for a card status change, as the transparency log records it.
const (
	ByAuthority   = "authority"
	ByCitizenCode = "citizen-revocation-code"
)

// More sentinel errors of the card lifecycle.
var (
	// ErrFinal: the card is revoked (or being revoked); that cannot be undone.
	ErrFinal = errorString("proofing: the card is revoked for good")
	// ErrCodeRefused: the ID number and revocation code do not name an
	// active card with that unused code. One error whether or not the ID
	// number exists.
	ErrCodeRefused = errorString("proofing: ID number and revocation code do not match")
)

// CardStatus reads and changes a card's status-list entries (package
// status's Service satisfies it as it is). Set reports the previous status
// and fails with an error wrapping [entry.ErrFinal] for a revoked entry.
// SetAll changes every entry of refs (the card's own, first, and those of
// its single-use credentials) in one transaction with their audit entries,
// leaving revoked ones of the credentials alone; it reports the previous
// status of refs[0] (failing as Set for it) and how many entries changed.
type CardStatus interface {
	Get(ctx context.Context, ref StatusRef) (entry.Status, error)
	Set(ctx context.Context, ref StatusRef, next entry.Status) (entry.Status, error)
	SetAll(ctx context.Context, refs []StatusRef, next entry.Status) (entry.Status, int, error)
}

// CardEntries keeps the status entries of a card's single-use credentials,
// issued in batches (package store's Proofing implements it): they change
// with the card.
type CardEntries interface {
	// AddCardEntries records entries of the card, valid until expires.
	AddCardEntries(ctx context.Context, cardID string, refs []StatusRef, expires time.Time) error
	// CardEntries lists at most limit entries of the card that expire
	// after after.
	CardEntries(ctx context.Context, cardID string, after time.Time, limit int) ([]StatusRef, error)
}

// MaxCardEntries bounds the unexpired credential entries changed with a
// card (a wallet holds a few dozen; issuance is rate limited per card).
const MaxCardEntries = 100_000

// refs returns the status entries of a card: its own, then those of its
// unexpired single-use credentials.
func (c *Cards) refs(ctx context.Context, card Card) ([]StatusRef, error) {
	refs := []StatusRef{{URI: card.StatusURI, Index: card.StatusIndex}}
	e, ok := c.cfg.Store.(CardEntries)
	if !ok {
		return refs, nil
	}
	more, err := e.CardEntries(ctx, card.ID, c.now(), MaxCardEntries)
	if err != nil {
		return nil, fmt.Errorf("proofing: entries of card: %w", err)
	}
	return append(refs, more...), nil
}

// RevocationCode is a citizen's lost-phone code for one card, kept by hash
// only.
type RevocationCode struct {
	CardID string
	// Subject is the card's subject (the registry blind index).
	Subject string
	// Hash is [RevocationCodeHash] of the subject and the code.
	Hash      []byte
	CreatedAt time.Time
	// UsedAt is zero while the code is unused.
	UsedAt time.Time
}

// CardStore is the storage of the card lifecycle (package store's
// Proofing implements it). Errors: ErrNotFound, ErrConflict.
type CardStore interface {
	// Card returns a card record.
	Card(ctx context.Context, id string) (Card, error)
	// CardByStatus returns the card with a status entry.
	CardByStatus(ctx context.Context, uri string, index int) (Card, error)
	// CardsOfSubject lists a subject's cards, newest first, at most limit.
	CardsOfSubject(ctx context.Context, subject string, limit int) ([]Card, error)
	// SetCardState changes a card's state.
	SetCardState(ctx context.Context, id string, st CardState) error
	// PutRevocationCode stores the code of a card; ErrConflict when the
	// card has an unused code already (a used one is replaced).
	PutRevocationCode(ctx context.Context, c RevocationCode) error
	// RevocationCodes returns the unused codes of the subject's active cards.
	RevocationCodes(ctx context.Context, subject string) ([]RevocationCode, error)
	// UseRevocationCode marks a card's unused code with this hash used;
	// ErrConflict when there is none.
	UseRevocationCode(ctx context.Context, cardID string, hash []byte, now time.Time) error
}

// SubjectIndex gives the registry's blind index of an ID number
// (*registry.Service).
type SubjectIndex interface {
	Index(id registry.IDNumber) []byte
}

// EventLog is the transparency log (*audit.Log).
type EventLog interface {
	Append(ctx context.Context, e audit.Event) (uint64, error)
}

// EventCardAction is the type of the transparency-log event that says who
// asked for a card's status change; the status service's own "status"
// event records the change itself.
const EventCardAction = "card-action"

// CardsConfig is what a Cards needs.
type CardsConfig struct {
	Store   CardStore
	Records SubjectIndex
	Status  CardStatus
	// Log records who changed a card (nil: not recorded).
	Log EventLog
	// Client and IDNumber limit lost-phone attempts per client address and
	// per ID number (nil: DefaultLostLimits' limiters).
	Client, IDNumber RateLimiter
	Slog             *slog.Logger
	Clock            func() time.Time
}

// Cards is the card lifecycle after issuance: the authority's view of a
// citizen's cards and its suspend / revoke / reinstate operations, and the
// citizen's lost-phone path with a revocation code.
//
// The revocation code is shown once, when the wallet collects the card: 20
// characters of Crockford base32 (100 bits from crypto/rand) in groups of
// four. The server keeps SHA-256 of the subject and the code only and
// compares in constant time. With the ID number it suspends every active
// card of the citizen, from any browser, without the lost phone; it is
// spent once it worked. A card gets a new code only when it has no unused
// one, so whoever holds the phone cannot replace the code the citizen
// wrote down.
type Cards struct {
	cfg CardsConfig
}

// The default lost-phone limits: per client address 10 attempts then 1 a
// minute, and per ID number 5 then 1 every 10 minutes.
const (
	LostClientEvery, LostClientBurst     = time.Minute, 10
	LostIDNumberEvery, LostIDNumberBurst = 10 * time.Minute, 5
)

// DefaultLostLimits are the default lost-phone limits in process memory,
// each remembering 100 000 keys.
func DefaultLostLimits() (client, idNumber *Limiter) {
	return NewLimiter(LostClientEvery, LostClientBurst, 100_000), NewLimiter(LostIDNumberEvery, LostIDNumberBurst, 100_000)
}

// NewCards checks cfg and returns the card lifecycle.
func NewCards(cfg CardsConfig) (*Cards, error) {
	if cfg.Store == nil || cfg.Records == nil || cfg.Status == nil {
		return nil, errors.New("proofing: cards need a store, the registry index and the status lists")
	}
	if cfg.Client == nil || cfg.IDNumber == nil {
		c, id := DefaultLostLimits()
		if cfg.Client == nil {
			cfg.Client = c
		}
		if cfg.IDNumber == nil {
			cfg.IDNumber = id
		}
	}
	if cfg.Slog == nil {
		cfg.Slog = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Cards{cfg: cfg}, nil
}

func (c *Cards) now() time.Time { return c.cfg.Clock().UTC() }

// Subject is the subject key of an ID number: base64url of its blind index.
func (c *Cards) Subject(id registry.IDNumber) string {
	return base64.RawURLEncoding.EncodeToString(c.cfg.Records.Index(id))
}

// CardInfo is a card as the authority sees it: the record and the status
// of its status-list entry (StatusValid, StatusSuspended or StatusRevoked).
type CardInfo struct {
	Card
	Status string
}

// MaxCardsListed bounds the cards listed for one citizen.
const MaxCardsListed = 100

// CardsOf lists the cards issued for an ID number, newest first, with the
// status of each.
func (c *Cards) CardsOf(ctx context.Context, id registry.IDNumber) ([]CardInfo, error) {
	cards, err := c.cfg.Store.CardsOfSubject(ctx, c.Subject(id), MaxCardsListed)
	if err != nil {
		return nil, fmt.Errorf("proofing: list cards: %w", err)
	}
	out := make([]CardInfo, 0, len(cards))
	for _, card := range cards {
		st, err := c.cfg.Status.Get(ctx, StatusRef{URI: card.StatusURI, Index: card.StatusIndex})
		if err != nil {
			return nil, fmt.Errorf("proofing: status of card %s: %w", card.ID, err)
		}
		out = append(out, CardInfo{Card: card, Status: st.Word()})
	}
	return out, nil
}

// SetCardStatus suspends (StatusSuspended), revokes (StatusRevoked) or
// reinstates (StatusValid) a card, for the authority (by is ByAuthority),
// and reports the previous status. Revocation is final: a revoked card
// fails with ErrFinal; revoking marks the record revoking first so that a
// crash midway is finished by [Service.ApplyRevocations].
func (c *Cards) SetCardStatus(ctx context.Context, cardID, next, by string) (string, error) {
	want, ok := statusOf[next]
	if !ok {
		return "", fmt.Errorf("%w: status must be valid, suspended or revoked", ErrBadRequest)
	}
	card, err := c.cfg.Store.Card(ctx, cardID)
	if err != nil {
		return "", err
	}
	ref := StatusRef{URI: card.StatusURI, Index: card.StatusIndex}
	refs, err := c.refs(ctx, card)
	if err != nil {
		return "", err
	}
	if next != StatusRevoked && card.State != CardActive {
		return StatusRevoked, ErrFinal
	}
	if next == StatusRevoked && card.State == CardActive {
		if err := c.cfg.Store.SetCardState(ctx, card.ID, CardRevoking); err != nil {
			return "", fmt.Errorf("proofing: mark card revoking: %w", err)
		}
	}
	old, _, err := c.cfg.Status.SetAll(ctx, refs, want)
	if err != nil {
		if errors.Is(err, entry.ErrFinal) {
			err = errors.Join(ErrFinal, err)
		}
		return old.Word(), fmt.Errorf("proofing: set card status: %w", err)
	}
	if next == StatusRevoked && card.State != CardRevoked {
		if err := c.cfg.Store.SetCardState(ctx, card.ID, CardRevoked); err != nil {
			return old.Word(), fmt.Errorf("proofing: mark card revoked: %w", err)
		}
	}
	if old != want {
		c.logAction(ctx, ref, next, by)
	}
	return old.Word(), nil
}

// statusOf reads the card status words.
var statusOf = map[string]entry.Status{StatusValid: entry.Valid, StatusSuspended: entry.Suspended, StatusRevoked: entry.Invalid}

// logAction appends who asked for a change to the transparency log. The
// change itself is logged by the status service; a failure here is
// reported to the operator's log and does not undo the change.
func (c *Cards) logAction(ctx context.Context, ref StatusRef, next, by string) {
	action := map[string]string{StatusValid: "reinstate", StatusSuspended: "suspend", StatusRevoked: "revoke"}[next]
	c.cfg.Slog.InfoContext(ctx, "proofing: card status changed", "action", action, "by", by)
	if c.cfg.Log == nil {
		return
	}
	e := audit.Event{Type: EventCardAction, At: c.now(), Ref: fmt.Sprintf("%s#%d", ref.URI, ref.Index),
		Attrs: map[string]string{"action": action, "by": by}}
	if _, err := c.cfg.Log.Append(context.WithoutCancel(ctx), e); err != nil {
		c.cfg.Slog.ErrorContext(ctx, "proofing: log card action", "err", err)
	}
}

// codeAlphabet is Crockford's base32 (no I, L, O, U).
const codeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// RevocationCodeLen is the number of characters of a revocation code.
const RevocationCodeLen = 20

// newRevocationCode draws 100 random bits as 20 Crockford base32
// characters, in groups of four joined by hyphens.
func newRevocationCode() string {
	var b [RevocationCodeLen]byte
	rand.Read(b[:])
	var sb strings.Builder
	for i, v := range b {
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(codeAlphabet[v&31]) // 256 is a multiple of 32: uniform
	}
	return sb.String()
}

// NormalizeRevocationCode reads a code as a citizen may type it: any case,
// with spaces or hyphens, O for 0 and I or L for 1.
func NormalizeRevocationCode(s string) string {
	var sb strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch r {
		case ' ', '-', '\t':
			continue
		case 'O':
			r = '0'
		case 'I', 'L':
			r = '1'
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

// RevocationCodeHash is what the store keeps of a code: SHA-256 over a
// label, the subject and the normalised code.
func RevocationCodeHash(subject, code string) []byte {
	h := sha256.New()
	h.Write([]byte("shenfen revocation code v1\x00"))
	h.Write([]byte(subject))
	h.Write([]byte{0})
	h.Write([]byte(NormalizeRevocationCode(code)))
	return h.Sum(nil)
}

// IssueRevocationCode makes the revocation code of the active card with
// this status entry and returns it, to be shown once. It fails with
// ErrConflict when the card has an unused code already, ErrNotFound when
// no card has this entry and ErrFinal when the card is revoked.
func (c *Cards) IssueRevocationCode(ctx context.Context, ref StatusRef) (string, error) {
	card, err := c.cfg.Store.CardByStatus(ctx, ref.URI, ref.Index)
	if err != nil {
		return "", err
	}
	if card.State != CardActive {
		return "", ErrFinal
	}
	code := newRevocationCode()
	err = c.cfg.Store.PutRevocationCode(ctx, RevocationCode{CardID: card.ID, Subject: card.Subject,
		Hash: RevocationCodeHash(card.Subject, code), CreatedAt: c.now()})
	if err != nil {
		return "", err
	}
	return code, nil
}

// SuspendLost is the lost-phone path: with the ID number and a revocation
// code of one of the citizen's active cards it suspends every active card
// of the citizen and returns how many changed. Attempts are rate limited
// per client address and per ID number (a *RateLimitError); an ID number
// that is not well formed is ErrBadRequest; anything else that does not
// match is ErrCodeRefused, whether or not the ID number exists. The code
// is spent after the suspensions, so a crash midway leaves it usable.
func (c *Cards) SuspendLost(ctx context.Context, idNumber, code, client string) (int, error) {
	now := c.now()
	if ok, after, err := take(ctx, c.cfg.Client, "lost-client\x00"+client, now); err != nil {
		return 0, fmt.Errorf("proofing: rate limit: %w", err)
	} else if !ok {
		return 0, &RateLimitError{Scope: "client", RetryAfter: after}
	}
	raw := strings.ToUpper(strings.TrimSpace(idNumber))
	if ok, after, err := take(ctx, c.cfg.IDNumber, "lost-id_number\x00"+Digest([]byte(raw)), now); err != nil {
		return 0, fmt.Errorf("proofing: rate limit: %w", err)
	} else if !ok {
		return 0, &RateLimitError{Scope: "id_number", RetryAfter: after}
	}
	id, err := registry.ParseIDNumber(raw, now)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	subject := c.Subject(id)
	codes, err := c.cfg.Store.RevocationCodes(ctx, subject)
	if err != nil {
		return 0, fmt.Errorf("proofing: revocation codes: %w", err)
	}
	got := RevocationCodeHash(subject, code)
	// Compare with every code (and with a dummy when there is none) so the
	// time taken does not depend on whether the ID number has cards.
	var match *RevocationCode
	dummy := RevocationCodeHash(subject, "")
	if len(codes) == 0 {
		subtle.ConstantTimeCompare(got, dummy)
	}
	for i := range codes {
		if subtle.ConstantTimeCompare(got, codes[i].Hash) == 1 && match == nil {
			match = &codes[i]
		}
	}
	if match == nil || len(NormalizeRevocationCode(code)) != RevocationCodeLen {
		c.cfg.Slog.InfoContext(ctx, "proofing: lost-phone suspension refused")
		return 0, ErrCodeRefused
	}
	cards, err := c.cfg.Store.CardsOfSubject(ctx, subject, MaxCardsListed)
	if err != nil {
		return 0, fmt.Errorf("proofing: list cards: %w", err)
	}
	n := 0
	for _, card := range cards {
		if card.State != CardActive {
			continue
		}
		ref := StatusRef{URI: card.StatusURI, Index: card.StatusIndex}
		refs, err := c.refs(ctx, card)
		if err != nil {
			return n, err
		}
		old, _, err := c.cfg.Status.SetAll(ctx, refs, entry.Suspended)
		if errors.Is(err, entry.ErrFinal) {
			continue // revoked in the list already
		}
		if err != nil {
			return n, fmt.Errorf("proofing: suspend card: %w", err)
		}
		if old != entry.Suspended {
			n++
			c.logAction(ctx, ref, StatusSuspended, ByCitizenCode)
		}
	}
	if err := c.cfg.Store.UseRevocationCode(ctx, match.CardID, match.Hash, now); err != nil && !errors.Is(err, ErrConflict) {
		return n, fmt.Errorf("proofing: spend revocation code: %w", err)
	}
	return n, nil
}
