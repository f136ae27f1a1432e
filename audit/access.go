package audit

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event types of the operators' side.
const (
	// EventAccess commits to one operator access to a citizen's data.
	EventAccess = "access"
	// EventBatch commits to one bulk operation (a registry import or
	// export) that touched many citizens' records at once.
	EventBatch = "batch"
)

// Access is one operator (or machine) access to a citizen's record or
// card. The log's leaf carries only its keyed digest.
type Access struct {
	// Subject is the citizen's opaque key (the registry's blind index).
	Subject string    `json:"-"`
	At      time.Time `json:"at"`
	// Operator is the operator's sign-in name, or "machine:NAME".
	Operator string `json:"operator"`
	// Kind is "operator" or "machine".
	Kind   string `json:"kind"`
	Name   string `json:"name,omitempty"`
	Badge  string `json:"badge,omitempty"`
	Office string `json:"office"`
	// Action is what was done: a permission word ("registry.read",
	// "cards.status", ...) with an optional detail ("cards.status:revoked").
	Action string `json:"action"`
	// Reason is the operator's reason ("purpose=...; case=...").
	Reason string `json:"reason,omitempty"`
	// Approval is the four-eyes request this access carried out, and
	// ApprovedBy the second operator.
	Approval   string `json:"approval,omitempty"`
	ApprovedBy string `json:"approved_by,omitempty"`
	// Batch is the bulk operation the access was part of.
	Batch string `json:"batch,omitempty"`
}

// StoredAccess is an access as the store keeps it: subject and time in
// the clear (to list a history), the rest sealed.
type StoredAccess struct {
	Subject   string
	At        time.Time
	LeafIndex uint64
	Sealed    []byte
}

// RecordedAccess is an access read back, with what is needed to check it
// against the log: the leaf index and the digest's key.
type RecordedAccess struct {
	Access
	LeafIndex uint64 `json:"leaf_index"`
	// Key opens the leaf's keyed digest (see [AccessDigest]).
	Key []byte `json:"key"`

	privSalt []byte
}

type sealedAccess struct {
	A        Access `json:"a"`
	Key      []byte `json:"key"`
	PrivSalt []byte `json:"priv_salt"`
}

// AccessTx is the part of the store's append transaction that keeps
// access records (the store's Tx implements it).
type AccessTx interface {
	PutAccess(ctx context.Context, a StoredAccess) error
}

// AccessStore reads access records back.
type AccessStore interface {
	// Accesses returns a subject's accesses, newest first, at most limit.
	Accesses(ctx context.Context, subject string, limit int) ([]StoredAccess, error)
	// AccessesFrom returns every subject's accesses with leaf index >=
	// from, in leaf order, at most limit (for the check).
	AccessesFrom(ctx context.Context, from uint64, limit int) ([]StoredAccess, error)
}

// AccessDigest is the digest an access leaf carries:
//
//	HMAC-SHA256(key, "shenfen access v2" || 0 || subject || 0 || JSON(public part) || 0 || PrivateDigest)
//
// The public part is what the citizen always sees (when, office, badge,
// what, why, approval, batch); the private part is the operator's sign-in
// name and full name, which a policy may keep from the citizen: the
// citizen then gets only its salted digest and can still check the leaf.
// The key is 32 random bytes per access, kept sealed with the record and
// shown only to the citizen (and the authority's check): the public log
// reveals nothing, not even whether two accesses concern one citizen.
func AccessDigest(a Access, key, privSalt []byte) (string, error) {
	pub, priv := a.split()
	return CitizenAccess{PublicAccess: pub, PrivateDigest: PrivateDigest(priv, privSalt), Key: key}.Digest(a.Subject)
}

// PublicAccess is the part of an access every citizen sees.
type PublicAccess struct {
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"`
	Badge      string    `json:"badge,omitempty"`
	Office     string    `json:"office"`
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	Approval   string    `json:"approval,omitempty"`
	ApprovedBy string    `json:"approved_by,omitempty"`
	Batch      string    `json:"batch,omitempty"`
}

