package sdjwt

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/shenfen/shenfen/credential"
)

// Batch issues SD-JWT VCs of one card that differ only in the holder key
// and the status entry: the single-use credentials of a batch (issue 17).
// What they share is prepared once: each claim's JSON value already in
// base64url (the portrait is encoded once per batch, not per credential),
// the protected header with the certificate chain, the claims that do not
// vary. Each credential still gets its own salts, decoys, digests and
// disclosure order, so no value repeats across the batch except the claim
// values themselves.
//
// A disclosure is base64url(`["<salt>","<name>",<value>]`). The salt is 16
// to 18 random bytes, its length chosen per claim name so that the part
// before the value is a multiple of 3 bytes long: the base64url of the
// whole is then that of the part before the value followed by that of
// the value and the closing bracket, which the batch keeps. Only the
// digest (SHA-256 over the whole disclosure) is computed per credential,
// as the format requires.
type Batch struct {
	p          IssueParams
	claims     []batchClaim
	containers []string // container claims (address, age_equal_or_over), sorted
	header     string   // base64url of the protected header
	fixed      []byte   // the payload's members common to the batch, JSON, without braces
}

type batchClaim struct {
	container string // "" for a top-level claim
	saltLen   int    // bytes
	name      []byte // the claim name as a JSON string
	tail      []byte // base64url of `<value JSON>]`
}

// NewBatch prepares a batch; p.Holder and p.Status are ignored (each
// credential has its own).
func NewBatch(p IssueParams) (*Batch, error) {
	if p.Signer == nil || len(p.Chain) == 0 {
		return nil, errors.New("sdjwt: issue: signer and chain are required")
	}
	if !p.ExpiresAt.After(p.IssuedAt) {
		return nil, errors.New("sdjwt: issue: expiry not after issuance")
	}
	b := &Batch{p: p}
	seen := map[string]bool{}
	for _, a := range p.Profile.Attributes(p.PID, p.IssuedAt) {
		var container, name string
		switch len(a.JWT) {
		case 1:
			name = a.JWT[0]
		case 2:
			container, name = a.JWT[0], a.JWT[1]
			if !seen[container] {
				seen[container] = true
				b.containers = append(b.containers, container)
			}
		default:
			return nil, fmt.Errorf("sdjwt: issue: claim path %v", a.JWT)
		}
		c, err := prepareClaim(container, name, jsonValue(a.Value))
		if err != nil {
			return nil, fmt.Errorf("sdjwt: issue: %s: %w", name, err)
		}
		b.claims = append(b.claims, c)
	}
	slices.Sort(b.containers)
	x5c := make([]string, len(p.Chain))
	for i, c := range p.Chain {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	h, err := json.Marshal(struct {
		Alg string   `json:"alg"`
		Typ string   `json:"typ"`
		X5c []string `json:"x5c"`
	}{"ES256", TypeVC, x5c})
	if err != nil {
		return nil, err
	}
	b.header = base64.RawURLEncoding.EncodeToString(h)
	fixed := map[string]any{
		"iss": p.Issuer, "iat": p.IssuedAt.Unix(), "nbf": p.IssuedAt.Unix(), "exp": p.ExpiresAt.Unix(),
		"vct": p.Profile.VCT, "_sd_alg": "sha-256",
	}
	if p.Profile.VCT != "" {
		// The type metadata's digest (served by the issuer, docs/interop.md).
		fixed["vct#integrity"] = p.Profile.VCTIntegrity()
	}
	f, err := json.Marshal(fixed)
	if err != nil {
		return nil, err
	}
	b.fixed = f[1 : len(f)-1]
	return b, nil
}

// prepareClaim encodes a claim's name and value once for the batch.
func prepareClaim(container, name string, value any) (batchClaim, error) {
	nj, err := json.Marshal(name)
	if err != nil {
		return batchClaim{}, err
	}
	vj, err := json.Marshal(value)
	if err != nil {
		return batchClaim{}, err
	}
	c := batchClaim{container: container, name: nj}
	// `["` salt `",` name `,` is 5 + len(salt) + len(name) bytes; salts of
	// 16, 17 and 18 bytes are 22, 23 and 24 base64url characters.
	for n := 16; n <= 18; n++ {
		if (5+base64.RawURLEncoding.EncodedLen(n)+len(nj))%3 == 0 {
			c.saltLen = n
		}
	}
	c.tail = base64.RawURLEncoding.AppendEncode(nil, append(vj, ']'))
	return c, nil
}

// Issue returns one credential of the batch, bound to holder, with status
// as its entry (nil: none).
func (b *Batch) Issue(ctx context.Context, holder *ecdsa.PublicKey, status *credential.StatusRef) (string, error) {
	if holder == nil || holder.Curve != elliptic.P256() {
		return "", errors.New("sdjwt: issue: holder key is not P-256")
	}
	src := b.p.Rand
	if src == nil {
		src = rand.Reader
	}
	rnd := bufio.NewReaderSize(src, 1024)
	hj, err := jose.JSONWebKey{Key: holder}.MarshalJSON()
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: holder key: %w", err)
	}
	h := sha256.New()
	// A disclosure is head + tail: the claims' tails are the batch's, only
	// the heads (salt and name) are the credential's own.
	type disclosure struct {
		head string
		tail []byte
	}
	discs := make([]disclosure, 0, len(b.claims)+len(b.containers))
	sds := map[string][]string{}
	var pre []byte
	for _, c := range b.claims {
		salt := make([]byte, c.saltLen)
		if _, err := io.ReadFull(rnd, salt); err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
		pre = append(pre[:0], `["`...)
		pre = base64.RawURLEncoding.AppendEncode(pre, salt)
		pre = append(pre, `",`...)
		pre = append(pre, c.name...)
		pre = append(pre, ',')
		head := base64.RawURLEncoding.EncodeToString(pre)
		discs = append(discs, disclosure{head, c.tail})
		sds[c.container] = append(sds[c.container], digestWith(h, head, c.tail))
	}
	// Containers (address, age_equal_or_over) are themselves disclosable, so
	// an undisclosed one does not even show as an empty object.
	for _, c := range b.containers {
		list := sds[c]
		if err := addDecoysWith(rnd, h, &list); err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
		slices.Sort(list)
		d, digest, err := newDisclosure(rnd, c, map[string]any{"_sd": list})
		if err != nil {
			return "", fmt.Errorf("sdjwt: issue: %w", err)
		}
		discs = append(discs, disclosure{head: d})
		sds[""] = append(sds[""], digest)
	}
	top := sds[""]
	if err := addDecoysWith(rnd, h, &top); err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	slices.Sort(top)
	// Disclosure order would tell which digest is which; shuffle it.
	if err := shuffleFast(rnd, len(discs), func(i, j int) { discs[i], discs[j] = discs[j], discs[i] }); err != nil {
		return "", fmt.Errorf("sdjwt: issue: %w", err)
	}
	var payload []byte
	payload = append(payload, '{')
	payload = append(payload, b.fixed...)
	payload = append(payload, `,"cnf":{"jwk":`...)
	payload = append(payload, hj...)
	payload = append(payload, `},"_sd":`...)
	if payload, err = appendJSON(payload, top); err != nil {
		return "", err
	}
	if status != nil {
		payload = append(payload, `,"status":{"status_list":{"idx":`...)
		payload = fmt.Appendf(payload, "%d", status.Index)
		payload = append(payload, `,"uri":`...)
		if payload, err = appendJSON(payload, status.URI); err != nil {
			return "", err
		}
		payload = append(payload, "}}"...)
	}
	payload = append(payload, '}')
	input := b.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := opaque{b.p.Signer}.SignPayload([]byte(input), jose.ES256)
	if err != nil {
		return "", fmt.Errorf("sdjwt: issue: sign: %w", err)
	}
	n := len(input) + 1 + base64.RawURLEncoding.EncodedLen(len(sig)) + 1
	for _, d := range discs {
		n += len(d.head) + len(d.tail) + 1
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.WriteString(input)
	sb.WriteByte('.')
	sb.WriteString(base64.RawURLEncoding.EncodeToString(sig))
	sb.WriteByte('~')
	for _, d := range discs {
		sb.WriteString(d.head)
		sb.Write(d.tail)
		sb.WriteByte('~')
	}
	return sb.String(), nil
}

func appendJSON(dst []byte, v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, j...), nil
}

