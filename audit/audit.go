// Package audit is shenfen's transparency log and the citizen's disclosure
// history.
//
// The log is an append-only Merkle tree in the style of Certificate
// Transparency (RFC 6962, with the verification algorithms of RFC 9162):
// leaves are events (a card issued, a status changed, a disclosure made,
// a key rotated) hashed as SHA-256(0x00 || leaf), interior nodes as
// SHA-256(0x01 || left || right). The authority signs tree heads (size,
// time, root) with its document-signer key; an auditor keeps the last head
// it saw, asks for a consistency proof to the next one (so history was not
// rewritten), and asks for inclusion proofs of the events it cares about
// (so a card it meets was logged: the authority issued nothing in secret).
// Leaves hold no personal data: disclosures appear only as salted
// commitments that the citizen, who can read the salt, can check.
//
// Tree heads are published twice with the same size and root: as a JWS
// signed by the document signer (verifiable with the trust list) and as a
// C2SP tlog-checkpoint signed note with an Ed25519 note key, the format
// witnesses and monitors follow (checkpoint.go). The Merkle tree itself is
// github.com/transparency-dev/merkle's (merkle.go).
//
// The store keeps every perfect subtree hash as it completes, so appending
// costs O(log n) row writes and any proof O(log n) row reads, whatever
// the size of the log.
//
// The disclosure history (who saw which claims of mine, when, over which
// channel) is written by the OpenID Provider, the OpenID4VP verifier and
// in-person presentations, sealed at rest, keyed by an opaque subject key
// (the registry's blind index), and read by the wallet.
//
// The package imports no HTTP and no SQL: the store implements [Store];
// the auditor endpoints live in package trustapi.
package audit

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shenfen/shenfen/keys/jws"
)

// Event types.
const (
	EventIssuance    = "issuance"
	EventStatus      = "status"
	EventDisclosure  = "disclosure"
	EventKeyRotation = "key-rotation"
)

// Event is one leaf of the log. It must carry no personal data: refer to
// cards by status reference and by digests.
type Event struct {
	// Type is one of the Event* constants (or another short lower-case word).
	Type string `json:"type"`
	// At is when it happened (stored to the second, UTC).
	At time.Time `json:"at"`
	// Ref identifies the object: a status list entry "URI#index", a key id.
	Ref string `json:"ref,omitempty"`
	// Digest is a base64url SHA-256: of the issuer-signed credential for an
	// issuance, of a disclosure's commitment for a disclosure.
	Digest string `json:"digest,omitempty"`
	// Attrs are further non-personal attributes (format, new status).
	Attrs map[string]string `json:"attrs,omitempty"`
}

// MaxEventBytes bounds an encoded event.
const MaxEventBytes = 4096

// ErrInvalid: an event or disclosure that may not be logged.
var ErrInvalid = errors.New("audit: invalid entry")

// ErrNotFound: no such leaf or tree head.
var ErrNotFound = errors.New("audit: not found")

// Encode returns the canonical leaf bytes of e (JSON, attributes in key
// order).
func (e Event) Encode() ([]byte, error) {
	if e.Type == "" || len(e.Type) > 32 {
		return nil, fmt.Errorf("%w: event type %q", ErrInvalid, e.Type)
	}
	if e.At.IsZero() {
		return nil, fmt.Errorf("%w: event without time", ErrInvalid)
	}
	e.At = e.At.UTC().Truncate(time.Second)
	b, err := json.Marshal(e) // encoding/json sorts map keys
	if err != nil {
		return nil, err
	}
	if len(b) > MaxEventBytes {
		return nil, fmt.Errorf("%w: event of %d bytes", ErrInvalid, len(b))
	}
	return b, nil
}

// Issuance is the event of a card issued: its status entry, format, and
// the digest of the issuer-signed part (the SD-JWT issuer JWT, or the
// mdoc IssuerAuth) so that whoever holds the card can find it in the log.
func Issuance(at time.Time, statusURI string, statusIndex int, format string, issuerSigned []byte) Event {
	d := sha256.Sum256(issuerSigned)
	return Event{Type: EventIssuance, At: at, Ref: fmt.Sprintf("%s#%d", statusURI, statusIndex),
		Digest: base64.RawURLEncoding.EncodeToString(d[:]), Attrs: map[string]string{"format": format}}
}

