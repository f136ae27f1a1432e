package oidc

import (
	"context"
	"net/http"
)

// ID-token algorithms a client may register (id_token_signed_response_alg).
const (
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// op, the OP library, asks Storage.SigningKey for the one key that signs
// an ID token, with only the request's context in view. To sign with the
// algorithm the client registered, every request op serves carries a
// tokenAlg slot; the storage methods that load the grant behind a token
// request (AuthRequestByCode, TokenRequestByRefreshToken) fill it with the
// algorithm of the grant's client, read from the registration, never from
// the request, and SigningKey reads it.

type tokenAlgKey struct{}

// tokenAlg is the slot: the client's registered algorithm ("" = ES256),
// and the access token stored with the code's consumption, if any
// (AuthRequestByCode, for CreateAccessToken).
type tokenAlg struct {
	alg    string
	access *Token
}

// withTokenAlg gives each request to op an empty slot.
func withTokenAlg(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenAlgKey{}, &tokenAlg{})))
	})
}

// setTokenAlg records the registered algorithm of the client whose grant
// this request exchanges.
func (p *Provider) setTokenAlg(ctx context.Context, clientID string) error {
	slot, ok := ctx.Value(tokenAlgKey{}).(*tokenAlg)
	if !ok {
		return nil
	}
	c, err := p.client(ctx, clientID)
	if err != nil {
		return err
	}
	slot.alg = c.IDTokenAlg
	return nil
}

// signingKeyFor is the key for the request's client: RS256 when the
// client registered it, ES256 otherwise.
func (p *Provider) signingKeyFor(ctx context.Context) (signingKey, error) {
	if slot, ok := ctx.Value(tokenAlgKey{}).(*tokenAlg); ok && slot.alg == AlgRS256 {
		if p.rsaKey == nil {
			return signingKey{}, errNoRSAKey
		}
		return *p.rsaKey, nil
	}
	return p.key, nil
}
