package oidc

import (
	"context"
	"fmt"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
)

// CardVerifier verifies wallet presentations (SD-JWT VC with key binding)
// with the credential library: issuer chain to the trust anchors, holder
// binding over nonce and audience, validity and status. The card's
// assurance level is not its business: the provider derives it from the
// enrollment records of the card's status entry (assurance.go).
type CardVerifier struct {
	// SDJWT is the configured credential verifier (anchors, status checker).
	SDJWT *sdjwt.Verifier
}

// VerifyPresentation implements PresentationVerifier.
func (v CardVerifier) VerifyPresentation(ctx context.Context, presentation, nonce, audience string) (Presentation, error) {
	got, err := v.SDJWT.Verify(ctx, presentation, sdjwt.Expect{Nonce: nonce, Audience: audience})
	if err != nil {
		return Presentation{}, fmt.Errorf("oidc: card presentation: %w", err)
	}
	if got.HolderKey == nil {
		return Presentation{}, fmt.Errorf("oidc: card presentation: %w", credential.ErrHolderBinding)
	}
	key, _ := got.Claims["id_number"].(string)
	if key == "" {
		key, _ = got.Claims["personal_administrative_number"].(string)
	}
	return Presentation{Claims: got.Claims, CitizenKey: key, Issuer: got.Issuer, Status: got.Status, AMR: []string{"hwk", "pop"}}, nil
}
