package status

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
	"github.com/shenfen/shenfen/status/entry"
)

// DefaultShardSize is the number of entries of a shard: 2^20, so 100
// million cards fill 96 shards (see the package doc for the budget).
const DefaultShardSize = 1 << 20

// ListInfo describes one shard as the store keeps it.
type ListInfo struct {
	// ID names the list; its URI is the service's base URI + "/" + ID.
	ID string
	// Bits per entry and Size (number of entries).
	Bits, Size int
	// Allocated is how many indexes were handed out (the permutation counter).
	Allocated uint64
	// Key keys the index permutation of this shard.
	Key []byte
	// Version grows with every status change of the list.
	Version int64
	// Created is when the shard was opened.
	Created time.Time
}

// Entry is one entry whose status is not Valid.
type Entry struct {
	Index  uint64
	Status Status
}

// DefaultBits is the bits per entry of new shards: two, so a list publishes
// Valid 0x00, Invalid 0x01 (revoked) and Suspended 0x02 as the draft
// defines them.
const DefaultBits = 2

// NewListFunc makes the identity of a new shard when the store needs one.
type NewListFunc func() ListInfo

// Store keeps the lists. Entries that are Valid are not stored.
type Store interface {
	// AllocateStatus takes the next counter value n of an open shard (one
	// with Allocated < Size and the given bits), opening one made by
	// newList when none is open, and returns the shard (with Allocated
	// already counting n) and n, in one transaction.
	AllocateStatus(ctx context.Context, bits int, newList NewListFunc) (ListInfo, uint64, error)
	// StatusList returns one shard, or an error wrapping [ErrNotFound].
	StatusList(ctx context.Context, id string) (ListInfo, error)
	// StatusLists returns every shard, oldest first.
	StatusLists(ctx context.Context) ([]ListInfo, error)
	// SetStatus changes one entry in one transaction: it reads the current
	// status, calls check(old), and when check returns nil and next differs
	// from old, stores next (deleting the row for Valid) and increments the
	// list's Version. It reports the old status.
	SetStatus(ctx context.Context, id string, index uint64, next Status, check func(old Status) error) (Status, error)
	// GetStatus returns one entry's status (Valid when not stored).
	GetStatus(ctx context.Context, id string, index uint64) (Status, error)
	// StatusEntries calls fn for every stored (non-Valid) entry of a list.
	StatusEntries(ctx context.Context, id string, fn func(Entry) error) error
	// AllocateStatusSpread takes n counter values in one transaction, the
	// i-th from the open shard pick(i, open) chooses among the open shards
	// (those with the given bits and room), after opening shards made by
	// newList until at least spread are open. It returns the shard of each
	// value (Allocated already counting it) and the values.
	AllocateStatusSpread(ctx context.Context, bits, n, spread int, newList NewListFunc, pick func(i, open int) int) ([]ListInfo, []uint64, error)
}

// KeySource gives the key that signs status list tokens.
type KeySource interface {
	SigningKey(ctx context.Context) (jws.Key, error)
}

// Atomic is implemented by a Store that can run a status change and other
// writes in one transaction: fn's context carries it, and the stores that
// share the database join it.
type Atomic interface {
	Atomically(ctx context.Context, fn func(ctx context.Context) error) error
}

// Ref is a card's status reference: the list URI and the index (the one
// type of package entry; credential.StatusRef is the same type).
type Ref = entry.Ref

// Service is the issuer side of the status lists.
type Service struct {
	store Store
	keys  KeySource
	// BaseURI prefixes list ids to make list URIs ("https://id.example/status").
	baseURI string
	// Bits per entry of new shards (1 or 2; default 2, so verifiers can
	// tell a suspended card from a revoked one). Existing shards keep the
	// bits they were made with.
	Bits int
	// ShardSize is the number of entries of new shards (default DefaultShardSize).
	ShardSize int
	// Spread is the least number of shards open at once for AllocateBatch
	// (default DefaultSpread).
	Spread int
	// TTL is the token's ttl claim and the HTTP max-age (default 15 minutes).
	TTL time.Duration
	// Validity is exp - iat of tokens (default 24 hours): how long an
	// offline verifier may rely on a cached token.
	Validity time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Changed, if set, is called after every change of a card's status
	// (not for a repeated one), whoever made it: the wiring appends it to
	// the transparency log. Its error is returned by Set. When the store
	// implements [Atomic] (the SQL store does), the change and the hook's
	// writes are one transaction: an error from the hook undoes the change,
	// and a crash leaves neither; otherwise the change stands.
	Changed func(ctx context.Context, ref Ref, old, next Status) error

	// Replica, when set, is where Token reads the lists it signs: a store
	// over a database replica, which may lag the primary by the
	// replication delay (verifiers cache a token for its TTL anyway). Every
	// other read and every write uses the primary; a failed replica read
	// is made again on the primary.
	Replica Store

	mu    sync.Mutex
	cache map[string]*Served
	// building holds one lock per list so that concurrent requests after a
	// change wait for one rebuild instead of each compressing the list.
	building sync.Map // list id -> *sync.Mutex
}

