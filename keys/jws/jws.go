// Package jws signs and verifies compact JSON Web Signatures (RFC 7515) with
// ES256 (ECDSA P-256, SHA-256) for shenfen's own tokens: status list tokens,
// signed tree heads of the audit log and JWKS-published keys.
//
// It is hand-written instead of going through go-jose because the signer is
// any crypto.Signer (a key file or a PKCS#11 token), because shenfen only
// ever signs one algorithm, and because the parser has to be small, strict
// and bounded: it is fed outside input by verifiers and is fuzzed.
package jws

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
)

// Sentinel errors.
var (
	// ErrMalformed: the input is not a compact JWS this package accepts.
	ErrMalformed = errors.New("jws: malformed")
	// ErrTooLarge: the input exceeds the caller's size limit.
	ErrTooLarge = errors.New("jws: too large")
	// ErrUnsupported: an algorithm other than ES256, or a critical header.
	ErrUnsupported = errors.New("jws: unsupported")
	// ErrSignature: the signature does not verify.
	ErrSignature = errors.New("jws: bad signature")
)

// Key is a signing key with what a verifier needs to find and trust it.
type Key struct {
	// Signer signs SHA-256 digests with a P-256 key.
	Signer crypto.Signer
	// KeyID is the JWK kid of the public key.
	KeyID string
	// Chain is the X.509 chain (DER, leaf first) sent as x5c; may be empty.
	Chain [][]byte
}

