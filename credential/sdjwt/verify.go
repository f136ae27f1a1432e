package sdjwt

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/shenfen/shenfen/credential"
)

// Verifier checks SD-JWT VC presentations. Its zero value is not usable:
// set Anchors. A Verifier is safe for concurrent use and should be reused:
// it caches parsed issuer headers and verified chains.
type Verifier struct {
	// Anchors are the trusted roots the x5c chain must lead to.
	Anchors *credential.Anchors
	// Status looks the credential's status up (nil: a credential with a
	// status reference fails with ErrStatus).
	Status credential.StatusChecker
	// Nonces, when set, consumes each presentation's nonce once (ErrReplay).
	Nonces credential.NonceStore
	// Clock is the time source (nil: time.Now).
	Clock credential.Clock
	// Skew is the tolerated clock difference (default 2 minutes).
	Skew time.Duration
	// MaxAge is how old a key-binding JWT may be (default 5 minutes).
	MaxAge time.Duration
	// MaxSize bounds the presentation in bytes (default 512 KiB).
	MaxSize int
	// Types, when not empty, lists the accepted vct values.
	Types []string

	headers  sync.Map     // protected header segment -> *header, for headers whose signature verified
	nHeaders atomic.Int32 // entries in headers
}

// Expect is what the presentation must have been made for.
type Expect struct {
	// Nonce is the verifier's nonce and Audience its client identifier,
	// both required to match the key-binding JWT.
	Nonce, Audience string
}

type header struct {
	Alg string   `json:"alg"`
	Typ string   `json:"typ"`
	X5c []string `json:"x5c"`
	Kid string   `json:"kid"`
	der [][]byte
}

type parsed struct {
	jwt, header, payload, sig string
	disclosures               []string
	kb                        string
}

// split cuts a compact SD-JWT into its parts.
func split(s string, max int) (parsed, error) {
	var p parsed
	if len(s) > max {
		return p, fmt.Errorf("%w: %d bytes", credential.ErrTooLarge, len(s))
	}
	first := strings.IndexByte(s, '~')
	if first < 0 {
		return p, fmt.Errorf("%w: no disclosure separator", credential.ErrMalformed)
	}
	p.jwt = s[:first]
	var ok bool
	if p.header, p.payload, p.sig, ok = splitJWS(p.jwt); !ok {
		return p, fmt.Errorf("%w: issuer JWT is not a compact JWS", credential.ErrMalformed)
	}
	rest := s[first+1:]
	last := strings.LastIndexByte(rest, '~')
	if last >= 0 {
		if n := strings.Count(rest[:last], "~") + 1; n > 256 {
			return p, fmt.Errorf("%w: %d disclosures", credential.ErrTooLarge, n)
		}
		p.disclosures = strings.Split(rest[:last], "~")
		for _, d := range p.disclosures {
			if d == "" {
				return p, fmt.Errorf("%w: empty disclosure", credential.ErrMalformed)
			}
		}
	}
	p.kb = rest[last+1:]
	return p, nil
}

func splitJWS(s string) (h, p, sig string, ok bool) {
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return
	}
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 {
		return
	}
	j += i + 1
	if strings.IndexByte(s[j+1:], '.') >= 0 {
		return
	}
	return s[:i], s[i+1 : j], s[j+1:], true
}

func decodeSegment(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: base64url: %v", credential.ErrMalformed, err)
	}
	return b, nil
}

// verifyES256 checks a JWS ES256 signature (r||s) over signing input.
func verifyES256(pub *ecdsa.PublicKey, input, sig string) bool {
	var raw [64]byte
	if base64.RawURLEncoding.DecodedLen(len(sig)) != 64 {
		return false
	}
	if n, err := base64.RawURLEncoding.Decode(raw[:], []byte(sig)); err != nil || n != 64 {
		return false
	}
	h := sha256.Sum256([]byte(input))
	var der [72]byte
	return ecdsa.VerifyASN1(pub, h[:], derSignature(der[:0], raw[:32], raw[32:]))
}