// StatusChange is the event of a card's status set (suspended, revoked, reinstated).
func StatusChange(at time.Time, statusURI string, statusIndex int, status string) Event {
	return Event{Type: EventStatus, At: at, Ref: fmt.Sprintf("%s#%d", statusURI, statusIndex),
		Attrs: map[string]string{"status": status}}
}

// Leaf is one stored leaf.
type Leaf struct {
	Index uint64
	Data  []byte
	Hash  Hash
	// Issuance is the digest of an issuance event (empty for other
	// events): the store indexes it so that a holder finds its card's
	// leaf ([Store.IssuanceLeaf]). Not stored on reads.
	Issuance string
}

// TreeHead is a signed tree head.
type TreeHead struct {
	Size      uint64    `json:"tree_size"`
	Timestamp time.Time `json:"-"`
	Root      Hash      `json:"-"`
	// JWS is the compact ES256 signature over the head's JSON
	// ({"tree_size","timestamp" (ms),"root_hash" (base64)}).
	JWS string `json:"-"`
}

type treeHeadJSON struct {
	Size      uint64 `json:"tree_size"`
	Timestamp int64  `json:"timestamp"`
	Root      []byte `json:"root_hash"`
}

// TreeHeadType is the typ of signed tree head JWSs.
const TreeHeadType = "shenfen-sth+jwt"

// Tx is the store's view inside the append transaction, which holds the
// log's write lock.
type Tx interface {
	NodeReader
	// Size is the current number of leaves.
	Size(ctx context.Context) (uint64, error)
	// Append stores leaf data at index (= Size) with its completed nodes
	// and sets the size to index+1.
	Append(ctx context.Context, l Leaf, nodes []Node) error
	// PutDisclosure stores a disclosure record with the leaf index
	// that commits to it.
	PutDisclosure(ctx context.Context, d StoredDisclosure) error
}

// Node is a stored subtree hash.
type Node struct {
	Level uint8
	Index uint64
	Hash  Hash
}

// Store keeps the log.
type Store interface {
	NodeReader
	// AuditTx runs fn in one transaction holding the log's write lock.
	AuditTx(ctx context.Context, fn func(Tx) error) error
	// AuditSize is the current number of leaves.
	AuditSize(ctx context.Context) (uint64, error)
	// AuditLeaf returns one leaf, or an error wrapping [ErrNotFound].
	AuditLeaf(ctx context.Context, index uint64) (Leaf, error)
	// SaveTreeHead stores a signed head (one per size; a second for the
	// same size is ignored).
	SaveTreeHead(ctx context.Context, h TreeHead) error
	// LatestTreeHead returns the largest signed head, or [ErrNotFound].
	LatestTreeHead(ctx context.Context) (TreeHead, error)
	// TreeHeadAt returns the signed head of a size, or [ErrNotFound].
	TreeHeadAt(ctx context.Context, size uint64) (TreeHead, error)
	// Disclosures returns a subject's disclosures, newest first, at most limit.
	Disclosures(ctx context.Context, subject string, limit int) ([]StoredDisclosure, error)
	// IssuanceLeaf returns the index of the issuance leaf whose digest is
	// digest, or an error wrapping [ErrNotFound].
	IssuanceLeaf(ctx context.Context, digest string) (uint64, error)
}

// KeySource gives the key that signs tree heads.
type KeySource interface {
	SigningKey(ctx context.Context) (jws.Key, error)
}

