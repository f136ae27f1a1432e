package oid4vc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
)

// Records is the registry as issuance needs it.
type Records interface {
	Get(ctx context.Context, id registry.IDNumber) (registry.Record, error)
}

// Signers gives the current document signer and its chain (keys.Ring).
type Signers interface {
	Chain(ctx context.Context) (crypto.Signer, []*x509.Certificate, error)
}

// EventLog is the transparency log issuance is recorded in.
type EventLog interface {
	Append(ctx context.Context, e audit.Event) (uint64, error)
}

// BatchStatus hands out the status entries of a batch of single-use
// credentials, spread across lists (*status.Service).
type BatchStatus interface {
	AllocateBatch(ctx context.Context, n int) ([]credential.StatusRef, error)
}

// Issuer makes cards from registry records: the [CardIssuer] the
// credential endpoint uses.
//
// A credential bound to the card's enrolled device key is the card's own:
// it carries the card's status entry and is issued as of the card's
// approval (the shape a wallet collecting one credential gets). Every
// other key (attested by the device key, CheckProofs) gets a single-use
// credential: its own status entry from Status (recorded with the card so
// that they change together), validity from the start of the UTC day of
// issuance for BatchValidity, so that nothing but the disclosed claims
// repeats between two credentials of a batch or of two batches.
type Issuer struct {
	// ID is the iss of SD-JWT VCs (the public URL).
	ID       string
	Profile  credential.Profile
	Records  Records
	Proofing *proofing.Service
	Signers  Signers
	// Status allocates the entries of single-use credentials (nil: only
	// the device key's credential is issued).
	Status BatchStatus
	// Log records every issuance (nil: not recorded).
	Log EventLog
	// Validity is how long a card is valid (default one year, capped at
	// the registry document's expiry).
	Validity time.Duration
	// BatchValidity is how long a single-use credential is valid (default
	// DefaultBatchValidity, capped at the registry document's expiry).
	BatchValidity time.Duration
	Clock         func() time.Time
}

// MaxLiveCredentials bounds a card's unexpired single-use credentials, all
// formats together: 10 batches of each of the three formats.
const MaxLiveCredentials = 30 * BatchSize

// ErrTooManyCredentials: the card holds MaxLiveCredentials unexpired
// single-use credentials already.
var ErrTooManyCredentials = errors.New("oid4vc: the card has too many unexpired single-use credentials")

// DefaultBatchValidity is the validity of a single-use credential: the
// wallet refills long before; a short life keeps the entries a card's
// revocation must change few.
const DefaultBatchValidity = 30 * 24 * time.Hour