// derSignature appends the ASN.1 DER ECDSA-Sig-Value of r and s (32-byte
// big-endian each) to dst, without going through math/big.
func derSignature(dst, r, s []byte) []byte {
	integer := func(b []byte) []byte {
		for len(b) > 1 && b[0] == 0 && b[1] < 0x80 {
			b = b[1:]
		}
		return b
	}
	r, s = integer(r), integer(s)
	lr, ls := len(r), len(s)
	if r[0] >= 0x80 {
		lr++
	}
	if s[0] >= 0x80 {
		ls++
	}
	dst = append(dst, 0x30, byte(2+lr+2+ls), 0x02, byte(lr))
	if r[0] >= 0x80 {
		dst = append(dst, 0)
	}
	dst = append(dst, r...)
	dst = append(dst, 0x02, byte(ls))
	if s[0] >= 0x80 {
		dst = append(dst, 0)
	}
	return append(dst, s...)
}

func (v *Verifier) header(seg string) (*header, error) {
	if h, ok := v.headers.Load(seg); ok {
		return h.(*header), nil
	}
	raw, err := decodeSegment(seg)
	if err != nil {
		return nil, err
	}
	var h header
	if err := strictJSON(raw, &h); err != nil {
		return nil, err
	}
	if h.Alg != "ES256" {
		return nil, fmt.Errorf("%w: alg %q", credential.ErrUnsupported, h.Alg)
	}
	if h.Typ != TypeVC && h.Typ != legacyTypeVC {
		return nil, fmt.Errorf("%w: typ %q", credential.ErrUnsupported, h.Typ)
	}
	for _, c := range h.X5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return nil, fmt.Errorf("%w: x5c: %v", credential.ErrMalformed, err)
		}
		h.der = append(h.der, der)
	}
	return &h, nil
}

// maxCachedHeaders bounds the header cache: one entry per issuer key in use.
const maxCachedHeaders = 256

// remember caches a header once a signature under it verified, so that
// garbage headers cannot fill the cache.
func (v *Verifier) remember(seg string, h *header) {
	if len(seg) > 16<<10 || v.nHeaders.Load() >= maxCachedHeaders {
		return
	}
	if _, loaded := v.headers.LoadOrStore(seg, h); !loaded {
		v.nHeaders.Add(1)
	}
}

// strictJSON decodes a JOSE header: member names match exactly (not
// case-insensitively, as encoding/json would), duplicates and unknown
// members are refused.
func strictJSON(raw []byte, dst any) error {
	err := jsonv2.Unmarshal(raw, dst, jsonv2.RejectUnknownMembers(true))
	var semantic *jsonv2.SemanticError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &semantic):
		return fmt.Errorf("%w: JOSE header: %v", credential.ErrUnsupported, err)
	}
	return fmt.Errorf("%w: JOSE header: %v", credential.ErrMalformed, err)
}