// NewService returns a service over st that signs with keys and serves lists
// under baseURI.
func NewService(st Store, keys KeySource, baseURI string) *Service {
	return &Service{store: st, keys: keys, baseURI: strings.TrimSuffix(baseURI, "/"), cache: map[string]*Served{}}
}

func (s *Service) bits() int {
	if s.Bits == 0 {
		return DefaultBits
	}
	return s.Bits
}

func (s *Service) shardSize() int {
	if s.ShardSize == 0 {
		return DefaultShardSize
	}
	return s.ShardSize
}

func (s *Service) ttl() time.Duration {
	if s.TTL == 0 {
		return 15 * time.Minute
	}
	return s.TTL
}

func (s *Service) validity() time.Duration {
	if s.Validity == 0 {
		return 24 * time.Hour
	}
	return s.Validity
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// URI is the URI of list id.
func (s *Service) URI(id string) string { return s.baseURI + "/" + id }

// ListID returns the list id of a URI under the base URI.
func (s *Service) ListID(uri string) (string, error) {
	id, ok := strings.CutPrefix(uri, s.baseURI+"/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", fmt.Errorf("%w: %q is not a list of this issuer", ErrNotFound, uri)
	}
	return id, nil
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// Allocate hands out a fresh entry for a new card. The index is never
// handed out again, and consecutive calls get unrelated indexes.
func (s *Service) Allocate(ctx context.Context) (Ref, error) {
	bits, size := s.bits(), s.shardSize()
	if bits != 1 && bits != 2 {
		return Ref{}, fmt.Errorf("status: %d bits per entry (want 1 or 2)", bits)
	}
	info, n, err := s.store.AllocateStatus(ctx, bits, func() ListInfo {
		var id [10]byte
		rand.Read(id[:])
		key := make([]byte, 32)
		rand.Read(key)
		return ListInfo{ID: strings.ToLower(idEncoding.EncodeToString(id[:])), Bits: bits, Size: size, Key: key, Created: s.now().UTC()}
	})
	if err != nil {
		return Ref{}, fmt.Errorf("status: allocate: %w", err)
	}
	p, err := newPerm(info.Key, info.Size)
	if err != nil {
		return Ref{}, err
	}
	return Ref{URI: s.URI(info.ID), Index: int(p.Forward(n))}, nil
}

// DefaultSpread is how many shards are open at once for batch allocation
// (AllocateBatch): the entries of one batch come from different shards, so
// the list URI of one credential says nothing about the list of another.
const DefaultSpread = 16

// AllocateBatch hands out n fresh entries in one transaction for the
// single-use credentials of one batch. While n does not exceed the number
// of open shards (at least Spread, default DefaultSpread) each entry comes
// from a different shard, the shards chosen at random; within a shard the
// index is the shard's permutation of its counter, as for Allocate. So
// neither the URI nor the index of one credential of a batch tells
// anything about another: they are those of any card issued meanwhile.
func (s *Service) AllocateBatch(ctx context.Context, n int) ([]Ref, error) {
	bits, size := s.bits(), s.shardSize()
	if bits != 1 && bits != 2 {
		return nil, fmt.Errorf("status: %d bits per entry (want 1 or 2)", bits)
	}
	if n <= 0 {
		return nil, nil
	}
	spread := s.Spread
	if spread <= 0 {
		spread = DefaultSpread
	}
	// pick draws a random permutation of the open shards per round of
	// len(open) entries: distinct shards within each round.
	var order []int
	pick := func(i, open int) int {
		if i%open == 0 || len(order) != open {
			order = mrand.Perm(open)
		}
		return order[i%open]
	}
	infos, ns, err := s.store.AllocateStatusSpread(ctx, bits, n, spread, func() ListInfo {
		var id [10]byte
		rand.Read(id[:])
		key := make([]byte, 32)
		rand.Read(key)
		return ListInfo{ID: strings.ToLower(idEncoding.EncodeToString(id[:])), Bits: bits, Size: size, Key: key, Created: s.now().UTC()}
	}, pick)
	if err != nil {
		return nil, fmt.Errorf("status: allocate batch: %w", err)
	}
	out := make([]Ref, len(ns))
	perms := map[string]*perm{}
	for i, info := range infos {
		p := perms[info.ID]
		if p == nil {
			if p, err = newPerm(info.Key, info.Size); err != nil {
				return nil, err
			}
			perms[info.ID] = p
		}
		out[i] = Ref{URI: s.URI(info.ID), Index: int(p.Forward(ns[i]))}
	}
	return out, nil
}

// SetAll changes every entry of refs to next in one transaction (with the
// Changed hook's writes, when the store is [Atomic]): the entries of one
// card's credentials change together or not at all. It reports the
// previous status of refs[0] and how many entries changed. Revoked entries
// stay revoked: an entry already Invalid is skipped, unless it is refs[0],
// whose transition is checked as by Set.
func (s *Service) SetAll(ctx context.Context, refs []Ref, next Status) (Status, int, error) {
	if len(refs) == 0 {
		return 0, 0, fmt.Errorf("%w: no entries", ErrNotFound)
	}
	if err := Transition(Valid, next); err != nil {
		return 0, 0, err
	}
	type target struct {
		id  string
		idx uint64
		ref Ref
	}
	ts := make([]target, len(refs))
	for i, ref := range refs {
		info, idx, err := s.entry(ctx, ref)
		if err != nil {
			return 0, 0, err
		}
		ts[i] = target{info.ID, idx, ref}
	}
	var first Status
	changed := 0
	set := func(ctx context.Context) error {
		changed = 0
		for i, t := range ts {
			check := func(old Status) error { return Transition(old, next) }
			if i > 0 {
				check = func(old Status) error {
					if old == Invalid {
						return errSkip
					}
					return Transition(old, next)
				}
			}
			old, err := s.store.SetStatus(ctx, t.id, t.idx, next, check)
			if errors.Is(err, errSkip) {
				continue
			}
			if err != nil {
				return fmt.Errorf("status: set %s[%d] to %v: %w", t.id, t.idx, next, err)
			}
			if i == 0 {
				first = old
			}
			if old != next {
				changed++
				if s.Changed != nil {
					if err := s.Changed(ctx, t.ref, old, next); err != nil {
						return fmt.Errorf("status: after setting %s[%d] to %v: %w", t.id, t.idx, next, err)
					}
				}
			}
		}
		return nil
	}
	var err error
	if a, ok := s.store.(Atomic); ok {
		err = a.Atomically(ctx, set)
	} else {
		err = set(ctx)
	}
	return first, changed, err
}

// errSkip tells SetAll's store call to leave a revoked entry alone.
var errSkip = errors.New("status: skip")

// entry resolves a reference to an allocated entry of a list.
func (s *Service) entry(ctx context.Context, ref Ref) (ListInfo, uint64, error) {
	id, err := s.ListID(ref.URI)
	if err != nil {
		return ListInfo{}, 0, err
	}
	info, err := s.store.StatusList(ctx, id)
	if err != nil {
		return ListInfo{}, 0, fmt.Errorf("status: list %s: %w", id, err)
	}
	if ref.Index < 0 || ref.Index >= info.Size {
		return ListInfo{}, 0, fmt.Errorf("%w: index %d of %d", ErrIndex, ref.Index, info.Size)
	}
	p, err := newPerm(info.Key, info.Size)
	if err != nil {
		return ListInfo{}, 0, err
	}
	if p.Inverse(uint64(ref.Index)) >= info.Allocated {
		return ListInfo{}, 0, fmt.Errorf("%w: index %d of list %s was never allocated", ErrNotFound, ref.Index, id)
	}
	return info, uint64(ref.Index), nil
}

// Set changes a card's status and reports the previous one. Revoking
// (Invalid) is final; a suspended card may be reinstated (Valid) or
// revoked. Setting the current status again changes nothing.
func (s *Service) Set(ctx context.Context, ref Ref, next Status) (Status, error) {
	info, idx, err := s.entry(ctx, ref)
	if err != nil {
		return 0, err
	}
	if err := Transition(Valid, next); err != nil { // rejects unknown values
		return 0, err
	}
	var old Status
	set := func(ctx context.Context) error {
		var err error
		old, err = s.store.SetStatus(ctx, info.ID, idx, next, func(old Status) error { return Transition(old, next) })
		if err != nil {
			return fmt.Errorf("status: set %s[%d] to %v: %w", info.ID, idx, next, err)
		}
		if old != next && s.Changed != nil {
			if err := s.Changed(ctx, ref, old, next); err != nil {
				return fmt.Errorf("status: after setting %s[%d] to %v: %w", info.ID, idx, next, err)
			}
		}
		return nil
	}
	if a, ok := s.store.(Atomic); ok && s.Changed != nil {
		err = a.Atomically(ctx, set)
	} else {
		err = set(ctx)
	}
	return old, err
}

// Suspend sets a card Suspended.
func (s *Service) Suspend(ctx context.Context, ref Ref) error {
	_, err := s.Set(ctx, ref, Suspended)
	return err
}

// Revoke sets a card Invalid, for good.
func (s *Service) Revoke(ctx context.Context, ref Ref) error {
	_, err := s.Set(ctx, ref, Invalid)
	return err
}

// Reinstate makes a suspended card Valid again. A revoked card fails with
// [ErrFinal]; a valid one stays valid.
func (s *Service) Reinstate(ctx context.Context, ref Ref) error {
	_, err := s.Set(ctx, ref, Valid)
	return err
}

// Get returns the authority's record of a card's status (which, unlike
// the published 1-bit list, tells Suspended from Invalid).
func (s *Service) Get(ctx context.Context, ref Ref) (Status, error) {
	info, idx, err := s.entry(ctx, ref)
	if err != nil {
		return 0, err
	}
	return s.store.GetStatus(ctx, info.ID, idx)
}

// AggregationURI is where the URIs of every list are published (the
// draft's Status List Aggregation): the base URI itself.
func (s *Service) AggregationURI() string { return s.baseURI }

// Aggregation returns the URIs of every list, oldest first, for the
// aggregation endpoint: a verifier about to go offline fetches them all.
func (s *Service) Aggregation(ctx context.Context) ([]string, error) {
	ls, err := s.store.StatusLists(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: lists: %w", err)
	}
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = s.URI(l.ID)
	}
	return out, nil
}

// Served is a signed token ready to serve.
type Served struct {
	// Token is the compact JWT.
	Token string
	// ETag is a strong validator of the token.
	ETag string
	// IssuedAt and TTL give the HTTP caching lifetime.
	IssuedAt time.Time
	TTL      time.Duration
	version  int64
}

// Token returns the current signed token of list id. Tokens are cached and
// re-signed when the list changed or half the TTL has passed, so a served
// token is never older than TTL/2 past its last change and always far
// from exp.
func (s *Service) Token(ctx context.Context, id string) (*Served, error) {
	st := s.store
	if s.Replica != nil {
		st = s.Replica
	}
	info, err := st.StatusList(ctx, id)
	if err != nil && st != s.store {
		st = s.store
		info, err = st.StatusList(ctx, id)
	}
	if err != nil {
		return nil, fmt.Errorf("status: list %s: %w", id, err)
	}
	if c := s.cached(id, info.Version); c != nil {
		return c, nil
	}
	lk, _ := s.building.LoadOrStore(id, new(sync.Mutex))
	lk.(*sync.Mutex).Lock()
	defer lk.(*sync.Mutex).Unlock()
	if c := s.cached(id, info.Version); c != nil { // built while we waited
		return c, nil
	}
	now := s.now()
	tok, err := s.build(ctx, st, info, now)
	if err != nil && st != s.store {
		tok, err = s.build(ctx, s.store, info, now)
	}
	if err != nil {
		return nil, err
	}
	k, err := s.keys.SigningKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("status: signing key: %w", err)
	}
	jwt, err := tok.Sign(k)
	if err != nil {
		return nil, fmt.Errorf("status: sign list %s: %w", id, err)
	}
	c := &Served{Token: jwt, ETag: etag(jwt), IssuedAt: tok.IssuedAt, TTL: s.ttl(), version: info.Version}
	s.mu.Lock()
	s.cache[id] = c
	s.mu.Unlock()
	return c, nil
}

