package status

import (
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
)

// MediaType is the media type of a JWT status list token.
const MediaType = "application/statuslist+jwt"

// TokenType is the typ header of a JWT status list token.
const TokenType = "statuslist+jwt"

// Token is a status list token's content.
type Token struct {
	// Subject is the URI the token is served at (sub).
	Subject string
	// IssuedAt is iat; Expires is exp (zero: none).
	IssuedAt, Expires time.Time
	// TTL is how long a verifier may cache the token before fetching again
	// (ttl; zero: not said).
	TTL time.Duration
	// List is the status list.
	List *List
	// AggregationURI, if set, is where the URIs of all the issuer's lists
	// are published (status_list.aggregation_uri).
	AggregationURI string
}

type claims struct {
	Sub        string     `json:"sub"`
	Iat        int64      `json:"iat"`
	Exp        int64      `json:"exp,omitempty"`
	TTL        int64      `json:"ttl,omitempty"`
	StatusList statusList `json:"status_list"`
}

type statusList struct {
	Bits           int    `json:"bits"`
	Lst            string `json:"lst"`
	AggregationURI string `json:"aggregation_uri,omitempty"`
}

// Sign encodes t as a compact JWS signed ES256 by k (typ statuslist+jwt,
// kid and x5c from k).
func (t *Token) Sign(k jws.Key) (string, error) {
	z, err := t.List.Compress()
	if err != nil {
		return "", err
	}
	c := claims{
		Sub: t.Subject, Iat: t.IssuedAt.Unix(), TTL: int64(t.TTL / time.Second),
		StatusList: statusList{Bits: t.List.Bits(), Lst: base64.RawURLEncoding.EncodeToString(z), AggregationURI: t.AggregationURI},
	}
	if !t.Expires.IsZero() {
		c.Exp = t.Expires.Unix()
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("status: token claims: %w", err)
	}
	return jws.Sign(k, TokenType, payload)
}

// Limits bound what [ParseToken] accepts.
type Limits struct {
	// MaxToken is the largest token in bytes (default 4 MiB).
	MaxToken int
	// MaxList is the largest inflated list in bytes (default 16 MiB).
	MaxList int
}

func (l Limits) withDefaults() Limits {
	if l.MaxToken <= 0 {
		l.MaxToken = 4 << 20
	}
	if l.MaxList <= 0 {
		l.MaxList = 16 << 20
	}
	return l
}

// KeyFunc returns the key that must have signed a token, given its
// protected header (kid, x5c); it fails with [ErrUntrusted] when the header
// names no trusted key.
type KeyFunc func(h jws.Header, now time.Time) (*ecdsa.PublicKey, error)

// ParseToken parses and verifies a JWT status list token: typ, ES256
// signature under the key keyFor returns, required claims, and the
// compressed list within limits. It does not judge time (see
// [Token.Check]).
func ParseToken(b []byte, keyFor KeyFunc, now time.Time, lim Limits) (*Token, error) {
	lim = lim.withDefaults()
	p, err := jws.Parse(b, lim.MaxToken)
	if err != nil {
		if errors.Is(err, jws.ErrTooLarge) {
			return nil, fmt.Errorf("%w: %v", ErrTooLarge, err)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if p.Header.Typ != TokenType {
		return nil, fmt.Errorf("%w: typ %q, want %q", ErrMalformed, p.Header.Typ, TokenType)
	}
	pub, err := keyFor(p.Header, now)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUntrusted, err)
	}
	if err := p.Verify(pub); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return parseClaims(p.Payload, lim)
}

// ParseUnverified reads a token's claims and list without checking its
// signature. Only for tools and fuzzing; verifiers use [ParseToken].
func ParseUnverified(b []byte, lim Limits) (*Token, error) {
	lim = lim.withDefaults()
	p, err := jws.Parse(b, lim.MaxToken)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return parseClaims(p.Payload, lim)
}

func parseClaims(payload []byte, lim Limits) (*Token, error) {
	var c claims
	if err := jws.DecodeStrict(payload, &c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	if c.Sub == "" {
		return nil, fmt.Errorf("%w: no sub", ErrMalformed)
	}
	if c.Iat <= 0 {
		return nil, fmt.Errorf("%w: no iat", ErrMalformed)
	}
	if c.Exp < 0 || c.TTL < 0 || c.TTL > 1<<40 {
		return nil, fmt.Errorf("%w: bad exp or ttl", ErrMalformed)
	}
	if c.StatusList.Lst == "" {
		return nil, fmt.Errorf("%w: no status_list.lst", ErrMalformed)
	}
	if len(c.StatusList.Lst) > base64.RawURLEncoding.EncodedLen(lim.MaxToken) {
		return nil, fmt.Errorf("%w: lst of %d characters", ErrTooLarge, len(c.StatusList.Lst))
	}
	z, err := base64.RawURLEncoding.Strict().DecodeString(c.StatusList.Lst)
	if err != nil {
		return nil, fmt.Errorf("%w: lst: %v", ErrMalformed, err)
	}
	l, err := Decompress(z, c.StatusList.Bits, lim.MaxList)
	if err != nil {
		return nil, err
	}
	t := &Token{Subject: c.Sub, IssuedAt: time.Unix(c.Iat, 0), TTL: time.Duration(c.TTL) * time.Second, List: l,
		AggregationURI: c.StatusList.AggregationURI}
	if c.Exp > 0 {
		t.Expires = time.Unix(c.Exp, 0)
	}
	return t, nil
}

// Check judges a token at now for a verifier that fetched it from uri: the
// subject must be uri, the token unexpired, and not issued in the future
// beyond skew.
func (t *Token) Check(uri string, now time.Time, skew time.Duration) error {
	if t.Subject != uri {
		return fmt.Errorf("%w: sub %q, fetched %q", ErrMismatch, t.Subject, uri)
	}
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		return fmt.Errorf("%w: at %s", ErrExpired, t.Expires.UTC().Format(time.RFC3339))
	}
	if t.IssuedAt.After(now.Add(skew)) {
		return fmt.Errorf("%w: issued in the future (%s)", ErrMalformed, t.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}