// Issue implements [CardIssuer].
func (i *Issuer) Issue(ctx context.Context, configID string, card proofing.Card, holders []*ecdsa.PublicKey) ([]string, error) {
	if configID != ConfigSDJWT && configID != ConfigMdoc && configID != ConfigQR {
		return nil, fmt.Errorf("oid4vc: issue: unknown configuration %q", configID)
	}
	id, err := i.Proofing.CardIDNumber(card)
	if err != nil {
		return nil, err
	}
	rec, err := i.Records.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("oid4vc: issue: registry: %w", err)
	}
	if rec.Status != registry.StatusValid {
		return nil, fmt.Errorf("oid4vc: issue: record is %s", rec.Status)
	}
	pid, err := PIDOf(rec)
	if err != nil {
		return nil, err
	}
	signer, chain, err := i.Signers.Chain(ctx)
	if err != nil {
		return nil, fmt.Errorf("oid4vc: issue: signer: %w", err)
	}
	now := time.Now().UTC()
	if i.Clock != nil {
		now = i.Clock().UTC()
	}
	// The card never outlives the ID card it stands for, which is good
	// through its valid-until date (a card whose ID card has expired since
	// approval is not issued).
	docEnd := time.Time{}
	if !rec.ValidUntil.IsZero() {
		docEnd = rec.ValidUntil.AddDate(0, 0, 1)
	}
	window := func(at time.Time, validity time.Duration) (time.Time, error) {
		exp := at.Add(validity)
		if !docEnd.IsZero() && docEnd.Before(exp) {
			exp = docEnd
		}
		if !exp.After(now) {
			return exp, fmt.Errorf("oid4vc: issue: the card's validity ended %s", exp.Format(time.RFC3339))
		}
		return exp, nil
	}
	var own, fresh []int // indexes of holders: the device key, the others
	for k, h := range holders {
		tp, err := (&jose.JSONWebKey{Key: h}).Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("oid4vc: issue: holder key: %w", err)
		}
		if base64.RawURLEncoding.EncodeToString(tp) == card.DeviceThumb {
			own = append(own, k)
		} else {
			fresh = append(fresh, k)
		}
	}
	params := make([]issueParams, len(holders))
	if len(own) > 0 {
		// The three configurations of the card's own credential are one
		// card: issued as of the card's approval, so they carry the same
		// validity (and device key and status entry) whichever is
		// collected first.
		at := issuedAt(card, now)
		validity := i.Validity
		if validity <= 0 {
			validity = 365 * 24 * time.Hour
		}
		exp, err := window(at, validity)
		if err != nil {
			return nil, err
		}
		for _, k := range own {
			params[k] = issueParams{at: at, exp: exp, status: &credential.StatusRef{URI: card.StatusURI, Index: card.StatusIndex}}
		}
	}
	if len(fresh) > 0 {
		entries, ok := i.Proofing.Store().(proofing.CardEntries)
		if i.Status == nil || !ok {
			return nil, errors.New("oid4vc: issue: single-use credentials need status allocation and a card entry store")
		}
		at := now.Truncate(24 * time.Hour)
		validity := i.BatchValidity
		if validity <= 0 {
			validity = DefaultBatchValidity
		}
		exp, err := window(at, validity)
		if err != nil {
			return nil, err
		}
		// A wallet needs a few batches' worth at most; more would only make
		// the card's revocation (one transaction over every unexpired
		// entry) long.
		live, err := entries.CardEntries(ctx, card.ID, now, MaxLiveCredentials)
		if err != nil {
			return nil, fmt.Errorf("oid4vc: issue: entries of card: %w", err)
		}
		if len(live)+len(fresh) > MaxLiveCredentials {
			return nil, ErrTooManyCredentials
		}
		refs, err := i.Status.AllocateBatch(ctx, len(fresh))
		if err != nil {
			return nil, fmt.Errorf("oid4vc: issue: %w", err)
		}
		// Recorded before anything is signed: no credential exists whose
		// entry the card's revocation would miss.
		if err := entries.AddCardEntries(ctx, card.ID, refs, exp); err != nil {
			return nil, fmt.Errorf("oid4vc: issue: record entries: %w", err)
		}
		for n, k := range fresh {
			params[k] = issueParams{at: at, exp: exp, status: &refs[n]}
		}
	}
	format := "dc+sd-jwt"
	if configID != ConfigSDJWT {
		format = "mso_mdoc"
	}
	// One prepared batch per validity window: the claim values, portrait
	// included, are encoded once for all the credentials of the request.
	type prepared struct {
		sd *sdjwt.Batch
		md *mdoc.Batch
	}
	batches := map[[2]int64]*prepared{}
	out := make([]string, len(holders))
	signed := make([][]byte, len(holders))
	for k, h := range holders {
		p := params[k]
		key := [2]int64{p.at.Unix(), p.exp.Unix()}
		b := batches[key]
		if b == nil {
			b = &prepared{}
			switch configID {
			case ConfigSDJWT:
				b.sd, err = sdjwt.NewBatch(sdjwt.IssueParams{Issuer: i.ID, Profile: i.Profile, PID: pid,
					IssuedAt: p.at, ExpiresAt: p.exp, Signer: signer, Chain: chain})
			case ConfigMdoc:
				b.md, err = mdoc.NewBatch(mdoc.IssueParams{Profile: i.Profile, PID: pid, IssuedAt: p.at, ExpiresAt: p.exp, Signer: signer, Chain: chain})
			case ConfigQR:
				// The compact profile; needs the thumbnail PIDOf made.
				b.md, err = qr.NewBatch(mdoc.IssueParams{PID: pid, IssuedAt: p.at, ExpiresAt: p.exp, Signer: signer, Chain: chain})
			}
			if err != nil {
				return nil, fmt.Errorf("oid4vc: issue %s: %w", format, err)
			}
			batches[key] = b
		}
		if b.sd != nil {
			out[k], err = b.sd.Issue(ctx, h, p.status)
			if err == nil {
				signed[k] = []byte(out[k][:strings.IndexByte(out[k], '~')])
			}
		} else {
			var c []byte
			c, err = b.md.Issue(ctx, h, p.status)
			out[k], signed[k] = base64.RawURLEncoding.EncodeToString(c), c
		}
		if err != nil {
			return nil, fmt.Errorf("oid4vc: issue %s: %w", format, err)
		}
	}
	if i.Log != nil {
		if err := i.logIssuance(ctx, now, card, format, own, fresh, signed); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type issueParams struct {
	at, exp time.Time
	status  *credential.StatusRef
}

// EventBatchIssuance is the type of the transparency-log event of a batch
// of single-use credentials.
const EventBatchIssuance = audit.EventBatchIssuance

// logIssuance appends the issuance to the transparency log: the card's
// own credential as before (its status entry and digest), and a batch of
// single-use credentials as ONE event under the card's own entry whose
// digest is SHA-256 over the SHA-256 digests of the batch's issuer-signed
// parts, in order. The wallet, which holds the whole batch, finds it; a
// verifier holding one credential cannot, so the log does not show which
// credentials were issued together.
func (i *Issuer) logIssuance(ctx context.Context, now time.Time, card proofing.Card, format string, own, fresh []int, signed [][]byte) error {
	for _, k := range own {
		if _, err := i.Log.Append(ctx, audit.Issuance(now, card.StatusURI, card.StatusIndex, format, signed[k])); err != nil {
			return fmt.Errorf("oid4vc: log issuance: %w", err)
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	h := sha256.New()
	for _, k := range fresh {
		d := sha256.Sum256(signed[k])
		h.Write(d[:])
	}
	e := audit.Event{Type: EventBatchIssuance, At: now, Ref: fmt.Sprintf("%s#%d", card.StatusURI, card.StatusIndex),
		Digest: base64.RawURLEncoding.EncodeToString(h.Sum(nil)),
		Attrs:  map[string]string{"format": format, "count": strconv.Itoa(len(fresh))}}
	if _, err := i.Log.Append(ctx, e); err != nil {
		return fmt.Errorf("oid4vc: log batch issuance: %w", err)
	}
	return nil
}

// issuedAt is the issuance instant of a card's credentials: its approval
// (CreatedAt, to the second), or now for a card without one or one dated
// in the future.
func issuedAt(card proofing.Card, now time.Time) time.Time {
	at := card.CreatedAt.UTC().Truncate(time.Second)
	if at.IsZero() || at.After(now) {
		return now.Truncate(time.Second)
	}
	return at
}

// PIDOf builds the card data of a registry record. Han names are split
// into family name (the first character, or the first two for the common
// two-character surnames) and given name; other names at the first space.
func PIDOf(rec registry.Record) (credential.PID, error) {
	family, given := SplitName(rec.Name)
	p := credential.PID{
		FamilyName: family, GivenName: given, NameOriginal: rec.Name,
		BirthDate: credential.DateOf(rec.BirthDate), Ethnicity: rec.Ethnicity, Address: rec.Address,
		IDNumber: string(rec.IDNumber), Authority: rec.Authority, Country: "CN",
		IssuedOn: credential.DateOf(rec.ValidFrom),
	}
	switch rec.Sex {
	case registry.Male:
		p.Sex = credential.SexMale
	case registry.Female:
		p.Sex = credential.SexFemale
	}
	if !rec.ValidUntil.IsZero() {
		p.ExpiresOn = credential.DateOf(rec.ValidUntil)
	}
	if len(rec.Portrait) > 0 {
		jpg, err := credential.CardPortrait(rec.Portrait)
		if err != nil {
			return credential.PID{}, fmt.Errorf("oid4vc: portrait: %w", err)
		}
		p.Portrait = jpg
		if p.Thumbnail, err = credential.Thumbnail(jpg); err != nil {
			return credential.PID{}, fmt.Errorf("oid4vc: thumbnail: %w", err)
		}
	}
	return credential.NewPID(p)
}

// compoundSurnames are the two-character Han surnames common enough to
// matter when splitting a name.
var compoundSurnames = map[string]bool{
	"欧阳": true, "司马": true, "上官": true, "诸葛": true, "东方": true, "皇甫": true, "尉迟": true, "公孙": true,
	"慕容": true, "长孙": true, "宇文": true, "司徒": true, "夏侯": true, "令狐": true, "端木": true, "西门": true,
}

// SplitName splits a registry name into family and given name.
func SplitName(name string) (family, given string) {
	name = strings.TrimSpace(name)
	if i := strings.IndexFunc(name, unicode.IsSpace); i > 0 {
		return name[:i], strings.TrimSpace(name[i:])
	}
	rs := []rune(name)
	if len(rs) >= 2 && unicode.Is(unicode.Han, rs[0]) {
		if len(rs) >= 3 && compoundSurnames[string(rs[:2])] {
			return string(rs[:2]), string(rs[2:])
		}
		if strings.ContainsAny(name, "·・") { // transcribed names: keep whole
			return "", name
		}
		return string(rs[:1]), string(rs[1:])
	}
	return "", name
}
