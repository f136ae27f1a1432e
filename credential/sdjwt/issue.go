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
	"crypto/elliptic"
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
	"slices"
	"strings"
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
// followed by every disclosure, each ending with "~".
func Issue(ctx context.Context, p IssueParams) (string, error) {
	if p.Signer == nil || len(p.Chain) == 0 || p.Holder == nil {
		return "", errors.New("sdjwt: issue: signer, chain and holder key are required")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return "", errors.New("sdjwt: issue: expiry not after issuance")
	}
	if p.Holder.Curve != elliptic.P256() {
		return "", errors.New("sdjwt: issue: holder key is not P-256")
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	holder, err := jose.JSONWebKey{Key: p.Holder}.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: holder key: %w", err)
	}
	claims := map[string]any{
		"iss":     p.Issuer,
		"iat":     p.IssuedAt.Unix(),
		"nbf":     p.IssuedAt.Unix(),
		"exp":     p.ExpiresAt.Unix(),
		"vct":     p.Profile.VCT,
		"cnf":     map[string]any{"jwk": json.RawMessage(holder)},
		"_sd_alg": "sha-256",
	}
	if p.Profile.VCT != "" {
		// The type metadata's digest (served by the issuer, docs/interop.md).
		claims["vct#integrity"] = p.Profile.VCTIntegrity()
	}
	if p.Status != nil {
		claims["status"] = map[string]any{"status_list": map[string]any{"idx": p.Status.Index, "uri": p.Status.URI}}
	}
	var disclosures []string
	sds := map[string]*[]string{} // "" for the top level, else the container claim
	add := func(container, name string, value any) error {
		d, digest, err := newDisclosure(rnd, name, value)
		if err != nil {
			return err
		}
		disclosures = append(disclosures, d)
		list := sds[container]
		if list == nil {
			list = new([]string)
			sds[container] = list
		}
		*list = append(*list, digest)
		return nil
	}
	for _, a := range p.Profile.Attributes(p.PID, p.IssuedAt) {
		v := jsonValue(a.Value)
		switch len(a.JWT) {
		case 1:
			err = add("", a.JWT[0], v)
		case 2:
			err = add(a.JWT[0], a.JWT[1], v)
		default:
			err = fmt.Errorf("claim path %v", a.JWT)
		}
		if err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
	}
	// Containers (address, age_equal_or_over) are themselves disclosable, so
	// an undisclosed one does not even show as an empty object.
	containers := make([]string, 0, len(sds))
	for c := range sds {
		if c != "" {
			containers = append(containers, c)
		}
	}
	slices.Sort(containers)
	for _, c := range containers {
		list := sds[c]
		if err := addDecoys(rnd, list); err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
		slices.Sort(*list)
		if err := add("", c, map[string]any{"_sd": *list}); err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
	}
	if list := sds[""]; list != nil {
		if err := addDecoys(rnd, list); err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
		slices.Sort(*list)
		claims["_sd"] = *list
	}
	// Disclosure order would tell which digest is which; shuffle it.
	if err := shuffle(rnd, disclosures); err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	x5c := make([]string, len(p.Chain))
	for i, c := range p.Chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	jwt, err := signJWT(p.Signer, TypeVC, map[jose.HeaderKey]any{"x5c": x5c}, claims)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	var b strings.Builder
	b.WriteString(jwt)
	b.WriteByte('~')
	for _, d := range disclosures {
		b.WriteString(d)
		b.WriteByte('~')
	}
	return b.String(), nil
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

// addDecoys pads list with 1-4 random digests and up to a multiple of 4,
// so the number of real claims does not show.
func addDecoys(rnd io.Reader, list *[]string) error {
	var b [1]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return err
	}
	n := 1 + int(b[0]%4)
	for (len(*list)+n)%4 != 0 {
		n++
	}
	for range n {
		r := make([]byte, 32)
		if _, err := io.ReadFull(rnd, r); err != nil {
			return err
		}
		*list = append(*list, digestOf(base64.RawURLEncoding.EncodeToString(r)))
	}
	return nil
}

func shuffle(rnd io.Reader, s []string) error {
	for i := len(s) - 1; i > 0; i-- {
		n, err := rand.Int(rnd, big.NewInt(int64(i+1)))
		if err != nil {
			return err
		}
		j := int(n.Int64())
		s[i], s[j] = s[j], s[i]
	}
	return nil
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