// Header is the protected header of a compact JWS.
type Header struct {
	Alg  string   `json:"alg"`
	Typ  string   `json:"typ,omitempty"`
	Kid  string   `json:"kid,omitempty"`
	X5C  [][]byte `json:"x5c,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// Sign returns the compact ES256 JWS of payload with header typ, kid and x5c
// taken from k.
func Sign(k Key, typ string, payload []byte) (string, error) {
	h, err := json.Marshal(Header{Alg: "ES256", Typ: typ, Kid: k.KeyID, X5C: k.Chain})
	if err != nil {
		return "", fmt.Errorf("jws: header: %w", err)
	}
	enc := base64.RawURLEncoding
	var b strings.Builder
	b.Grow(enc.EncodedLen(len(h)) + enc.EncodedLen(len(payload)) + 90)
	b.WriteString(enc.EncodeToString(h))
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(payload))
	sig, err := SignES256(k.Signer, []byte(b.String()))
	if err != nil {
		return "", err
	}
	b.WriteByte('.')
	b.WriteString(enc.EncodeToString(sig))
	return b.String(), nil
}

// SignES256 signs msg with s and returns the JWS form r||s (64 bytes).
func SignES256(s crypto.Signer, msg []byte) ([]byte, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: signing key is not P-256 ECDSA", ErrUnsupported)
	}
	d := sha256.Sum256(msg)
	der, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("jws: sign: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("jws: signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// VerifyES256 checks a JWS-form (r||s) signature of msg under pub.
func VerifyES256(pub *ecdsa.PublicKey, msg, sig []byte) error {
	if pub == nil || pub.Curve != elliptic.P256() {
		return fmt.Errorf("%w: verification key is not P-256 ECDSA", ErrUnsupported)
	}
	if len(sig) != 64 {
		return fmt.Errorf("%w: signature of %d bytes", ErrSignature, len(sig))
	}
	d := sha256.Sum256(msg)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, d[:], r, s) {
		return ErrSignature
	}
	return nil
}

// Parsed is a compact JWS split and decoded, not yet verified.
type Parsed struct {
	Header  Header
	Payload []byte
	// SigningInput is the part the signature covers (header.payload).
	SigningInput []byte
	Signature    []byte
}

// Parse splits and decodes a compact JWS of at most maxLen bytes. It
// accepts only ES256, rejects any crit header, and leaves the signature
// unchecked: call [Parsed.Verify].
func Parse(compact []byte, maxLen int) (*Parsed, error) {
	if len(compact) > maxLen {
		return nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrTooLarge, len(compact), maxLen)
	}
	compact = bytes.TrimSpace(compact)
	parts := bytes.Split(compact, []byte("."))
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: %d parts, want 3", ErrMalformed, len(parts))
	}
	enc := base64.RawURLEncoding.Strict()
	dec := func(what string, s []byte) ([]byte, error) {
		out := make([]byte, enc.DecodedLen(len(s)))
		n, err := enc.Decode(out, s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrMalformed, what, err)
		}
		return out[:n], nil
	}
	hb, err := dec("header", parts[0])
	if err != nil {
		return nil, err
	}
	p := &Parsed{SigningInput: compact[:len(parts[0])+1+len(parts[1])]}
	if err := strictJSON(hb, &p.Header); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	if p.Header.Alg != "ES256" {
		return nil, fmt.Errorf("%w: alg %q", ErrUnsupported, p.Header.Alg)
	}
	if len(p.Header.Crit) > 0 {
		return nil, fmt.Errorf("%w: critical header %q", ErrUnsupported, p.Header.Crit)
	}
	if p.Payload, err = dec("payload", parts[1]); err != nil {
		return nil, err
	}
	if p.Signature, err = dec("signature", parts[2]); err != nil {
		return nil, err
	}
	return p, nil
}

// Verify checks the signature under pub.
func (p *Parsed) Verify(pub *ecdsa.PublicKey) error {
	return VerifyES256(pub, p.SigningInput, p.Signature)
}

// strictJSON is [DecodeStrict] for the header.
func strictJSON(b []byte, v any) error { return DecodeStrict(b, v) }

// DecodeStrict decodes one JSON value into v for a parser of outside
// input: member names match exactly (encoding/json would match "ALG" to
// alg), a member name twice in one object, or two names that differ only
// in case ({"alg":"none","ALG":"ES256"}), invalid UTF-8, trailing data and
// nesting deeper than 32 are refused. Such inputs are how two parsers are
// made to read different values from one signed document.
func DecodeStrict(b []byte, v any) error {
	if err := CheckNoDuplicateKeys(b); err != nil {
		return err
	}
	return jsonv2.Unmarshal(b, v)
}

// CheckNoDuplicateKeys reports an error when any JSON object in b, at any
// depth, has a member name twice, or two names equal but for case (under
// Unicode case folding), or nesting is deeper than 32.
func CheckNoDuplicateKeys(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	var stack []*jsonFrame
	for {
		t, err := d.Token()
		if errors.Is(err, io.EOF) {
			if len(stack) != 0 {
				return io.ErrUnexpectedEOF
			}
			return nil
		}
		if err != nil {
			return err
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if t == json.Delim('}') {
				stack = stack[:n-1]
				valueDone(stack)
				continue
			}
			k, _ := t.(string)
			folded := foldName(k)
			if prev, dup := top.keys[folded]; dup {
				if prev == k {
					return fmt.Errorf("duplicate member %q", k)
				}
				return fmt.Errorf("ambiguous members %q and %q (equal but for case)", prev, k)
			}
			top.keys[folded] = k
			top.wantKey = false
			continue
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= 32 {
				return errors.New("JSON nested too deep")
			}
			f := &jsonFrame{obj: t == json.Delim('{'), wantKey: true}
			if f.obj {
				f.keys = map[string]string{}
			}
			stack = append(stack, f)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
	}
}

// foldName maps names equal under Unicode case folding to one string
// (also the Kelvin sign to k and the long s to s, which encoding/json
// folds too).
func foldName(s string) string { return strings.ToLower(strings.ToUpper(s)) }

type jsonFrame struct {
	obj     bool
	wantKey bool              // the next token in this object is a member name (or '}')
	keys    map[string]string // folded name -> name as written
}

// valueDone notes that a member value finished in the enclosing object.
func valueDone(stack []*jsonFrame) {
	if n := len(stack); n > 0 && stack[n-1].obj {
		stack[n-1].wantKey = true
	}
}