// Sealer encrypts disclosure records at rest (package seal).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Log is the transparency log and disclosure history.
type Log struct {
	store  Store
	keys   KeySource
	sealer Sealer
	note   note.Signer // signs checkpoints (nil: none)
	// lastCP is the last checkpoint signed (Ed25519 is deterministic: the
	// same tree gives the same bytes, so it is served again until the
	// tree grows).
	cpMu   sync.Mutex
	lastCP struct {
		size uint64
		root Hash
		msg  []byte
	}
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// New returns a log over st, signing heads with keys and sealing
// disclosures with sealer.
func New(st Store, keys KeySource, sealer Sealer) *Log {
	return &Log{store: st, keys: keys, sealer: sealer}
}

func (l *Log) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Append adds an event and returns its leaf index.
func (l *Log) Append(ctx context.Context, e Event) (uint64, error) {
	data, err := e.Encode()
	if err != nil {
		return 0, err
	}
	var idx uint64
	err = l.store.AuditTx(ctx, func(tx Tx) error {
		var err error
		idx, err = appendLeaf(ctx, tx, data, issuanceDigest(e))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: append: %w", err)
	}
	return idx, nil
}

// EventBatchIssuance is the event of a batch of single-use credentials
// (package oid4vc): its digest is SHA-256 over the SHA-256 digests of the
// batch's issuer-signed parts, in order.
const EventBatchIssuance = "batch-issuance"

// issuanceDigest is the digest an issuance or batch-issuance event is
// found by ([Log.IssuanceProof]).
func issuanceDigest(e Event) string {
	if e.Type == EventIssuance || e.Type == EventBatchIssuance {
		return e.Digest
	}
	return ""
}

func appendLeaf(ctx context.Context, tx Tx, data []byte, issuance string) (uint64, error) {
	n, err := tx.Size(ctx)
	if err != nil {
		return 0, err
	}
	h := HashLeaf(data)
	nodes, err := completed(ctx, tx, n, h)
	if err != nil {
		return 0, err
	}
	return n, tx.Append(ctx, Leaf{Index: n, Data: data, Hash: h, Issuance: issuance}, nodes)
}

// Size is the current number of leaves.
func (l *Log) Size(ctx context.Context) (uint64, error) { return l.store.AuditSize(ctx) }

// Leaf returns a leaf's data.
func (l *Log) Leaf(ctx context.Context, index uint64) (Leaf, error) {
	return l.store.AuditLeaf(ctx, index)
}

// STH returns a signed head of the current tree, signing (and storing) a
// new one when the tree grew since the last.
func (l *Log) STH(ctx context.Context) (TreeHead, error) {
	size, err := l.store.AuditSize(ctx)
	if err != nil {
		return TreeHead{}, err
	}
	last, err := l.store.LatestTreeHead(ctx)
	if err == nil && last.Size == size {
		return last, nil
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return TreeHead{}, err
	}
	root, err := RootHash(ctx, l.store, size)
	if err != nil {
		return TreeHead{}, err
	}
	k, err := l.keys.SigningKey(ctx)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: signing key: %w", err)
	}
	now := l.now().UTC().Truncate(time.Millisecond)
	payload, _ := json.Marshal(treeHeadJSON{Size: size, Timestamp: now.UnixMilli(), Root: root[:]})
	sig, err := jws.Sign(k, TreeHeadType, payload)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: sign tree head: %w", err)
	}
	h := TreeHead{Size: size, Timestamp: now, Root: root, JWS: sig}
	if err := l.store.SaveTreeHead(ctx, h); err != nil {
		return TreeHead{}, err
	}
	// Another process may have signed this size first: serve the stored one.
	if stored, err := l.store.TreeHeadAt(ctx, size); err == nil {
		return stored, nil
	}
	return h, nil
}

// TreeHeadAt returns the stored signed head of a size.
func (l *Log) TreeHeadAt(ctx context.Context, size uint64) (TreeHead, error) {
	return l.store.TreeHeadAt(ctx, size)
}

// InclusionProof proves leaf index is in the tree of size leaves.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([]Hash, error) {
	if err := l.checkSize(ctx, size); err != nil {
		return nil, err
	}
	return InclusionProof(ctx, l.store, index, size)
}