// Verify runs every check on an SD-JWT VC presentation, in this order:
// size and syntax, issuer header, trust chain, issuer signature, validity
// window, disclosure digests, holder key binding (signature, sd_hash, iat),
// nonce, audience, one-time nonce, status. The first failure is returned,
// wrapping one of the credential sentinel errors.
func (v *Verifier) Verify(ctx context.Context, presentation string, want Expect) (*credential.Verified, error) {
	max := v.MaxSize
	if max <= 0 {
		max = 512 << 10
	}
	p, err := split(presentation, max)
	if err != nil {
		return nil, err
	}
	now := v.Clock.Now()
	skew, maxAge := v.Skew, v.MaxAge
	if skew <= 0 {
		skew = 2 * time.Minute
	}
	if maxAge <= 0 {
		maxAge = 5 * time.Minute
	}

	h, err := v.header(p.header)
	if err != nil {
		return nil, err
	}
	chain, err := v.Anchors.Verify(h.der, now)
	if err != nil {
		return nil, err
	}
	if !verifyES256(chain.Key, p.jwt[:len(p.header)+1+len(p.payload)], p.sig) {
		return nil, fmt.Errorf("%w: issuer JWT", credential.ErrSignature)
	}
	v.remember(p.header, h)
	payload, err := decodeSegment(p.payload)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	if err := jsonv2.Unmarshal(payload, &claims); err != nil {
		return nil, fmt.Errorf("%w: payload: %v", credential.ErrMalformed, err)
	}
	res := &credential.Verified{Format: TypeVC, Chain: chain.Certs}
	res.Issuer, _ = claims["iss"].(string)
	if err := issuerMatches(chain.Certs[0], res.Issuer); err != nil {
		return nil, err
	}
	res.Type, _ = claims["vct"].(string)
	if err := v.checkType(res.Type); err != nil {
		return nil, err
	}
	if alg, ok := claims["_sd_alg"]; ok && alg != "sha-256" {
		return nil, fmt.Errorf("%w: _sd_alg %v", credential.ErrUnsupported, alg)
	}
	if err := checkTimes(claims, res, now, skew); err != nil {
		return nil, err
	}
	if err := reconstruct(claims, p.disclosures); err != nil {
		return nil, err
	}
	delete(claims, "_sd_alg")
	res.Claims = claims
	if res.Status, err = statusRef(claims); err != nil {
		return nil, err
	}

	// Holder binding.
	if res.HolderKey, err = holderKey(claims); err != nil {
		return nil, err
	}
	if p.kb == "" {
		return nil, fmt.Errorf("%w: no key-binding JWT", credential.ErrHolderBinding)
	}
	kb, err := verifyKB(res.HolderKey, p.kb)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare([]byte(kb.SDHash), []byte(digestOf(presentation[:len(presentation)-len(p.kb)]))) != 1 {
		return nil, fmt.Errorf("%w: sd_hash does not match the presentation", credential.ErrHolderBinding)
	}
	if kb.Iat == nil {
		return nil, fmt.Errorf("%w: key-binding JWT without iat", credential.ErrHolderBinding)
	}
	if at := time.Unix(*kb.Iat, 0); at.After(now.Add(skew)) || at.Before(now.Add(-maxAge)) {
		return nil, fmt.Errorf("%w: key-binding iat %s", credential.ErrStale, at.UTC().Format(time.RFC3339))
	}
	if want.Nonce == "" || subtle.ConstantTimeCompare([]byte(kb.Nonce), []byte(want.Nonce)) != 1 {
		return nil, credential.ErrNonce
	}
	if want.Audience == "" || kb.Aud != want.Audience {
		return nil, credential.ErrAudience
	}
	if v.Nonces != nil {
		if err := credential.ConsumeNonce(ctx, v.Nonces, want.Nonce); err != nil {
			return nil, err
		}
	}
	if err := credential.CheckStatus(ctx, v.Status, res.Status); err != nil {
		return nil, err
	}
	return res, nil
}

