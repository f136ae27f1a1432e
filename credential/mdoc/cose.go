package mdoc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
)

// sign1Msg is an untagged COSE_Sign1 (RFC 9052 4.2) as the verifier
// decodes it, in the same pass as the DeviceResponse around it: the
// protected header is kept as its received bytes (the Sig_structure is
// built from them, never from a re-encoding) and parsed once for the
// algorithm; the unprotected header is decoded into the labels mdoc uses.
// The signature itself is verified by go-cose's ES256 verifier.
type sign1Msg struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected unprotectedHeader
	Payload     []byte // nil when detached (CBOR null)
	Signature   []byte

	alg int64 // from the protected header
	// protX5Chain is an x5chain found in the protected header (rare; the
	// mdoc profile puts it in the unprotected one).
	protX5Chain cbor.RawMessage
}

// unprotectedHeader holds the unprotected header labels mdoc uses; others
// are skipped. alg and crit must be protected, so their presence here is an
// error.
type unprotectedHeader struct {
	Alg     cbor.RawMessage `cbor:"1,keyasint,omitempty"`
	Crit    cbor.RawMessage `cbor:"2,keyasint,omitempty"`
	KID     []byte          `cbor:"4,keyasint,omitempty"`
	X5Chain cbor.RawMessage `cbor:"33,keyasint,omitempty"`
}

// sign1Fields has sign1Msg's layout without its UnmarshalCBOR method.
type sign1Fields sign1Msg

// es256Protected is the usual protected header, {1: -7}; it is recognised
// without decoding.
var es256Protected = []byte{0xa1, 0x01, 0x26}

// UnmarshalCBOR decodes an untagged COSE_Sign1 strictly (a tagged one, tag
// 18, is refused as 18013-5 uses the untagged form) and parses its
// protected header.
func (m *sign1Msg) UnmarshalCBOR(data []byte) error {
	if len(data) == 0 || data[0] != 0x84 {
		return errors.New("COSE_Sign1 is not an untagged array of four")
	}
	if err := decode(data, (*sign1Fields)(m)); err != nil {
		return err
	}
	if m.Unprotected.Alg != nil || m.Unprotected.Crit != nil {
		return errors.New("COSE_Sign1: alg or crit in the unprotected header")
	}
	if m.Signature == nil {
		return errors.New("COSE_Sign1: signature is not a byte string")
	}
	return m.parseProtected()
}

// parseProtected reads the algorithm (and an x5chain) from the protected
// header: a map with integer or text labels, no duplicates, no crit
// (this verifier understands no critical extension).
func (m *sign1Msg) parseProtected() error {
	if bytes.Equal(m.Protected, es256Protected) {
		m.alg = int64(cose.AlgorithmES256)
		return nil
	}
	if len(m.Protected) == 0 {
		return errors.New("COSE_Sign1: empty protected header (no algorithm)")
	}
	var h map[any]cbor.RawMessage
	if err := decode(m.Protected, &h); err != nil {
		return fmt.Errorf("COSE_Sign1 protected header: %w", err)
	}
	for k := range h {
		switch k.(type) {
		case int64, string:
		default:
			return fmt.Errorf("COSE_Sign1 protected header: label of type %T", k)
		}
	}
	if _, ok := h[int64(cose.HeaderLabelCritical)]; ok {
		return errors.New("COSE_Sign1: critical header parameters are not supported")
	}
	raw, ok := h[int64(cose.HeaderLabelAlgorithm)]
	if !ok {
		return errors.New("COSE_Sign1: no algorithm in the protected header")
	}
	if err := decode(raw, &m.alg); err != nil {
		return fmt.Errorf("COSE_Sign1: algorithm is not an integer: %w", err)
	}
	m.protX5Chain = h[int64(cose.HeaderLabelX5Chain)]
	return nil
}

// verify checks the signature over the Sig_structure ["Signature1",
// protected, external_aad (empty), payload] (RFC 9052 4.4), payload being
// the detached content when given. The Sig_structure is hashed from the received bytes
// as it is streamed, not built.
func (m *sign1Msg) verify(vr cose.DigestVerifier, detached []byte) error {
	if m.alg != int64(cose.AlgorithmES256) {
		return fmt.Errorf("algorithm %d, want ES256 (-7)", m.alg)
	}
	payload := m.Payload
	if detached != nil {
		payload = detached
	}
	h := sha256.New()
	var buf [32]byte
	b := append(buf[:0], 0x84, 0x6a)
	b = append(b, "Signature1"...)
	b = appendHead(b, majorBytes, uint64(len(m.Protected)))
	h.Write(b)
	h.Write(m.Protected)
	b = append(buf[:0], 0x40) // external_aad: empty
	b = appendHead(b, majorBytes, uint64(len(payload)))
	h.Write(b)
	h.Write(payload)
	return vr.VerifyDigest(h.Sum(buf[:0]), m.Signature)
}

// x5chain returns the issuer chain from the x5chain header (a byte string
// or an array of them) or, failing that, the cached certificate named by
// the kid header (the compact form).
func (m *sign1Msg) x5chain(a *credential.Anchors) ([][]byte, error) {
	x := m.Unprotected.X5Chain
	if x == nil {
		x = m.protX5Chain
	}
	if x == nil {
		if m.Unprotected.KID != nil {
			der, found := a.ByKID(m.Unprotected.KID)
			if !found {
				return nil, fmt.Errorf("%w: issuer certificate %x not cached", credential.ErrUntrusted, m.Unprotected.KID)
			}
			return [][]byte{der}, nil
		}
		return nil, fmt.Errorf("%w: no x5chain in issuerAuth", credential.ErrUntrusted)
	}
	switch major, _, _, _ := head(x); major {
	case majorBytes:
		der, err := bstrContent(x, "x5chain")
		if err != nil {
			return nil, err
		}
		return [][]byte{der}, nil
	case majorArray:
		var out [][]byte
		if err := unmarshal(x, &out, "x5chain"); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: x5chain is neither a certificate nor an array of them", credential.ErrMalformed)
}

// maxVerifiers bounds the cache of issuer verifiers; it is emptied when full.
const maxVerifiers = 1024

// issuerVerifiers caches go-cose verifiers by issuer key: the key of a
// cached chain ([credential.Anchors]) is the same pointer on every
// presentation, so its verifier (whose construction checks the point) is
// made once.
var (
	issuerVerifiers sync.Map // *ecdsa.PublicKey -> cose.DigestVerifier
	nVerifiers      atomic.Int64
)

func issuerVerifier(pub *ecdsa.PublicKey) (cose.DigestVerifier, error) {
	if v, ok := issuerVerifiers.Load(pub); ok {
		return v.(cose.DigestVerifier), nil
	}
	v, err := digestVerifier(pub)
	if err != nil {
		return nil, err
	}
	if nVerifiers.Add(1) > maxVerifiers {
		issuerVerifiers.Clear()
		nVerifiers.Store(1)
	}
	issuerVerifiers.Store(pub, v)
	return v, nil
}

// digestVerifier is go-cose's ES256 verifier for pub.
func digestVerifier(pub *ecdsa.PublicKey) (cose.DigestVerifier, error) {
	v, err := cose.NewVerifier(cose.AlgorithmES256, pub)
	if err != nil {
		return nil, err
	}
	dv, ok := v.(cose.DigestVerifier)
	if !ok {
		return nil, errors.New("go-cose ES256 verifier does not verify digests")
	}
	return dv, nil
}
