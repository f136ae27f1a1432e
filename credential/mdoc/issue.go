package mdoc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
)

// IssueParams is what [Issue] needs.
type IssueParams struct {
	Profile credential.Profile
	PID     credential.PID
	// Holder is the device key (P-256) put in DeviceKeyInfo.
	Holder *ecdsa.PublicKey
	// Status is the card's status-list entry (nil: none).
	Status *credential.StatusRef
	// IssuedAt is validityInfo.signed and validFrom; ExpiresAt validUntil.
	IssuedAt, ExpiresAt time.Time
	// Signer signs the MSO (ES256); Chain (leaf first) goes in x5chain.
	Signer crypto.Signer
	Chain  []*x509.Certificate
	// Rand is the source of item randoms and digest IDs (nil: crypto/rand).
	Rand io.Reader
}

// Issue returns the card as an encoded IssuerSigned structure (the form
// OpenID4VCI returns for the mso_mdoc format).
func Issue(ctx context.Context, p IssueParams) ([]byte, error) {
	if p.Signer == nil || len(p.Chain) == 0 || p.Holder == nil {
		return nil, errors.New("mdoc: issue: signer, chain and holder key are required")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return nil, errors.New("mdoc: issue: expiry not after issuance")
	}
	rnd := p.Rand
	if rnd == nil {
		rnd = rand.Reader
	}
	attrs := p.Profile.Attributes(p.PID, p.IssuedAt)
	// Digest IDs are a random permutation so their order tells nothing.
	ids := make([]uint64, len(attrs))
	for i := range ids {
		ids[i] = uint64(i)
	}
	for i := len(ids) - 1; i > 0; i-- {
		n, err := rand.Int(rnd, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, fmt.Errorf("mdoc: issue: %w", err)
		}
		j := n.Int64()
		ids[i], ids[j] = ids[j], ids[i]
	}
	ns := p.Profile.Namespace
	items := make([]cbor.RawMessage, 0, len(attrs))
	digests := digestMap{}
	for i, a := range attrs {
		random := make([]byte, 16)
		if _, err := io.ReadFull(rnd, random); err != nil {
			return nil, fmt.Errorf("mdoc: issue: %w", err)
		}
		b, err := tag24(issuerSignedItem{DigestID: ids[i], Random: random, ElementIdentifier: a.Mdoc, ElementValue: cborValue(a.Value)})
		if err != nil {
			return nil, fmt.Errorf("mdoc: issue: %s: %w", a.Mdoc, err)
		}
		d := sha256.Sum256(b)
		digests[ids[i]] = d[:]
		items = append(items, b)
	}
	dk, err := coseKeyOf(p.Holder)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	m := mso{
		Version: "1.0", DigestAlgorithm: "SHA-256",
		ValueDigests:  map[string]digestMap{ns: digests},
		DeviceKeyInfo: deviceKeyInfo{DeviceKey: dk},
		DocType:       p.Profile.DocType,
		ValidityInfo:  validityInfo{Signed: tdate(p.IssuedAt), ValidFrom: tdate(p.IssuedAt), ValidUntil: tdate(p.ExpiresAt)},
	}
	if p.Status != nil {
		m.Status = &statusClaim{}
		m.Status.StatusList.Idx = uint64(p.Status.Index)
		m.Status.StatusList.URI = p.Status.URI
	}
	payload, err := tag24(m)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: MSO: %w", err)
	}
	auth, err := sign1(p.Signer, payload, x5chain(p.Chain), false)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	out, err := encMode.Marshal(IssuerSigned{NameSpaces: map[string][]cbor.RawMessage{ns: items}, IssuerAuth: auth})
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	return out, nil
}

// x5chain is the COSE x5chain header value: one bstr for a single
// certificate, else an array of them.
func x5chain(chain []*x509.Certificate) any {
	if len(chain) == 1 {
		return chain[0].Raw
	}
	out := make([][]byte, len(chain))
	for i, c := range chain {
		out[i] = c.Raw
	}
	return out
}

// sign1 makes an untagged COSE_Sign1 over payload with ES256; detached
// leaves the payload out (nil) of the encoding.
func sign1(s crypto.Signer, payload []byte, chain any, detached bool) ([]byte, error) {
	signer, err := cose.NewSigner(cose.AlgorithmES256, s)
	if err != nil {
		return nil, err
	}
	msg := cose.UntaggedSign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256}},
		Payload: payload,
	}
	if chain != nil {
		msg.Headers.Unprotected = cose.UnprotectedHeader{cose.HeaderLabelX5Chain: chain}
	}
	if err := msg.Sign(rand.Reader, nil, signer); err != nil {
		return nil, err
	}
	if detached {
		msg.Payload = nil
	}
	return msg.MarshalCBOR()
}

func coseKeyOf(pub *ecdsa.PublicKey) (coseKey, error) {
	b, err := pub.Bytes()
	if err != nil || len(b) != 65 {
		return coseKey{}, fmt.Errorf("holder key is not P-256")
	}
	return coseKey{Kty: 2, Crv: 1, X: b[1:33], Y: b[33:]}, nil
}