// digestWith is digestOf over a disclosure given in two parts.
func digestWith(h hash.Hash, head string, tail []byte) string {
	h.Reset()
	io.WriteString(h, head)
	h.Write(tail)
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// addDecoysWith pads list with 1-4 random digests and up to a multiple of
// 4, so the number of real claims does not show.
func addDecoysWith(rnd io.Reader, h hash.Hash, list *[]string) error {
	var b [1]byte
	if _, err := io.ReadFull(rnd, b[:]); err != nil {
		return err
	}
	n := 1 + int(b[0]%4)
	for (len(*list)+n)%4 != 0 {
		n++
	}
	var r [32]byte
	for range n {
		if _, err := io.ReadFull(rnd, r[:]); err != nil {
			return err
		}
		*list = append(*list, digestWith(h, base64.RawURLEncoding.EncodeToString(r[:]), nil))
	}
	return nil
}

// shuffleFast is a Fisher-Yates shuffle of n elements drawing unbiased
// indexes from rnd (rejection sampling on 32-bit values).
func shuffleFast(rnd io.Reader, n int, swap func(i, j int)) error {
	var b [4]byte
	for i := n - 1; i > 0; i-- {
		m := uint32(i + 1)
		limit := ^uint32(0) - ^uint32(0)%m // a multiple of m: v % m is uniform below it
		for {
			if _, err := io.ReadFull(rnd, b[:]); err != nil {
				return err
			}
			if v := binary.LittleEndian.Uint32(b[:]); v < limit {
				swap(i, int(v%m))
				break
			}
		}
	}
	return nil
}
