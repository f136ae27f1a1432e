package status

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"
)

// feistelRounds is the number of rounds of the index permutation; four
// suffice for a pseudo-random permutation (Luby-Rackoff), six leave margin.
const feistelRounds = 6

// perm is a keyed pseudo-random permutation of [0, size): a balanced
// Feistel network over the smallest even-width power-of-two domain that
// holds size, with cycle walking to stay inside [0, size).
type perm struct {
	size uint64
	half uint      // bits per Feistel half
	mask uint64    // (1<<half)-1
	mac  hash.Hash // HMAC-SHA256 under the shard key
}

func newPerm(key []byte, size int) (*perm, error) {
	if len(key) < 16 {
		return nil, fmt.Errorf("status: permutation key of %d bytes (want ≥ 16)", len(key))
	}
	if size < 1 {
		return nil, fmt.Errorf("status: permutation of %d entries", size)
	}
	w := uint(1)
	for uint64(1)<<(2*w) < uint64(size) {
		w++
	}
	return &perm{size: uint64(size), half: w, mask: 1<<w - 1, mac: hmac.New(sha256.New, key)}, nil
}

func (p *perm) round(r int, x uint64) uint64 {
	var in [9]byte
	in[0] = byte(r)
	binary.BigEndian.PutUint64(in[1:], x)
	p.mac.Reset()
	p.mac.Write(in[:])
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(p.mac.Sum(sum[:0])) & p.mask
}

func (p *perm) forward1(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for i := 0; i < feistelRounds; i++ {
		l, r = r, l^p.round(i, r)
	}
	return l<<p.half | r
}

func (p *perm) inverse1(x uint64) uint64 {
	l, r := x>>p.half, x&p.mask
	for i := feistelRounds - 1; i >= 0; i-- {
		l, r = r^p.round(i, l), l
	}
	return l<<p.half | r
}

// Forward maps n in [0, size) to its index.
func (p *perm) Forward(n uint64) uint64 {
	x := p.forward1(n)
	for x >= p.size {
		x = p.forward1(x)
	}
	return x
}

// Inverse maps an index in [0, size) back to n.
func (p *perm) Inverse(x uint64) uint64 {
	n := p.inverse1(x)
	for n >= p.size {
		n = p.inverse1(n)
	}
	return n
}
