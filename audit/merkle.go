package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"
)

// Hash is a SHA-256 tree hash.
type Hash [32]byte

// HashLeaf is the RFC 6962 leaf hash: SHA-256(0x00 || data).
func HashLeaf(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	var out Hash
	h.Sum(out[:0])
	return out
}

// HashChildren is the RFC 6962 interior node hash: SHA-256(0x01 || l || r).
func HashChildren(l, r Hash) Hash {
	var buf [65]byte
	buf[0] = 1
	copy(buf[1:], l[:])
	copy(buf[33:], r[:])
	return sha256.Sum256(buf[:])
}

// EmptyRoot is the root of the empty tree, SHA-256 of nothing.
var EmptyRoot = Hash(sha256.Sum256(nil))

// NodeReader reads the hash of a perfect, aligned subtree: level l, index
// i covers leaves [i·2^l, (i+1)·2^l). Level 0 is the leaf hashes.
type NodeReader interface {
	Node(ctx context.Context, level uint8, index uint64) (Hash, error)
}

// ErrProof: a proof does not verify, or was asked for sizes that make no
// sense (index past the tree, first tree larger than second).
var ErrProof = errors.New("audit: proof does not verify")

// largestPow2Below returns the largest power of two strictly below n (n > 1).
func largestPow2Below(n uint64) uint64 {
	return 1 << (bits.Len64(n-1) - 1)
}

// memo caches node reads during one proof computation.
type memo struct {
	r NodeReader
	m map[[2]uint64]Hash
}

func (m *memo) node(ctx context.Context, level uint8, index uint64) (Hash, error) {
	k := [2]uint64{uint64(level), index}
	if h, ok := m.m[k]; ok {
		return h, nil
	}
	h, err := m.r.Node(ctx, level, index)
	if err != nil {
		return h, fmt.Errorf("audit: node %d/%d: %w", level, index, err)
	}
	m.m[k] = h
	return h, nil
}

// mth is the Merkle tree hash of the n leaves starting at start, which the
// RFC 6962 recursion always aligns so that perfect subtrees are stored nodes.
func (m *memo) mth(ctx context.Context, start, n uint64) (Hash, error) {
	if n == 0 {
		return EmptyRoot, nil
	}
	if n&(n-1) == 0 && start%n == 0 {
		l := uint8(bits.TrailingZeros64(n))
		return m.node(ctx, l, start>>l)
	}
	k := largestPow2Below(n)
	a, err := m.mth(ctx, start, k)
	if err != nil {
		return a, err
	}
	b, err := m.mth(ctx, start+k, n-k)
	if err != nil {
		return b, err
	}
	return HashChildren(a, b), nil
}

// RootHash is the root of the tree of the first size leaves.
func RootHash(ctx context.Context, r NodeReader, size uint64) (Hash, error) {
	m := &memo{r: r, m: map[[2]uint64]Hash{}}
	return m.mth(ctx, 0, size)
}

// InclusionProof is the RFC 6962 audit path of leaf index in the tree of
// size leaves.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([]Hash, error) {
	if index >= size {
		return nil, fmt.Errorf("%w: leaf %d not in a tree of %d", ErrProof, index, size)
	}
	m := &memo{r: r, m: map[[2]uint64]Hash{}}
	return m.path(ctx, index, 0, size)
}

func (m *memo) path(ctx context.Context, idx, start, n uint64) ([]Hash, error) {
	if n <= 1 {
		return nil, nil
	}
	k := largestPow2Below(n)
	if idx < k {
		p, err := m.path(ctx, idx, start, k)
		if err != nil {
			return nil, err
		}
		h, err := m.mth(ctx, start+k, n-k)
		return append(p, h), err
	}
	p, err := m.path(ctx, idx-k, start+k, n-k)
	if err != nil {
		return nil, err
	}
	h, err := m.mth(ctx, start, k)
	return append(p, h), err
}

