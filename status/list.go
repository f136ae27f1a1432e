package status

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
)

// List is an uncompressed status list: size entries of bits bits each,
// packed as the draft says: entry i sits in byte i*bits/8, starting at the
// least significant bit.
type List struct {
	bits int
	size int
	b    []byte
}

// NewList returns a list of size entries, all Valid. bits is 1, 2, 4 or 8.
func NewList(bits, size int) (*List, error) {
	if !validBits(bits) {
		return nil, fmt.Errorf("%w: bits %d (want 1, 2, 4 or 8)", ErrMalformed, bits)
	}
	if size <= 0 || size > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries (limit %d)", ErrTooLarge, size, MaxEntries)
	}
	return &List{bits: bits, size: size, b: make([]byte, (size*bits+7)/8)}, nil
}

// MaxEntries bounds a list: 2^26 entries (8 MiB raw at one bit, 64 MiB at
// eight bits); shenfen's own shards are far smaller.
const MaxEntries = 1 << 26

func validBits(b int) bool { return b == 1 || b == 2 || b == 4 || b == 8 }

// Bits is the number of bits per entry.
func (l *List) Bits() int { return l.bits }

// Len is the number of entries.
func (l *List) Len() int { return l.size }

// Bytes returns the packed list (shared, not a copy).
func (l *List) Bytes() []byte { return l.b }

// Get returns entry i.
func (l *List) Get(i int) (Status, error) {
	if i < 0 || i >= l.size {
		return 0, fmt.Errorf("%w: index %d of %d", ErrIndex, i, l.size)
	}
	bit := i * l.bits
	mask := byte(1<<l.bits - 1)
	return Status(l.b[bit/8] >> (bit % 8) & mask), nil
}

// Set sets entry i to s; s must fit in the list's bits.
func (l *List) Set(i int, s Status) error {
	if i < 0 || i >= l.size {
		return fmt.Errorf("%w: index %d of %d", ErrIndex, i, l.size)
	}
	mask := byte(1<<l.bits - 1)
	if l.bits < 8 && byte(s)&^mask != 0 {
		return fmt.Errorf("%w: status %v does not fit in %d bits", ErrTransition, s, l.bits)
	}
	bit := i * l.bits
	sh := bit % 8
	l.b[bit/8] = l.b[bit/8]&^(mask<<sh) | byte(s)<<sh
	return nil
}

// Compress returns the list compressed with ZLIB (RFC 1950) / DEFLATE
// (RFC 1951) at the best compression level, as the draft requires.
func (l *List) Compress() ([]byte, error) {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(l.b); err != nil {
		return nil, fmt.Errorf("status: compress: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("status: compress: %w", err)
	}
	return buf.Bytes(), nil
}

// Decompress inflates a ZLIB-compressed list of bits-bit entries. It
// refuses output over maxBytes (a decompression bomb) and trailing garbage.
// The list's length is the number of whole entries in the output.
func Decompress(z []byte, bits, maxBytes int) (*List, error) {
	if !validBits(bits) {
		return nil, fmt.Errorf("%w: bits %d (want 1, 2, 4 or 8)", ErrMalformed, bits)
	}
	br := bytes.NewReader(z)
	r, err := zlib.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrMalformed, err)
	}
	if len(b) > maxBytes {
		return nil, fmt.Errorf("%w: inflates past %d bytes", ErrTooLarge, maxBytes)
	}
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the zlib stream", ErrMalformed, br.Len())
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty list", ErrMalformed)
	}
	size := len(b) * 8 / bits
	if size > MaxEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrTooLarge, size)
	}
	return &List{bits: bits, size: size, b: b}, nil
}
