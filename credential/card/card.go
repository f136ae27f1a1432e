// Package card issues a citizen's whole card in one call: the SD-JWT VC,
// the ISO 18013-5 mdoc and the compact mdoc behind the offline QR, all
// bound to the same device key, carrying the same status-list entry and
// validity. It is what the issuance endpoint (OpenID4VCI) calls once per
// approved enrollment.
package card

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	"github.com/shenfen/shenfen/credential/sdjwt"
)

// Issuer holds what issuance needs besides the holder's data.
type Issuer struct {
	// URL is the issuer identifier (SD-JWT iss; a URI subjectAltName of
	// the signer's certificate).
	URL string
	// Signer signs (ES256, e.g. an HSM key); Chain is its certificate
	// chain, leaf first.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Profile chooses the attributes (default credential.ProfileCN).
	Profile credential.Profile
	// Validity is how long a card is valid (default one year, and never
	// beyond the signer certificate or the document's own expiry).
	Validity time.Duration
}

// Card is one issuance in its three encodings.
type Card struct {
	// SDJWT is the SD-JWT VC in issuance form (JWT~disclosures~).
	SDJWT string
	// Mdoc is the encoded IssuerSigned of the full card.
	Mdoc []byte
	// Compact is the encoded IssuerSigned of the compact card the wallet
	// presents as a QR code (package qr).
	Compact []byte
	// IssuedAt and ExpiresAt bound the card's validity.
	IssuedAt, ExpiresAt time.Time
}

// Issue issues the card for pid, bound to holder, with status as its
// status-list entry, valid from now. The portrait thumbnail is made from
// the portrait when pid has none.
func (iss *Issuer) Issue(ctx context.Context, pid credential.PID, holder *ecdsa.PublicKey, status *credential.StatusRef, now time.Time) (*Card, error) {
	if iss.Signer == nil || len(iss.Chain) == 0 {
		return nil, errors.New("card: issuer without signer or chain")
	}
	pid, err := credential.NewPID(pid)
	if err != nil {
		return nil, err
	}
	if len(pid.Thumbnail) == 0 {
		if len(pid.Portrait) == 0 {
			return nil, errors.New("card: no portrait")
		}
		if pid.Thumbnail, err = credential.Thumbnail(pid.Portrait); err != nil {
			return nil, err
		}
	}
	profile := iss.Profile
	if profile.DocType == "" {
		profile = credential.ProfileCN
	}
	validity := iss.Validity
	if validity <= 0 {
		validity = 365 * 24 * time.Hour
	}
	now = now.UTC().Truncate(time.Second)
	until := now.Add(validity)
	if na := iss.Chain[0].NotAfter; na.Before(until) {
		until = na
	}
	if t, ok := pid.ExpiresOn.Time(); ok && t.Before(until) {
		until = t
	}
	if !until.After(now) {
		return nil, fmt.Errorf("card: nothing to issue: validity ends %s", until.Format(time.RFC3339))
	}
	c := &Card{IssuedAt: now, ExpiresAt: until}
	if c.SDJWT, err = sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: iss.URL, Profile: profile, PID: pid, Holder: holder,
		Status: status, IssuedAt: now, ExpiresAt: until, Signer: iss.Signer, Chain: iss.Chain}); err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	mp := mdoc.IssueParams{Profile: profile, PID: pid, Holder: holder, Status: status,
		IssuedAt: now, ExpiresAt: until, Signer: iss.Signer, Chain: iss.Chain}
	if c.Mdoc, err = mdoc.Issue(ctx, mp); err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	if c.Compact, err = qr.Issue(ctx, mp); err != nil {
		return nil, fmt.Errorf("card: %w", err)
	}
	return c, nil
}