// cached returns the cached token of a list when it is of this version and
// younger than half the TTL.
func (s *Service) cached(id string, version int64) *Served {
	now := s.now()
	s.mu.Lock()
	c := s.cache[id]
	s.mu.Unlock()
	if c != nil && c.version >= version && now.Sub(c.IssuedAt) < s.ttl()/2 && !now.Before(c.IssuedAt) {
		return c
	}
	return nil
}

// Build assembles the unsigned token of a list from the store.
func (s *Service) Build(ctx context.Context, info ListInfo, now time.Time) (*Token, error) {
	return s.build(ctx, s.store, info, now)
}

func (s *Service) build(ctx context.Context, st Store, info ListInfo, now time.Time) (*Token, error) {
	l, err := NewList(info.Bits, info.Size)
	if err != nil {
		return nil, err
	}
	err = st.StatusEntries(ctx, info.ID, func(e Entry) error {
		v := e.Status
		if info.Bits == 1 && v == Suspended {
			v = Invalid // a 1-bit list publishes suspension as invalid
		}
		return l.Set(int(e.Index), v)
	})
	if err != nil {
		return nil, fmt.Errorf("status: read list %s: %w", info.ID, err)
	}
	now = now.Truncate(time.Second)
	return &Token{Subject: s.URI(info.ID), IssuedAt: now, Expires: now.Add(s.validity()), TTL: s.ttl(), List: l,
		AggregationURI: s.AggregationURI()}, nil
}