// ConsistencyProof proves the tree of size1 is a prefix of that of size2.
func (l *Log) ConsistencyProof(ctx context.Context, size1, size2 uint64) ([]Hash, error) {
	if err := l.checkSize(ctx, size2); err != nil {
		return nil, err
	}
	return ConsistencyProof(ctx, l.store, size1, size2)
}

// IssuanceProof finds the issuance leaf of a digest (the base64url
// SHA-256 of the issuer-signed credential, [Issuance], or a batch's digest,
// [EventBatchIssuance]) and proves it in
// the tree of size leaves. A digest never logged, or logged after that
// tree, wraps [ErrNotFound].
func (l *Log) IssuanceProof(ctx context.Context, digest string, size uint64) (Leaf, []Hash, error) {
	if b, err := base64.RawURLEncoding.Strict().DecodeString(digest); err != nil || len(b) != sha256.Size {
		return Leaf{}, nil, fmt.Errorf("%w: digest is not a base64url SHA-256", ErrProof)
	}
	if err := l.checkSize(ctx, size); err != nil {
		return Leaf{}, nil, err
	}
	idx, err := l.store.IssuanceLeaf(ctx, digest)
	if err != nil {
		return Leaf{}, nil, err
	}
	if idx >= size {
		return Leaf{}, nil, fmt.Errorf("%w: logged after the tree of %d", ErrNotFound, size)
	}
	leaf, err := l.store.AuditLeaf(ctx, idx)
	if err != nil {
		return Leaf{}, nil, err
	}
	p, err := InclusionProof(ctx, l.store, idx, size)
	if err != nil {
		return Leaf{}, nil, err
	}
	return leaf, p, nil
}

func (l *Log) checkSize(ctx context.Context, size uint64) error {
	cur, err := l.store.AuditSize(ctx)
	if err != nil {
		return err
	}
	if size > cur {
		return fmt.Errorf("%w: tree size %d beyond the log's %d", ErrProof, size, cur)
	}
	return nil
}

// VerifyTreeHead checks a signed tree head's JWS under pub and returns
// its content.
func VerifyTreeHead(compact string, pub *ecdsa.PublicKey) (TreeHead, error) {
	p, err := jws.Parse([]byte(compact), 8192)
	if err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head: %v", ErrProof, err)
	}
	if p.Header.Typ != TreeHeadType {
		return TreeHead{}, fmt.Errorf("%w: tree head typ %q", ErrProof, p.Header.Typ)
	}
	if err := p.Verify(pub); err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head: %v", ErrProof, err)
	}
	var j treeHeadJSON
	if err := jws.DecodeStrict(p.Payload, &j); err != nil || len(j.Root) != 32 {
		return TreeHead{}, fmt.Errorf("%w: tree head payload", ErrProof)
	}
	h := TreeHead{Size: j.Size, Timestamp: time.UnixMilli(j.Timestamp).UTC(), JWS: compact}
	copy(h.Root[:], j.Root)
	return h, nil
}

// Disclosure is one disclosure of a citizen's data to a relying party.
type Disclosure struct {
	// Subject is the citizen's opaque key (the registry's blind index,
	// never the ID number).
	Subject string `json:"-"`
	// RP is the relying party's identifier (client id, verifier id).
	RP string `json:"rp"`
	// RPName is the relying party's display name.
	RPName string `json:"rp_name,omitempty"`
	// Claims are the names of the claims disclosed.
	Claims []string `json:"claims"`
	// Channel is "oidc", "oid4vp" or "in-person".
	Channel string `json:"channel"`
	// At is when.
	At time.Time `json:"at"`
}

// Channels.
const (
	ChannelOIDC     = "oidc"
	ChannelOID4VP   = "oid4vp"
	ChannelInPerson = "in-person"
)

// StoredDisclosure is a disclosure as the store keeps it: subject and
// time in the clear (to list a history), the rest sealed.
type StoredDisclosure struct {
	Subject   string
	At        time.Time
	LeafIndex uint64
	Sealed    []byte
}

// Recorded is a disclosure read back, with what the citizen needs to check
// it is in the log: the leaf index and the commitment's salt.
type Recorded struct {
	Disclosure
	LeafIndex uint64 `json:"leaf_index"`
	// Salt opens the commitment in the leaf's digest (see [Commitment]).
	Salt []byte `json:"salt"`
}

