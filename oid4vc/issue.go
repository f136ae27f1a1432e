package oid4vc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode"

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

// Issuer makes cards from registry records: the [CardIssuer] the
// credential endpoint uses.
type Issuer struct {
	// ID is the iss of SD-JWT VCs (the public URL).
	ID       string
	Profile  credential.Profile
	Records  Records
	Proofing *proofing.Service
	Signers  Signers
	// Log records every issuance (nil: not recorded).
	Log EventLog
	// Validity is how long a card is valid (default one year, capped at
	// the registry document's expiry).
	Validity time.Duration
	Clock    func() time.Time
}

// Issue implements [CardIssuer].
func (i *Issuer) Issue(ctx context.Context, configID string, card proofing.Card, holder *ecdsa.PublicKey) (string, error) {
	id, err := i.Proofing.CardIDNumber(card)
	if err != nil {
		return "", err
	}
	rec, err := i.Records.Get(ctx, id)
	if err != nil {
		return "", fmt.Errorf("oid4vc: issue: registry: %w", err)
	}
	if rec.Status != registry.StatusValid {
		return "", fmt.Errorf("oid4vc: issue: record is %s", rec.Status)
	}
	pid, err := PIDOf(rec)
	if err != nil {
		return "", err
	}
	signer, chain, err := i.Signers.Chain(ctx)
	if err != nil {
		return "", fmt.Errorf("oid4vc: issue: signer: %w", err)
	}
	now := time.Now().UTC()
	if i.Clock != nil {
		now = i.Clock().UTC()
	}
	// The three configurations are one card: they are issued as of the
	// card's approval, so they carry the same validity (and the same device
	// key and status-list entry) whichever is collected first.
	at := issuedAt(card, now)
	validity := i.Validity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	exp := at.Add(validity)
	// The card never outlives the ID card it stands for, which is good
	// through its valid-until date (a card whose ID card has expired since
	// approval is not issued).
	if end := rec.ValidUntil.AddDate(0, 0, 1); !rec.ValidUntil.IsZero() && end.Before(exp) {
		exp = end
	}
	if !exp.After(now) {
		return "", fmt.Errorf("oid4vc: issue: the card's validity ended %s", exp.Format(time.RFC3339))
	}
	ref := &credential.StatusRef{URI: card.StatusURI, Index: card.StatusIndex}
	var out, format string
	var signed []byte
	switch configID {
	case ConfigSDJWT:
		format = "dc+sd-jwt"
		out, err = sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: i.ID, Profile: i.Profile, PID: pid, Holder: holder, Status: ref,
			IssuedAt: at, ExpiresAt: exp, Signer: signer, Chain: chain})
		if err == nil {
			signed = []byte(strings.SplitN(out, "~", 2)[0])
		}
	case ConfigMdoc, ConfigQR:
		format = "mso_mdoc"
		p := mdoc.IssueParams{Profile: i.Profile, PID: pid, Holder: holder, Status: ref,
			IssuedAt: at, ExpiresAt: exp, Signer: signer, Chain: chain}
		var b []byte
		if configID == ConfigQR {
			b, err = qr.Issue(ctx, p) // the compact profile; needs the thumbnail PIDOf made
		} else {
			b, err = mdoc.Issue(ctx, p)
		}
		out, signed = base64.RawURLEncoding.EncodeToString(b), b
	default:
		return "", fmt.Errorf("oid4vc: issue: unknown configuration %q", configID)
	}
	if err != nil {
		return "", fmt.Errorf("oid4vc: issue %s: %w", format, err)
	}
	if i.Log != nil {
		if _, err := i.Log.Append(ctx, audit.Issuance(now, card.StatusURI, card.StatusIndex, format, signed)); err != nil {
			return "", fmt.Errorf("oid4vc: log issuance: %w", err)
		}
	}
	return out, nil
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