// ConsistencyProof is the RFC 6962 proof that the tree of size1 leaves is
// a prefix of the tree of size2 leaves.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([]Hash, error) {
	if size1 > size2 {
		return nil, fmt.Errorf("%w: first tree %d larger than second %d", ErrProof, size1, size2)
	}
	if size1 == 0 || size1 == size2 {
		return nil, nil
	}
	m := &memo{r: r, m: map[[2]uint64]Hash{}}
	return m.subproof(ctx, size1, 0, size2, true)
}

func (m *memo) subproof(ctx context.Context, mm, start, n uint64, b bool) ([]Hash, error) {
	if mm == n {
		if b {
			return nil, nil
		}
		h, err := m.mth(ctx, start, n)
		return []Hash{h}, err
	}
	k := largestPow2Below(n)
	if mm <= k {
		p, err := m.subproof(ctx, mm, start, k, b)
		if err != nil {
			return nil, err
		}
		h, err := m.mth(ctx, start+k, n-k)
		return append(p, h), err
	}
	p, err := m.subproof(ctx, mm-k, start+k, n-k, false)
	if err != nil {
		return nil, err
	}
	h, err := m.mth(ctx, start, k)
	return append(p, h), err
}

// VerifyInclusion checks an audit path (RFC 9162 section 2.1.3.2).
func VerifyInclusion(leaf Hash, index, size uint64, proof []Hash, root Hash) error {
	if index >= size {
		return fmt.Errorf("%w: leaf %d not in a tree of %d", ErrProof, index, size)
	}
	fn, sn, r := index, size-1, leaf
	for _, p := range proof {
		if sn == 0 {
			return fmt.Errorf("%w: inclusion proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			r = HashChildren(p, r)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			r = HashChildren(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || r != root {
		return ErrProof
	}
	return nil
}

// VerifyConsistency checks a consistency proof between two tree heads
// (RFC 9162 section 2.1.4.2).
func VerifyConsistency(size1, size2 uint64, root1, root2 Hash, proof []Hash) error {
	switch {
	case size1 > size2:
		return fmt.Errorf("%w: first tree %d larger than second %d", ErrProof, size1, size2)
	case size1 == size2:
		if len(proof) != 0 || root1 != root2 {
			return ErrProof
		}
		return nil
	case size1 == 0:
		if len(proof) != 0 {
			return ErrProof
		}
		return nil
	}
	if len(proof) == 0 || len(proof) > 128 {
		return fmt.Errorf("%w: consistency proof of %d hashes", ErrProof, len(proof))
	}
	path := proof
	if size1&(size1-1) == 0 {
		path = append([]Hash{root1}, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := path[0], path[0]
	for _, c := range path[1:] {
		if sn == 0 {
			return fmt.Errorf("%w: consistency proof too long", ErrProof)
		}
		if fn&1 == 1 || fn == sn {
			fr = HashChildren(c, fr)
			sr = HashChildren(c, sr)
			for fn&1 == 0 && fn != 0 {
				fn >>= 1
				sn >>= 1
			}
		} else {
			sr = HashChildren(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 || !bytes.Equal(fr[:], root1[:]) || !bytes.Equal(sr[:], root2[:]) {
		return ErrProof
	}
	return nil
}

// completed returns the nodes that leaf n (hash h) completes, given the
// reader for left siblings: (level, index, hash) for level 0 (the leaf)
// and every level at which n closes a perfect subtree.
func completed(ctx context.Context, r NodeReader, n uint64, h Hash) ([]storedNode, error) {
	out := []storedNode{{0, n, h}}
	for l := uint8(0); (n>>l)&1 == 1; l++ {
		left, err := r.Node(ctx, l, (n>>l)-1)
		if err != nil {
			return nil, fmt.Errorf("audit: node %d/%d: %w", l, (n>>l)-1, err)
		}
		h = HashChildren(left, h)
		out = append(out, storedNode{l + 1, n >> (l + 1), h})
	}
	return out, nil
}

type storedNode struct {
	level uint8
	index uint64
	hash  Hash
}