type sealedDisclosure struct {
	D    Disclosure `json:"d"`
	Salt []byte     `json:"salt"`
}

// Commitment is the digest a disclosure's leaf carries:
// SHA-256(salt || subject || 0x00 || canonical JSON of the disclosure).
func Commitment(d Disclosure, salt []byte) (string, error) {
	d.At = d.At.UTC().Truncate(time.Second)
	b, err := json.Marshal(d)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write(salt)
	h.Write([]byte(d.Subject))
	h.Write([]byte{0})
	h.Write(b)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

func (d *Disclosure) check() error {
	switch {
	case d.Subject == "" || len(d.Subject) > 128:
		return fmt.Errorf("%w: disclosure subject", ErrInvalid)
	case d.RP == "" || len(d.RP) > 256 || len(d.RPName) > 256:
		return fmt.Errorf("%w: disclosure relying party", ErrInvalid)
	case d.Channel != ChannelOIDC && d.Channel != ChannelOID4VP && d.Channel != ChannelInPerson:
		return fmt.Errorf("%w: disclosure channel %q", ErrInvalid, d.Channel)
	case len(d.Claims) > 64:
		return fmt.Errorf("%w: %d claims", ErrInvalid, len(d.Claims))
	case d.At.IsZero():
		return fmt.Errorf("%w: disclosure without time", ErrInvalid)
	}
	for _, c := range d.Claims {
		if c == "" || len(c) > 128 {
			return fmt.Errorf("%w: claim name %q", ErrInvalid, c)
		}
	}
	return nil
}

// Record stores a disclosure in the citizen's history and logs its
// commitment, in one transaction.
func (l *Log) Record(ctx context.Context, d Disclosure) (uint64, error) {
	if err := d.check(); err != nil {
		return 0, err
	}
	d.At = d.At.UTC().Truncate(time.Second)
	d.Claims = append([]string(nil), d.Claims...)
	sort.Strings(d.Claims)
	salt := make([]byte, 16)
	rand.Read(salt)
	digest, err := Commitment(d, salt)
	if err != nil {
		return 0, err
	}
	data, err := Event{Type: EventDisclosure, At: d.At, Digest: digest}.Encode()
	if err != nil {
		return 0, err
	}
	plain, err := json.Marshal(sealedDisclosure{D: d, Salt: salt})
	if err != nil {
		return 0, err
	}
	var idx uint64
	err = l.store.AuditTx(ctx, func(tx Tx) error {
		var err error
		if idx, err = appendLeaf(ctx, tx, data, ""); err != nil {
			return err
		}
		return tx.PutDisclosure(ctx, StoredDisclosure{Subject: d.Subject, At: d.At, LeafIndex: idx,
			Sealed: l.sealer.Seal(plain, []byte("disclosure "+d.Subject))})
	})
	if err != nil {
		return 0, fmt.Errorf("audit: record disclosure: %w", err)
	}
	return idx, nil
}

// History returns a subject's disclosures, newest first, at most limit
// (default and maximum 1000).
func (l *Log) History(ctx context.Context, subject string, limit int) ([]Recorded, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := l.store.Disclosures(ctx, subject, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: history: %w", err)
	}
	out := make([]Recorded, 0, len(rows))
	for _, r := range rows {
		plain, err := l.sealer.Open(r.Sealed, []byte("disclosure "+r.Subject))
		if err != nil {
			return nil, fmt.Errorf("audit: history: open disclosure at leaf %d: %w", r.LeafIndex, err)
		}
		var s sealedDisclosure
		if err := json.Unmarshal(plain, &s); err != nil {
			return nil, fmt.Errorf("audit: history: disclosure at leaf %d: %w", r.LeafIndex, err)
		}
		s.D.Subject = r.Subject
		out = append(out, Recorded{Disclosure: s.D, LeafIndex: r.LeafIndex, Salt: s.Salt})
	}
	return out, nil
}
