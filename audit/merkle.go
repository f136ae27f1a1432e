package audit

import (
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The tree is github.com/transparency-dev/merkle's: its RFC 6962 hasher,
// its compact ranges to find the nodes an append completes and the nodes
// that make a root, and its proof package to choose, assemble and verify
// inclusion and consistency proofs. What is shenfen's own is only the
// storage of perfect subtree hashes ([NodeReader]).

// hasher is the RFC 6962 SHA-256 tree hasher.
var hasher = rfc6962.DefaultHasher

// ranges makes compact ranges over the tree hasher.
var ranges = &compact.RangeFactory{Hash: hasher.HashChildren}

// Hash is a SHA-256 tree hash.
type Hash [32]byte

func hashOf(b []byte) Hash {
	var h Hash
	copy(h[:], b)
	return h
}

// HashLeaf is the RFC 6962 leaf hash: SHA-256(0x00 || data).
func HashLeaf(data []byte) Hash { return hashOf(hasher.HashLeaf(data)) }

// HashChildren is the RFC 6962 interior node hash: SHA-256(0x01 || l || r).
func HashChildren(l, r Hash) Hash { return hashOf(hasher.HashChildren(l[:], r[:])) }

// EmptyRoot is the root of the empty tree, SHA-256 of nothing.
var EmptyRoot = hashOf(hasher.EmptyRoot())

// NodeReader reads the hash of a perfect, aligned subtree: level l, index
// i covers leaves [i·2^l, (i+1)·2^l). Level 0 is the leaf hashes.
type NodeReader interface {
	Node(ctx context.Context, level uint8, index uint64) (Hash, error)
}

// ErrProof: a proof does not verify, or was asked for sizes that make no
// sense (index past the tree, first tree larger than second).
var ErrProof = errors.New("audit: proof does not verify")

// readNodes reads the stored hashes of perfect subtrees.
func readNodes(ctx context.Context, r NodeReader, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		h, err := r.Node(ctx, uint8(id.Level), id.Index)
		if err != nil {
			return nil, fmt.Errorf("audit: node %d/%d: %w", id.Level, id.Index, err)
		}
		out[i] = h[:]
	}
	return out, nil
}

// RootHash is the root of the tree of the first size leaves: the perfect
// subtrees that cover [0, size), merged right to left.
func RootHash(ctx context.Context, r NodeReader, size uint64) (Hash, error) {
	if size == 0 {
		return EmptyRoot, nil
	}
	hs, err := readNodes(ctx, r, compact.RangeNodes(0, size, nil))
	if err != nil {
		return Hash{}, err
	}
	rng, err := ranges.NewRange(0, size, hs)
	if err != nil {
		return Hash{}, fmt.Errorf("audit: root of %d: %w", size, err)
	}
	root, err := rng.GetRootHash(nil)
	if err != nil {
		return Hash{}, fmt.Errorf("audit: root of %d: %w", size, err)
	}
	return hashOf(root), nil
}

// assemble reads the nodes a proof needs and rehashes its one ephemeral
// node (the root of the imperfect subtree at the right edge, if any).
func assemble(ctx context.Context, r NodeReader, n proof.Nodes) ([]Hash, error) {
	hs, err := readNodes(ctx, r, n.IDs)
	if err != nil {
		return nil, err
	}
	p, err := n.Rehash(hs, hasher.HashChildren)
	if err != nil {
		return nil, fmt.Errorf("audit: proof: %w", err)
	}
	out := make([]Hash, len(p))
	for i := range p {
		out[i] = hashOf(p[i])
	}
	return out, nil
}

// InclusionProof is the RFC 6962 audit path of leaf index in the tree of
// size leaves.
func InclusionProof(ctx context.Context, r NodeReader, index, size uint64) ([]Hash, error) {
	n, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	return assemble(ctx, r, n)
}

// ConsistencyProof is the RFC 6962 proof that the tree of size1 leaves is
// a prefix of the tree of size2 leaves.
func ConsistencyProof(ctx context.Context, r NodeReader, size1, size2 uint64) ([]Hash, error) {
	n, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProof, err)
	}
	if len(n.IDs) == 0 {
		return nil, nil
	}
	return assemble(ctx, r, n)
}

func byteSlices(hs []Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// VerifyInclusion checks an audit path (RFC 9162 section 2.1.3.2).
func VerifyInclusion(leaf Hash, index, size uint64, path []Hash, root Hash) error {
	if err := proof.VerifyInclusion(hasher, index, size, leaf[:], byteSlices(path), root[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	return nil
}

// VerifyConsistency checks a consistency proof between two tree heads
// (RFC 9162 section 2.1.4.2).
func VerifyConsistency(size1, size2 uint64, root1, root2 Hash, path []Hash) error {
	if err := proof.VerifyConsistency(hasher, size1, size2, byteSlices(path), root1[:], root2[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrProof, err)
	}
	return nil
}

// completed returns the nodes that leaf n (hash h) completes: the leaf at
// level 0 and every perfect subtree it closes. Those are the merges of a
// compact range over [n - (2^t - 1), n), t the number of trailing one bits
// of n, with the new leaf; only that range's t nodes are read.
func completed(ctx context.Context, r NodeReader, n uint64, h Hash) ([]Node, error) {
	t := bits.TrailingZeros64(^n)
	if t >= 63 {
		return nil, fmt.Errorf("audit: the log is full at %d leaves", n)
	}
	begin := n - (uint64(1)<<t - 1)
	hs, err := readNodes(ctx, r, compact.RangeNodes(begin, n, nil))
	if err != nil {
		return nil, err
	}
	rng, err := ranges.NewRange(begin, n, hs)
	if err != nil {
		return nil, fmt.Errorf("audit: append at %d: %w", n, err)
	}
	out := make([]Node, 0, t+1)
	err = rng.Append(h[:], func(id compact.NodeID, hash []byte) {
		out = append(out, Node{Level: uint8(id.Level), Index: id.Index, Hash: hashOf(hash)})
	})
	if err != nil {
		return nil, fmt.Errorf("audit: append at %d: %w", n, err)
	}
	return out, nil
}
