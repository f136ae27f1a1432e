// Package sdjwt encodes shenfen's card as an SD-JWT VC (RFC 9901 SD-JWT,
// draft-ietf-oauth-sd-jwt-vc): every attribute selectively disclosable,
// decoy digests, the holder's device key in cnf, the status-list reference
// in status; the holder presents a subset with a key-binding JWT over the
// verifier's nonce and audience.
//
// Signing uses go-jose (the issuer key is any crypto.Signer, e.g. in an
// HSM). Verification parses the compact JWS by hand: go-jose parses every
// x5c certificate on each call, while [Verifier] caches the verified issuer
// chain per protected header, which keeps verification within a small
// factor of the two ECDSA verifications it must do (docs/benchmarks.md).
// The SD-JWT layer itself (disclosures, digests, reconstruction) is
// hand-written: no maintained Go library implements RFC 9901 with key
// binding and the checks this package needs to report separately.
package sdjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential"
)

// Media types (JOSE typ) of the issuer-signed JWT and the key-binding JWT.
const (
	TypeVC = "dc+sd-jwt"
	TypeKB = "kb+jwt"
	// legacyTypeVC is the typ of earlier drafts, still accepted.
	legacyTypeVC = "vc+sd-jwt"
)

// IssueParams is what [Issue] needs.
type IssueParams struct {
	// Issuer is the iss claim (the issuer's identifier URL).
	Issuer  string
	Profile credential.Profile
	PID     credential.PID
	// Holder is the device key the card is bound to (P-256).
	Holder *ecdsa.PublicKey
	// Status is the card's status-list entry (nil: none).
	Status *credential.StatusRef
	// IssuedAt and ExpiresAt are iat and exp.
	IssuedAt, ExpiresAt time.Time
	// Signer signs (ES256); Chain is its X.509 chain, leaf first, put in x5c.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Rand is the source for salts and decoys (nil: crypto/rand).
	Rand io.Reader
}

// Issue returns the SD-JWT VC in issuance form: the issuer-signed JWT
// followed by every disclosure, each ending with "~". It is a batch of one
// ([NewBatch]).
func Issue(ctx context.Context, p IssueParams) (string, error) {
	if p.Signer == nil || len(p.Chain) == 0 || p.Holder == nil {
		return "", errors.New("sdjwt: issue: signer, chain and holder key are required")
	}
	b, err := NewBatch(p)
	if err != nil {
		return "", err
	}
	return b.Issue(ctx, p.Holder, p.Status)
}

// jsonValue maps attribute values to their SD-JWT VC JSON form.
func jsonValue(v any) any {
	switch v := v.(type) {
	case credential.Date:
		return string(v)
	case credential.Sex:
		return int(v)
	case []byte:
		return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(v)
	}
	return v
}

func newDisclosure(rnd io.Reader, name string, value any) (disclosure, digest string, err error) {
	salt := make([]byte, 16)
	if _, err := io.ReadFull(rnd, salt); err != nil {
		return "", "", err
	}
	j, err := json.Marshal([]any{base64.RawURLEncoding.EncodeToString(salt), name, value})
	if err != nil {
		return "", "", err
	}
	d := base64.RawURLEncoding.EncodeToString(j)
	return d, digestOf(d), nil
}

// digestOf is the SD-JWT sha-256 digest of a disclosure's ASCII form.
func digestOf(d string) string {
	h := sha256.Sum256([]byte(d))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// signJWT signs claims as a compact JWS (ES256) with go-jose.
func signJWT(s crypto.Signer, typ string, extra map[jose.HeaderKey]any, claims any) (string, error) {
	opts := (&jose.SignerOptions{}).WithType(jose.ContentType(typ))
	for k, v := range extra {
		opts = opts.WithHeader(k, v)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: opaque{s}}, opts)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// opaque adapts a crypto.Signer (which returns ASN.1 DER ECDSA signatures)
// to go-jose, which wants the JWS r||s form.
type opaque struct{ s crypto.Signer }

func (o opaque) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.s.Public(), Algorithm: string(jose.ES256)}
}

func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{jose.ES256} }

func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	if alg != jose.ES256 {
		return nil, fmt.Errorf("sdjwt: algorithm %s not supported", alg)
	}
	h := sha256.Sum256(payload)
	der, err := o.s.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("sdjwt: signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	if sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, fmt.Errorf("sdjwt: signer returned a malformed ECDSA signature")
	}
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}
