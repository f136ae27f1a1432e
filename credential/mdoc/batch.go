package mdoc

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"

	"github.com/shenfen/shenfen/credential"
)

// Batch issues mdocs of one card that differ only in the holder key and
// the status entry: the single-use credentials of a batch (issue 17).
// Each element's identifier and value are encoded once per batch (the
// portrait's bytes once, not per credential); each credential gets its own
// randoms, digest IDs and digests, so no value repeats across the batch
// except the element values themselves.
type Batch struct {
	p      IssueParams
	items  []batchItem
	signer cose.Signer
	chain  any
}

// batchItem is one element, encoded: the value and the identifier as the
// IssuerSignedItem carries them.
type batchItem struct {
	ident, value []byte
}

// The IssuerSignedItem's keys as core deterministic encoding orders them
// (shorter first): random, digestID, elementValue, elementIdentifier.
var (
	keyRandom   = []byte("\x66random")
	keyDigestID = []byte("\x68digestID")
	keyValue    = []byte("\x6celementValue")
	keyIdent    = []byte("\x71elementIdentifier")
)

// NewBatch prepares a batch; p.Holder and p.Status are ignored (each
// credential has its own).
func NewBatch(p IssueParams) (*Batch, error) {
	if p.Signer == nil || len(p.Chain) == 0 {
		return nil, errors.New("mdoc: issue: signer and chain are required")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return nil, errors.New("mdoc: issue: expiry not after issuance")
	}
	b := &Batch{p: p, chain: x5chain(p.Chain)}
	for _, a := range p.Profile.Attributes(p.PID, p.IssuedAt) {
		v, err := encMode.Marshal(cborValue(a.Value))
		if err != nil {
			return nil, fmt.Errorf("mdoc: issue: %s: %w", a.Mdoc, err)
		}
		id, err := encMode.Marshal(a.Mdoc)
		if err != nil {
			return nil, fmt.Errorf("mdoc: issue: %s: %w", a.Mdoc, err)
		}
		b.items = append(b.items, batchItem{ident: id, value: v})
	}
	s, err := cose.NewSigner(cose.AlgorithmES256, p.Signer)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	b.signer = s
	return b, nil
}

// Issue returns one credential of the batch (an encoded IssuerSigned),
// bound to holder, with status as its entry (nil: none).
func (b *Batch) Issue(ctx context.Context, holder *ecdsa.PublicKey, status *credential.StatusRef) ([]byte, error) {
	if holder == nil {
		return nil, errors.New("mdoc: issue: holder key is required")
	}
	src := b.p.Rand
	if src == nil {
		src = rand.Reader
	}
	rnd := bufio.NewReaderSize(src, 1024)
	n := len(b.items)
	// Digest IDs are a random permutation so their order tells nothing.
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = uint64(i)
	}
	var r4 [4]byte
	for i := n - 1; i > 0; i-- {
		m := uint32(i + 1)
		limit := ^uint32(0) - ^uint32(0)%m
		for {
			if _, err := io.ReadFull(rnd, r4[:]); err != nil {
				return nil, fmt.Errorf("mdoc: issue: %w", err)
			}
			if v := binary.LittleEndian.Uint32(r4[:]); v < limit {
				j := v % m
				ids[i], ids[j] = ids[j], ids[i]
				break
			}
		}
	}
	items := make([]cbor.RawMessage, n)
	digests := make(digestMap, n)
	sums := make([]byte, n*sha256.Size)
	for i, it := range b.items {
		var idh [9]byte
		id := appendHead(idh[:0], 0, ids[i])
		size := 1 + len(keyRandom) + 1 + 16 + len(keyDigestID) + len(id) + len(keyValue) + len(it.value) + len(keyIdent) + len(it.ident)
		item := make([]byte, 0, 2+9+size)
		item = append(item, 0xd8, 0x18) // #6.24
		item = appendHead(item, 2, uint64(size))
		item = append(item, 0xa4)
		item = append(item, keyRandom...)
		item = append(item, 0x50) // bstr(16)
		item = append(item, make([]byte, 16)...)
		if _, err := io.ReadFull(rnd, item[len(item)-16:]); err != nil {
			return nil, fmt.Errorf("mdoc: issue: %w", err)
		}
		item = append(item, keyDigestID...)
		item = append(item, id...)
		item = append(item, keyValue...)
		item = append(item, it.value...)
		item = append(item, keyIdent...)
		item = append(item, it.ident...)
		d := sha256.Sum256(item)
		sum := sums[i*sha256.Size : (i+1)*sha256.Size]
		copy(sum, d[:])
		digests[ids[i]] = sum
		items[i] = item
	}
	dk, err := coseKeyOf(holder)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	m := mso{
		Version: "1.0", DigestAlgorithm: "SHA-256",
		ValueDigests:  map[string]digestMap{b.p.Profile.Namespace: digests},
		DeviceKeyInfo: deviceKeyInfo{DeviceKey: dk},
		DocType:       b.p.Profile.DocType,
		ValidityInfo:  validityInfo{Signed: tdate(b.p.IssuedAt), ValidFrom: tdate(b.p.IssuedAt), ValidUntil: tdate(b.p.ExpiresAt)},
	}
	if status != nil {
		m.Status = &statusClaim{}
		m.Status.StatusList.Idx = uint64(status.Index)
		m.Status.StatusList.URI = status.URI
	}
	payload, err := tag24(m)
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: MSO: %w", err)
	}
	msg := cose.UntaggedSign1Message{
		Headers: cose.Headers{Protected: cose.ProtectedHeader{cose.HeaderLabelAlgorithm: cose.AlgorithmES256},
			Unprotected: cose.UnprotectedHeader{cose.HeaderLabelX5Chain: b.chain}},
		Payload: payload,
	}
	if err := msg.Sign(rand.Reader, nil, b.signer); err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	auth, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	out, err := encMode.Marshal(IssuerSigned{NameSpaces: map[string][]cbor.RawMessage{b.p.Profile.Namespace: items}, IssuerAuth: auth})
	if err != nil {
		return nil, fmt.Errorf("mdoc: issue: %w", err)
	}
	return out, nil
}
