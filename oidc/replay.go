package oidc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Client assertions (private_key_jwt) are single use: OpenID Connect Core
// section 9 makes jti required "to prevent reuse of the token". op checks
// the assertion's audience, expiry, issued-at and subject and then its
// signature with the key GetKeyByIDAndClientID returns; the key returned is
// an assertionKey, so that the jti is spent at the moment the signature
// verifies, and a second use of the same assertion fails.
//
// Spent (client, jti) pairs are kept in the store (Store.UseAssertion: one
// INSERT that does nothing on conflict), so that every provider process on
// the database catches a replay, until the assertion has expired and Purge
// removes them.
//
// On a refresh_token grant the jti is spent by the statement that rotates
// the refresh token (Store.RotateRefreshToken: one round trip instead of
// two): the verified assertion waits in the request's assertionSlot, and a
// request that ends before the rotation (an unknown or reused refresh
// token, a scope not granted) spends it as it ends, so that an assertion is
// never accepted twice either way.

// Errors of client assertion checks.
var (
	errAssertionReplayed = errors.New("oidc: client assertion already used (jti seen)")
	errAssertionNoJTI    = errors.New("oidc: client assertion has no jti")
	errAssertionTooLong  = errors.New("oidc: client assertion expires too far in the future")
)

// maxAssertionLife bounds how far ahead an assertion's exp may be (op
// already refuses an iat older than an hour), so that spent jti values
// need not be kept long.
const maxAssertionLife = time.Hour + time.Minute

// assertionSkew is kept past an assertion's exp: op allows a second of
// clock skew on exp.
const assertionSkew = 5 * time.Second

// assertionKey is a client's registered key as handed to op: it verifies
// the signature with the real key and then spends the assertion's jti.
type assertionKey struct {
	key    *jose.JSONWebKey
	client string
	p      *Provider
	// ctx is the token request's: go-jose's verifier interface carries no
	// context, and the key lives only for that request.
	ctx context.Context
}

// VerifyPayload implements jose.OpaqueVerifier; signingInput is the JWS
// protected header and payload, base64url-encoded, joined by a dot.
func (k assertionKey) VerifyPayload(signingInput, signature []byte, alg jose.SignatureAlgorithm) error {
	payload, err := k.verify(signingInput, signature, alg)
	if err != nil {
		return err
	}
	var claims struct {
		JTI string `json:"jti"`
		Exp *int64 `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("oidc: client assertion claims: %w", err)
	}
	if err := k.spend(claims.JTI, claims.Exp); err != nil {
		// op answers "invalid signature" for any failure here: say why.
		k.p.cfg.Log.Info("oidc: client assertion refused", "client", k.client, "err", err)
		return err
	}
	return nil
}

// verify checks the signature and returns the decoded payload. ES256 with
// a P-256 key (what relying parties use) is checked directly; any other
// registered key goes through go-jose again.
func (k assertionKey) verify(signingInput, signature []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if pub, ok := k.key.Key.(*ecdsa.PublicKey); ok && alg == jose.ES256 && pub.Curve == elliptic.P256() {
		if len(signature) != 64 {
			return nil, errors.New("oidc: client assertion: bad ES256 signature length")
		}
		h := sha256.Sum256(signingInput)
		r, s := new(big.Int).SetBytes(signature[:32]), new(big.Int).SetBytes(signature[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			return nil, errors.New("oidc: client assertion: bad signature")
		}
		i := bytes.LastIndexByte(signingInput, '.')
		if i < 0 {
			return nil, errors.New("oidc: client assertion: malformed")
		}
		payload, err := base64.RawURLEncoding.DecodeString(string(signingInput[i+1:]))
		if err != nil {
			return nil, fmt.Errorf("oidc: client assertion payload: %w", err)
		}
		return payload, nil
	}
	compact := string(signingInput) + "." + base64.RawURLEncoding.EncodeToString(signature)
	jws, err := jose.ParseSignedCompact(compact, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, fmt.Errorf("oidc: client assertion: %w", err)
	}
	payload, err := jws.Verify(k.key)
	if err != nil {
		return nil, fmt.Errorf("oidc: client assertion signature: %w", err)
	}
	return payload, nil
}

func (k assertionKey) spend(jti string, exp *int64) error {
	if strings.TrimSpace(jti) == "" || len(jti) > 256 {
		return errAssertionNoJTI
	}
	if exp == nil {
		return errAssertionTooLong // op requires exp already; belt and braces
	}
	now := k.p.cfg.Now()
	until := time.Unix(*exp, 0)
	if until.After(now.Add(maxAssertionLife)) {
		return errAssertionTooLong
	}
	if slot, ok := k.ctx.Value(assertionSlotKey{}).(*assertionSlot); ok && slot.pending == nil {
		// A refresh: spent by the rotation's statement, or at the end of
		// the request (withTokenAlg) if it fails before.
		slot.pending = &Assertion{ClientID: k.client, JTI: jti, Expires: until.Add(assertionSkew)}
		return nil
	}
	err := k.p.cfg.Store.UseAssertion(k.ctx, k.client, jti, until.Add(assertionSkew))
	if errors.Is(err, ErrConflict) {
		return errAssertionReplayed
	}
	if err != nil {
		return fmt.Errorf("oidc: spend client assertion: %w", err)
	}
	return nil
}

// assertionKeyFor wraps a client's registered key.
func (p *Provider) assertionKeyFor(ctx context.Context, key *jose.JSONWebKey, client string) *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: assertionKey{key: key, client: client, p: p, ctx: ctx},
		KeyID: key.KeyID, Algorithm: key.Algorithm, Use: key.Use}
}

// assertionSlotKey carries a refresh request's assertionSlot.
type assertionSlotKey struct{}

// assertionSlot holds a refresh request's verified client assertion until
// it is spent.
type assertionSlot struct {
	pending *Assertion
	spent   bool
}

// withAssertionSlot gives a refresh_token grant request its assertion slot
// and spends what is left in it when the request ends.
func (p *Provider) withAssertionSlot(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/oauth/token" || r.PostFormValue("grant_type") != "refresh_token" {
			h.ServeHTTP(w, r)
			return
		}
		slot := &assertionSlot{}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), assertionSlotKey{}, slot)))
		if a := slot.pending; a != nil && !slot.spent {
			err := p.cfg.Store.UseAssertion(context.WithoutCancel(r.Context()), a.ClientID, a.JTI, a.Expires)
			if err != nil && !errors.Is(err, ErrConflict) {
				p.cfg.Log.ErrorContext(r.Context(), "oidc: spend client assertion", "client", a.ClientID, "err", err)
			}
		}
	})
}

// takeAssertion hands a refresh's pending client assertion to the rotation
// (nil when there is none).
func takeAssertion(ctx context.Context) *assertionSlot {
	slot, ok := ctx.Value(assertionSlotKey{}).(*assertionSlot)
	if !ok || slot.pending == nil || slot.spent {
		return nil
	}
	return slot
}
