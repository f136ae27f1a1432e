package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// The acr of a login is the assurance of the card presented, and it comes
// from what the authority recorded when it issued that card, not from
// configuration: the verified presentation names the card's status-list
// entry (issuer-signed), and the enrollment records say which proofing
// checks the enrollment behind that entry passed.
//
//   - ACRHigh: the enrollment matched the selfie to the registry portrait,
//     checked liveness on the video frames and heard the challenge digits
//     (the remote proofing of shenfen's enrollment).
//   - ACRSubstantial: any other card the verifier accepted: a trusted
//     issuer's signature, holder binding (device key) and a valid status,
//     but no face + liveness proofing on record here (a card issued outside
//     shenfen's enrollment, or an enrollment without liveness).
//
// A card whose record is being revoked (recorded, status list not yet
// updated) is refused.
//
// The claims parameter (OpenID Connect Core 5.5) is read for its id_token
// acr member only: {"id_token":{"acr":{"essential":true,"values":[...]}}}
// (or "value") replaces acr_values. Essential values of which the provider
// knows none end the request at once with unmet_authentication_requirements;
// other claims keep being chosen by scope and entitlement.
//
// A request's acr_values are a minimum: the values the provider knows are
// the levels the relying party accepts, in order of preference. The ID
// token carries the first requested level the card meets (a high card
// meets a request for substantial); a card below every requested level
// ends the login with the error unmet_authentication_requirements (OpenID
// Connect Core Error Code unmet_authentication_requirements 1.0, the code
// OpenID Connect for Identity Assurance uses too). Unknown values are
// ignored, as acr_values are voluntary; a request naming only unknown
// values gets the card's level.

// EnrollmentProof is what the authority recorded about the enrollment a
// card was issued from.
type EnrollmentProof struct {
	// Approved: the enrollment was approved (a card record exists only for
	// approved enrollments).
	Approved bool
	// FaceMatched: the selfie matched the registry portrait. Live: video
	// frames showed the same person speaking (liveness). Spoken: the
	// challenge digits were heard in the recording.
	FaceMatched, Live, Spoken bool
	// CardActive: the card record is active, not being revoked or revoked.
	CardActive bool
}

// EnrollmentRecords finds the enrollment a card was issued from by the
// card's status-list entry. ErrNotFound: no enrollment recorded by this
// authority issued that entry.
type EnrollmentRecords interface {
	EnrollmentProof(ctx context.Context, statusURI string, index int) (EnrollmentProof, error)
}

// Errors of the assurance decision.
var (
	// ErrCardRevoking: the card's record is being revoked or was revoked.
	ErrCardRevoking = errors.New("oidc: card revoked by the authority")
	// ErrNotApproved: the card's enrollment record is not an approval.
	ErrNotApproved = errors.New("oidc: card's enrollment was not approved")
)

// acrRank orders the levels; a higher rank meets every lower one.
var acrRank = map[string]int{ACRSubstantial: 1, ACRHigh: 2}

// Level is the assurance level an enrollment supports.
func (e EnrollmentProof) Level() string {
	if e.FaceMatched && e.Live && e.Spoken {
		return ACRHigh
	}
	return ACRSubstantial
}

// assurance decides the level of the card behind a verified presentation.
func (p *Provider) assurance(ctx context.Context, pres Presentation) (string, error) {
	if pres.Status == nil {
		return ACRSubstantial, nil
	}
	proof, err := p.cfg.Enrollments.EnrollmentProof(ctx, pres.Status.URI, pres.Status.Index)
	switch {
	case errors.Is(err, ErrNotFound):
		return ACRSubstantial, nil
	case err != nil:
		return "", fmt.Errorf("oidc: enrollment record: %w", err)
	case !proof.Approved:
		return "", ErrNotApproved
	case !proof.CardActive:
		return "", ErrCardRevoking
	}
	return proof.Level(), nil
}

// meetACR returns the acr to assert for a card at level given the
// requested acr_values (in order of preference), or false when the card is
// below every known requested level.
func meetACR(level string, requested []string) (string, bool) {
	have, known := acrRank[level], false
	for _, v := range requested {
		r, ok := acrRank[v]
		if !ok {
			continue
		}
		known = true
		if have >= r {
			return v, true
		}
	}
	return level, !known
}

// claimsParamKey carries an authorization request's claims parameter from
// the authorize handler to CreateAuthRequest (op does not parse it).
type claimsParamKey struct{}

// acrRequirement is the acr member of a claims parameter.
type acrRequirement struct {
	Essential bool     `json:"essential"`
	Value     string   `json:"value"`
	Values    []string `json:"values"`
}

// maxClaimsParam bounds the claims parameter.
const maxClaimsParam = 4096

// acrFromClaims reads the id_token acr member of a claims parameter: the
// values it names (nil: none) and whether they are essential.
func acrFromClaims(raw string) ([]string, bool, error) {
	if raw == "" {
		return nil, false, nil
	}
	if len(raw) > maxClaimsParam {
		return nil, false, fmt.Errorf("claims parameter longer than %d bytes", maxClaimsParam)
	}
	var cp struct {
		IDToken  map[string]*acrRequirement `json:"id_token"`
		Userinfo map[string]json.RawMessage `json:"userinfo"`
	}
	if err := json.Unmarshal([]byte(raw), &cp); err != nil {
		return nil, false, fmt.Errorf("claims parameter: %w", err)
	}
	req := cp.IDToken["acr"]
	if req == nil {
		return nil, false, nil
	}
	values := req.Values
	if req.Value != "" {
		values = append([]string{req.Value}, values...)
	}
	if len(values) > 10 {
		return nil, false, errors.New("claims parameter: more than 10 acr values")
	}
	return values, req.Essential, nil
}

// knowsAny reports whether the provider offers one of the values.
func knowsAny(values []string) bool {
	return slices.ContainsFunc(values, func(v string) bool { _, ok := acrRank[v]; return ok })
}

// errUnmetAuthentication is the authorization error for a card below the
// requested level.
func errUnmetAuthentication(level string, requested []string) *oidc.Error {
	var want []string
	for _, v := range requested {
		if _, ok := acrRank[v]; ok && !slices.Contains(want, v) {
			want = append(want, v)
		}
	}
	desc := fmt.Sprintf("the card presented is at %s; the request requires one of %v", level, want)
	if level == "" {
		desc = fmt.Sprintf("the provider offers none of the essential acr values %v (it offers %s, %s)", requested, ACRHigh, ACRSubstantial)
	}
	return &oidc.Error{ErrorType: "unmet_authentication_requirements", Description: desc}
}
