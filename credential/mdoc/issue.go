package mdoc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/shenfen/shenfen/credential"
)

// IssueParams is what [Issue] needs.
type IssueParams struct {
	Profile credential.Profile
	PID     credential.PID
	// Holder is the device key (P-256) put in DeviceKeyInfo.
	Holder *ecdsa.PublicKey
	// Status is the card's status-list entry (nil: none).
	Status *credential.StatusRef
	// IssuedAt is validityInfo.signed and validFrom; ExpiresAt validUntil.
	IssuedAt, ExpiresAt time.Time
	// Signer signs the MSO (ES256); Chain (leaf first) goes in x5chain.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Rand is the source of item randoms and digest IDs (nil: crypto/rand).
	Rand io.Reader
}

// Issue returns the card as an encoded IssuerSigned structure (the form
// OpenID4VCI returns for the mso_mdoc format). It is a batch of one
// ([NewBatch]).
func Issue(ctx context.Context, p IssueParams) ([]byte, error) {
	if p.Signer == nil || len(p.Chain) == 0 || p.Holder == nil {
		return nil, errors.New("mdoc: issue: signer, chain and holder key are required")
	}
	b, err := NewBatch(p)
	if err != nil {
		return nil, err
	}
	return b.Issue(ctx, p.Holder, p.Status)
}

// x5chain is the COSE x5chain header value: one bstr for a single
// certificate, else an array of them.
func x5chain(chain []*x509.Certificate) any {
	if len(chain) == 1 {
		return chain[0].Raw
	}
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = c.Raw
	}
	return out
}

func coseKeyOf(pub *ecdsa.PublicKey) (coseKey, error) {
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		return coseKey{}, fmt.Errorf("holder key is not P-256")
	}
	return coseKey{Kty: 2, Crv: 1, X: b[1:33], Y: b[33:]}, nil
}