// issuerMatches applies SD-JWT VC's rule for x5c: the iss claim must
// match a subjectAltName of the leaf certificate (a URI equal to iss, or a
// DNS name equal to iss's host, for an https iss). A leaf with no URI or
// DNS name is refused: nothing would then bind iss to the key.
func issuerMatches(leaf *x509.Certificate, iss string) error {
	if iss == "" {
		return fmt.Errorf("%w: no iss", credential.ErrMalformed)
	}
	if len(leaf.URIs) == 0 && len(leaf.DNSNames) == 0 {
		// Without a name in the certificate nothing binds iss to the
		// key: any holder of a certificate under the anchors could claim
		// any issuer.
		return fmt.Errorf("%w: the issuer certificate has no subjectAltName (URI or DNS name) to bind iss %q to", credential.ErrUntrusted, iss)
	}
	for _, u := range leaf.URIs {
		if u.String() == iss {
			return nil
		}
	}
	if u, err := url.Parse(iss); err == nil && u.Scheme == "https" {
		for _, d := range leaf.DNSNames {
			if strings.EqualFold(d, u.Hostname()) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: iss %q is not a subjectAltName of the issuer certificate", credential.ErrUntrusted, iss)
}

func (v *Verifier) checkType(vct string) error {
	if vct == "" {
		return fmt.Errorf("%w: no vct", credential.ErrMalformed)
	}
	if len(v.Types) == 0 {
		return nil
	}
	for _, t := range v.Types {
		if t == vct {
			return nil
		}
	}
	return fmt.Errorf("%w: vct %q", credential.ErrUnsupported, vct)
}

func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	x, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	f, ok := x.(float64)
	if !ok || f < 0 || f > 1<<40 {
		return time.Time{}, false, fmt.Errorf("%w: %s is not a NumericDate", credential.ErrMalformed, name)
	}
	return time.Unix(int64(f), 0), true, nil
}

func checkTimes(claims map[string]any, res *credential.Verified, now time.Time, skew time.Duration) error {
	iat, hasIat, err := numericDate(claims, "iat")
	if err != nil {
		return err
	}
	nbf, hasNbf, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	exp, hasExp, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	res.Signed = iat
	res.ValidFrom = iat
	if hasNbf {
		res.ValidFrom = nbf
	}
	if !hasExp {
		return fmt.Errorf("%w: no exp", credential.ErrMalformed)
	}
	res.ValidUntil = exp
	if (hasNbf || hasIat) && res.ValidFrom.After(now.Add(skew)) {
		return fmt.Errorf("%w: valid from %s", credential.ErrNotYetValid, res.ValidFrom.UTC().Format(time.RFC3339))
	}
	if !now.Add(-skew).Before(exp) {
		return fmt.Errorf("%w: expired at %s", credential.ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	return nil
}

// reconstruct replaces digests by the disclosed claims in place (RFC 9901
// section 7.1) and fails if a disclosure is not referenced exactly once.
func reconstruct(claims map[string]any, disclosures []string) error {
	type disc struct {
		arr  []any
		used bool
	}
	byDigest := make(map[string]*disc, len(disclosures))
	for _, d := range disclosures {
		arr, err := decodeDisclosure(d)
		if err != nil {
			return err
		}
		dg := digestOf(d)
		if byDigest[dg] != nil {
			return fmt.Errorf("%w: disclosure given twice", credential.ErrDisclosure)
		}
		byDigest[dg] = &disc{arr: arr}
	}
	seen := make(map[string]bool, 64)
	var walk func(v any, depth int) (any, error)
	use := func(digest string) (*disc, error) {
		if seen[digest] {
			return nil, fmt.Errorf("%w: digest appears twice", credential.ErrDisclosure)
		}
		seen[digest] = true
		d := byDigest[digest]
		if d != nil {
			d.used = true
		}
		return d, nil
	}
	walk = func(v any, depth int) (any, error) {
		if depth > 16 {
			return nil, fmt.Errorf("%w: claims nested too deep", credential.ErrMalformed)
		}
		switch v := v.(type) {
		case map[string]any:
			// Plain members first, then the disclosed ones (each walked once).
			sdv, hasSD := v["_sd"]
			delete(v, "_sd")
			for k, x := range v {
				if depth == 0 && (k == "cnf" || k == "status") {
					continue
				}
				switch x.(type) {
				case map[string]any, []any:
				default:
					continue
				}
				nx, err := walk(x, depth+1)
				if err != nil {
					return nil, err
				}
				v[k] = nx
			}
			if !hasSD {
				return v, nil
			}
			sd, ok := sdv.([]any)
			if !ok {
				return nil, fmt.Errorf("%w: _sd is not an array", credential.ErrMalformed)
			}
			for _, x := range sd {
				s, ok := x.(string)
				if !ok {
					return nil, fmt.Errorf("%w: digest is not a string", credential.ErrMalformed)
				}
				d, err := use(s)
				if err != nil {
					return nil, err
				}
				if d == nil {
					continue
				}
				if len(d.arr) != 3 {
					return nil, fmt.Errorf("%w: array-element disclosure in an object", credential.ErrDisclosure)
				}
				name := d.arr[1].(string)
				if name == "_sd" || name == "..." {
					return nil, fmt.Errorf("%w: disclosure of reserved name %q", credential.ErrDisclosure, name)
				}
				if _, dup := v[name]; dup {
					return nil, fmt.Errorf("%w: disclosure overwrites claim %q", credential.ErrDisclosure, name)
				}
				val, err := walk(d.arr[2], depth+1)
				if err != nil {
					return nil, err
				}
				v[name] = val
			}
			return v, nil
		case []any:
			out := v[:0]
			for _, x := range v {
				if m, ok := x.(map[string]any); ok && len(m) == 1 {
					if s, ok := m["..."].(string); ok {
						d, err := use(s)
						if err != nil {
							return nil, err
						}
						if d == nil {
							continue
						}
						if len(d.arr) != 2 {
							return nil, fmt.Errorf("%w: object disclosure in an array", credential.ErrDisclosure)
						}
						x = d.arr[1]
					}
				}
				nx, err := walk(x, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, nx)
			}
			return out, nil
		}
		return v, nil
	}
	if _, err := walk(claims, 0); err != nil {
		return err
	}
	for _, d := range byDigest {
		if !d.used {
			return fmt.Errorf("%w: disclosure not referenced by the issuer", credential.ErrDisclosure)
		}
	}
	return nil
}

func statusRef(claims map[string]any) (*credential.StatusRef, error) {
	st, ok := claims["status"]
	if !ok {
		return nil, nil
	}
	m, _ := st.(map[string]any)
	sl, _ := m["status_list"].(map[string]any)
	idx, okI := sl["idx"].(float64)
	uri, okU := sl["uri"].(string)
	if !okI || !okU || idx < 0 || idx != float64(int(idx)) || uri == "" {
		return nil, fmt.Errorf("%w: status claim", credential.ErrMalformed)
	}
	return &credential.StatusRef{URI: uri, Index: int(idx)}, nil
}

func holderKey(claims map[string]any) (*ecdsa.PublicKey, error) {
	cnf, _ := claims["cnf"].(map[string]any)
	jwk, _ := cnf["jwk"].(map[string]any)
	if jwk == nil {
		return nil, fmt.Errorf("%w: no cnf.jwk", credential.ErrHolderBinding)
	}
	return parseJWK(jwk)
}

// parseJWK reads a P-256 EC public JWK.
func parseJWK(jwk map[string]any) (*ecdsa.PublicKey, error) {
	if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
		return nil, fmt.Errorf("%w: holder key is not an EC P-256 JWK", credential.ErrUnsupported)
	}
	xs, _ := jwk["x"].(string)
	ys, _ := jwk["y"].(string)
	x, err1 := base64.RawURLEncoding.DecodeString(xs)
	y, err2 := base64.RawURLEncoding.DecodeString(ys)
	if err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("%w: holder JWK coordinates", credential.ErrMalformed)
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("%w: holder key: %v", credential.ErrMalformed, err)
	}
	return pub, nil
}

type kbClaims struct {
	Iat    *int64 `json:"iat"`
	Aud    string `json:"aud"`
	Nonce  string `json:"nonce"`
	SDHash string `json:"sd_hash"`
}

type kbHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

func verifyKB(holder *ecdsa.PublicKey, kb string) (*kbClaims, error) {
	hs, ps, sig, ok := splitJWS(kb)
	if !ok {
		return nil, fmt.Errorf("%w: key-binding JWT is not a compact JWS", credential.ErrMalformed)
	}
	raw, err := decodeSegment(hs)
	if err != nil {
		return nil, err
	}
	var h kbHeader
	if err := strictJSON(raw, &h); err != nil {
		return nil, err
	}
	if h.Alg != "ES256" || h.Typ != TypeKB {
		return nil, fmt.Errorf("%w: key-binding JWT alg %q typ %q", credential.ErrHolderBinding, h.Alg, h.Typ)
	}
	if !verifyES256(holder, kb[:len(hs)+1+len(ps)], sig) {
		return nil, fmt.Errorf("%w: key-binding JWT signature", credential.ErrHolderBinding)
	}
	raw, err = decodeSegment(ps)
	if err != nil {
		return nil, err
	}
	var c kbClaims
	if err := jsonv2.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("%w: key-binding JWT payload: %v", credential.ErrMalformed, err)
	}
	return &c, nil
}