// PrivateAccess is the part a policy may keep from the citizen.
type PrivateAccess struct {
	Operator string `json:"operator"`
	Name     string `json:"name,omitempty"`
}

func (a Access) split() (PublicAccess, PrivateAccess) {
	return PublicAccess{At: a.At.UTC().Truncate(time.Second), Kind: a.Kind, Badge: a.Badge, Office: a.Office,
			Action: a.Action, Reason: a.Reason, Approval: a.Approval, ApprovedBy: a.ApprovedBy, Batch: a.Batch},
		PrivateAccess{Operator: a.Operator, Name: a.Name}
}

// PrivateDigest is base64url(SHA-256(salt || JSON(p))).
func PrivateDigest(p PrivateAccess, salt []byte) string {
	b, _ := json.Marshal(p)
	h := sha256.New()
	h.Write(salt)
	h.Write(b)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// CitizenAccess is an access as the citizen's history shows it, with what
// the citizen needs to check it against the log's leaf: the key, and the
// private part's digest when the name is not shown.
type CitizenAccess struct {
	PublicAccess
	// Operator and Name are shown when the policy shows names.
	Operator      string `json:"operator,omitempty"`
	Name          string `json:"name,omitempty"`
	PrivateDigest string `json:"private_digest"`
	LeafIndex     uint64 `json:"leaf_index"`
	Key           []byte `json:"key"`
	// Subject is what the digest binds: the citizen's own history key, or
	// "batch:ID" for a bulk operation.
	Subject string `json:"subject"`
}

// ForCitizen is the citizen's view of r: the operator's name only when
// showNames.
func (r RecordedAccess) ForCitizen(showNames bool) CitizenAccess {
	pub, priv := r.Access.split()
	c := CitizenAccess{PublicAccess: pub, PrivateDigest: PrivateDigest(priv, r.privSalt), LeafIndex: r.LeafIndex, Key: r.Key,
		Subject: r.Subject}
	if showNames {
		c.Operator, c.Name = priv.Operator, priv.Name
	}
	return c
}

func (a *Access) check() error {
	switch {
	case a.Subject == "" || len(a.Subject) > 192:
		return fmt.Errorf("%w: access subject", ErrInvalid)
	case a.Operator == "" || len(a.Operator) > 128 || len(a.Name) > 128 || len(a.Badge) > 32 || len(a.Office) > 128:
		return fmt.Errorf("%w: access operator", ErrInvalid)
	case a.Action == "" || len(a.Action) > 64 || len(a.Reason) > 256:
		return fmt.Errorf("%w: access action or reason", ErrInvalid)
	case a.At.IsZero():
		return fmt.Errorf("%w: access without time", ErrInvalid)
	}
	return nil
}

// accessAD is the sealing's additional data: a record moved to another
// subject or leaf does not open.
func accessAD(subject string, leaf uint64) []byte {
	return fmt.Appendf(nil, "access %s %d", subject, leaf)
}

// RecordAccess stores an access in the citizen's history and logs its
// keyed digest, in one transaction.
func (l *Log) RecordAccess(ctx context.Context, a Access) (uint64, error) {
	if strings.HasPrefix(a.Subject, batchPrefix) {
		return 0, fmt.Errorf("%w: access subject", ErrInvalid)
	}
	return l.record(ctx, a, EventAccess)
}

// batchPrefix marks the record of a bulk operation among the access
// records: its subject is "batch:ID".
const batchPrefix = "batch:"

// BatchSubject is the subject under which a bulk operation's record is
// kept (and which its digest binds).
func BatchSubject(id string) string { return batchPrefix + id }

// RecordBatch records a bulk operation (a registry import or export) once,
// however many records it touches: a.Batch is its id, a.Action what it
// was; a.Subject is left empty. The records it wrote carry the id, and a
// citizen's history finds it through them ([Log.BatchHistory]); a 1.4
// billion-record import writes one row here, not 1.4 billion. Recording an
// id again (a resumed import) is a no-op.
func (l *Log) RecordBatch(ctx context.Context, a Access) (uint64, error) {
	if a.Batch == "" || len(a.Batch) > 128 || a.Subject != "" {
		return 0, fmt.Errorf("%w: batch id", ErrInvalid)
	}
	a.Subject = BatchSubject(a.Batch)
	st, err := l.accessStore()
	if err != nil {
		return 0, err
	}
	if have, err := st.Accesses(ctx, a.Subject, 1); err != nil {
		return 0, fmt.Errorf("audit: record batch: %w", err)
	} else if len(have) > 0 {
		return have[0].LeafIndex, nil
	}
	return l.record(ctx, a, EventBatch)
}

// BatchHistory returns the records of the bulk operations with these ids
// (unknown ids are skipped).
func (l *Log) BatchHistory(ctx context.Context, ids []string) ([]RecordedAccess, error) {
	st, err := l.accessStore()
	if err != nil {
		return nil, err
	}
	var out []RecordedAccess
	for _, id := range ids {
		rows, err := st.Accesses(ctx, BatchSubject(id), 1)
		if err != nil {
			return nil, fmt.Errorf("audit: batch history: %w", err)
		}
		for _, r := range rows {
			a, err := l.openAccess(r)
			if err != nil {
				return nil, fmt.Errorf("audit: batch history: %w", err)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

func (l *Log) record(ctx context.Context, a Access, typ string) (uint64, error) {
	if err := a.check(); err != nil {
		return 0, err
	}
	a.At = a.At.UTC().Truncate(time.Second)
	key, privSalt := make([]byte, 32), make([]byte, 16)
	rand.Read(key)
	rand.Read(privSalt)
	digest, err := AccessDigest(a, key, privSalt)
	if err != nil {
		return 0, err
	}
	data, err := Event{Type: typ, At: a.At, Digest: digest}.Encode()
	if err != nil {
		return 0, err
	}
	plain, err := json.Marshal(sealedAccess{A: a, Key: key, PrivSalt: privSalt})
	if err != nil {
		return 0, err
	}
	var idx uint64
	err = l.store.AuditTx(ctx, func(tx Tx) error {
		at, ok := tx.(AccessTx)
		if !ok {
			return errors.New("the store keeps no access records")
		}
		var err error
		if idx, err = appendLeaf(ctx, tx, data, ""); err != nil {
			return err
		}
		return at.PutAccess(ctx, StoredAccess{Subject: a.Subject, At: a.At, LeafIndex: idx,
			Sealed: l.sealer.Seal(plain, accessAD(a.Subject, idx))})
	})
	if err != nil {
		return 0, fmt.Errorf("audit: record access: %w", err)
	}
	return idx, nil
}

func (l *Log) accessStore() (AccessStore, error) {
	s, ok := l.store.(AccessStore)
	if !ok {
		return nil, errors.New("audit: the store keeps no access records")
	}
	return s, nil
}

func (l *Log) openAccess(r StoredAccess) (RecordedAccess, error) {
	plain, err := l.sealer.Open(r.Sealed, accessAD(r.Subject, r.LeafIndex))
	if err != nil {
		return RecordedAccess{}, fmt.Errorf("open access at leaf %d: %w", r.LeafIndex, err)
	}
	var s sealedAccess
	if err := json.Unmarshal(plain, &s); err != nil {
		return RecordedAccess{}, fmt.Errorf("access at leaf %d: %w", r.LeafIndex, err)
	}
	s.A.Subject = r.Subject
	return RecordedAccess{Access: s.A, LeafIndex: r.LeafIndex, Key: s.Key, privSalt: s.PrivSalt}, nil
}

// AccessHistory returns the operator accesses to a subject's data, newest
// first, at most limit (default and maximum 1000).
func (l *Log) AccessHistory(ctx context.Context, subject string, limit int) ([]RecordedAccess, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	st, err := l.accessStore()
	if err != nil {
		return nil, err
	}
	rows, err := st.Accesses(ctx, subject, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: access history: %w", err)
	}
	out := make([]RecordedAccess, 0, len(rows))
	for _, r := range rows {
		a, err := l.openAccess(r)
		if err != nil {
			return nil, fmt.Errorf("audit: access history: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// ErrTampered: an access record that does not match its leaf, or a leaf
// whose record is gone.
var ErrTampered = errors.New("audit: access records do not match the log")

// AccessCheck is the outcome of [Log.CheckAccesses].
type AccessCheck struct {
	// Leaves is the number of access leaves in the log, Records the number
	// of access records checked against them.
	Leaves, Records int
	// Altered lists leaf indexes whose record does not match the leaf's
	// digest (or does not open); Missing those whose record is gone;
	// Unlogged records whose leaf is not an access leaf.
	Altered, Missing, Unlogged []uint64
}

// CheckAccesses recomputes every access record's keyed digest and compares
// it with its leaf, and checks that every access leaf still has its record:
// a record deleted, altered, or moved to another citizen is found. It reads
// the whole log (a nightly job's work, not a request's).
func (l *Log) CheckAccesses(ctx context.Context) (AccessCheck, error) {
	var c AccessCheck
	st, err := l.accessStore()
	if err != nil {
		return c, err
	}
	size, err := l.store.AuditSize(ctx)
	if err != nil {
		return c, err
	}
	records := map[uint64]StoredAccess{}
	for from := uint64(0); ; {
		rows, err := st.AccessesFrom(ctx, from, 1000)
		if err != nil {
			return c, fmt.Errorf("audit: check accesses: %w", err)
		}
		for _, r := range rows {
			records[r.LeafIndex] = r
			from = r.LeafIndex + 1
		}
		if len(rows) < 1000 {
			break
		}
	}
	c.Records = len(records)
	for i := uint64(0); i < size; i++ {
		leaf, err := l.store.AuditLeaf(ctx, i)
		if err != nil {
			return c, fmt.Errorf("audit: check accesses: leaf %d: %w", i, err)
		}
		var e Event
		if err := json.Unmarshal(leaf.Data, &e); err != nil || e.Type != EventAccess && e.Type != EventBatch {
			if _, ok := records[i]; ok {
				c.Unlogged = append(c.Unlogged, i)
				delete(records, i)
			}
			continue
		}
		c.Leaves++
		r, ok := records[i]
		if !ok {
			c.Missing = append(c.Missing, i)
			continue
		}
		delete(records, i)
		a, err := l.openAccess(r)
		if err != nil {
			c.Altered = append(c.Altered, i)
			continue
		}
		d, err := AccessDigest(a.Access, a.Key, a.privSalt)
		if err != nil || !hmac.Equal([]byte(d), []byte(e.Digest)) {
			c.Altered = append(c.Altered, i)
		}
	}
	for i := range records { // records beyond the log's size
		c.Unlogged = append(c.Unlogged, i)
	}
	if len(c.Altered)+len(c.Missing)+len(c.Unlogged) > 0 {
		return c, fmt.Errorf("%w: %d altered, %d missing, %d unlogged", ErrTampered,
			len(c.Altered), len(c.Missing), len(c.Unlogged))
	}
	return c, nil
}

// Digest recomputes, from the citizen's view alone, the keyed digest the
// access's leaf must carry: the citizen's own check against the log.
func (c CitizenAccess) Digest(subject string) (string, error) {
	b, err := json.Marshal(c.PublicAccess)
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, c.Key)
	m.Write([]byte("shenfen access v2\x00"))
	m.Write([]byte(subject))
	m.Write([]byte{0})
	m.Write(b)
	m.Write([]byte{0})
	m.Write([]byte(c.PrivateDigest))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)), nil
}
