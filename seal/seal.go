// Package seal encrypts personal data at rest and computes blind indexes, so
// that a copy of the database alone reveals neither who is registered nor
// anything about them.
//
// One 32-byte master key (a key file, mode 0600, made only for an empty
// database; see [LoadKeyFile] and [CreateKeyFile]) is never used directly: HKDF-SHA256
// (RFC 5869) derives from it an AES-256-GCM key for encryption and, per
// purpose, an HMAC-SHA256 key for blind indexes. The standard library's
// crypto/aes, crypto/cipher, crypto/hkdf and crypto/hmac do the cryptography;
// this package only fixes the formats and the key handling.
//
// A sealed value is
//
//	0x01 (format) | key id (1 byte) | nonce (12 bytes) | AES-GCM ciphertext and tag
//
// and is bound to associated data chosen by the caller (for the registry:
// the row's blind index and the column), so a sealed value copied to another
// row or column does not open.
//
// Rotation: a key file holds one key per line, "ID HEX" (ID 1..255) or just
// "HEX" (ID 1). The line with the highest ID seals new values; every listed key
// opens the values it sealed. Blind indexes must stay stable across
// rotations (they are primary keys), so they are always derived from the key
// with the lowest ID; retiring that key means re-indexing every row.
package seal

import (
	"bufio"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/shenfen/shenfen/atomicfile"
)

// KeySize is the size of a master key in bytes.
const KeySize = 32

// format is the first byte of every sealed value.
const format = 0x01

// Overhead is how many bytes sealing adds to a plaintext.
const Overhead = 2 + 12 + 16

// ErrOpen is returned when a sealed value does not open: it was altered, is
// bound to other associated data, or was sealed with a key that is not loaded.
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens values and computes blind indexes. It is safe for
// concurrent use.
type Sealer struct {
	aeads    map[byte]cipher.AEAD
	current  byte
	indexKey []byte // master key the blind-index keys derive from

	checks map[byte][]byte // key ID -> check value

	mu      sync.Mutex
	indexes map[string]*sync.Pool // purpose -> pool of keyed HMACs
}

// New makes a Sealer from master keys by ID. The highest ID seals; the lowest
// ID's key derives the blind-index keys.
func New(keys map[byte][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{aeads: map[byte]cipher.AEAD{}, checks: map[byte][]byte{}, indexes: map[string]*sync.Pool{}}
	ids := make([]int, 0, len(keys))
	for id := range keys {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		k := keys[byte(id)]
		if id == 0 {
			return nil, errors.New("seal: key id 0 is reserved")
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("seal: key %d is %d bytes, want %d", id, len(k), KeySize)
		}
		ek, err := hkdf.Key(sha256.New, k, nil, "shenfen seal aes-256-gcm v1", 32)
		if err != nil {
			return nil, fmt.Errorf("seal: derive key %d: %w", id, err)
		}
		block, err := aes.NewCipher(ek)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		s.aeads[byte(id)] = aead
		if s.checks[byte(id)], err = hkdf.Key(sha256.New, k, nil, "shenfen seal key check v1", 16); err != nil {
			return nil, fmt.Errorf("seal: derive check value %d: %w", id, err)
		}
	}
	s.current = byte(ids[len(ids)-1])
	s.indexKey = append([]byte(nil), keys[byte(ids[0])]...)
	return s, nil
}

// KeyID is the ID of the key that seals new values.
func (s *Sealer) KeyID() byte { return s.current }

// Seal encrypts plaintext bound to ad with the current key.
func (s *Sealer) Seal(plaintext, ad []byte) []byte {
	aead := s.aeads[s.current]
	out := make([]byte, 2+aead.NonceSize(), 2+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = format
	out[1] = s.current
	rand.Read(out[2 : 2+aead.NonceSize()])
	return aead.Seal(out, out[2:2+aead.NonceSize()], plaintext, ad)
}

// Open decrypts a value made by Seal with the same ad.
func (s *Sealer) Open(sealed, ad []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != format {
		return nil, ErrOpen
	}
	aead, ok := s.aeads[sealed[1]]
	if !ok {
		return nil, fmt.Errorf("%w: key %d not loaded", ErrOpen, sealed[1])
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, sealed[2:2+n], sealed[2+n:], ad)
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// Index returns the blind index of data for a purpose (for example
// "registry/id-number"): HMAC-SHA256 under a key derived for that purpose, so
// equal data gives equal indexes within a purpose and unrelated ones across
// purposes. Without the master key an index reveals nothing about data.
func (s *Sealer) Index(purpose string, data []byte) []byte {
	p := s.pool(purpose)
	h := p.Get().(hash.Hash)
	h.Reset()
	h.Write(data)
	out := h.Sum(nil)
	p.Put(h)
	return out
}

func (s *Sealer) pool(purpose string) *sync.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.indexes[purpose]; ok {
		return p
	}
	k, err := hkdf.Key(sha256.New, s.indexKey, nil, "shenfen blind index v1 "+purpose, 32)
	if err != nil {
		panic("seal: hkdf: " + err.Error()) // only fails for absurd lengths
	}
	p := &sync.Pool{New: func() any { return hmac.New(sha256.New, k) }}
	s.indexes[purpose] = p
	return p
}

// Errors of the master key file, wrapped with the file's name and the cause.
var (
	// ErrNoKeyFile: the master key file does not exist (it also matches
	// fs.ErrNotExist).
	ErrNoKeyFile = fmt.Errorf("seal: master key file missing: %w", fs.ErrNotExist)
	// ErrBadKeyFile: the master key file exists but holds no usable key
	// (empty, short, not hex, readable by others).
	ErrBadKeyFile = errors.New("seal: master key file unusable")
	// ErrWrongKey: the key does not open the data it should: its check
	// value differs from the one recorded when the data was first sealed.
	ErrWrongKey = errors.New("seal: wrong master key")
)

// LoadKeyFile reads the master keys in path. It never creates the file: a
// missing file is an error wrapping [ErrNoKeyFile], a file without a usable
// key one wrapping [ErrBadKeyFile]; both name the file and the cause.
func LoadKeyFile(path string) (*Sealer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoKeyFile, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadKeyFile, path, err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s is readable by others (mode %v); chmod 600 it", ErrBadKeyFile, path, fi.Mode().Perm())
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, fmt.Errorf("%w: %s is empty", ErrBadKeyFile, path)
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadKeyFile, path, err)
	}
	s, err := New(keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadKeyFile, path, err)
	}
	return s, nil
}

// CreateKeyFile makes path (and its directory, mode 0700) with one new
// random key, mode 0600, written durably; it fails wrapping fs.ErrExist
// when path exists, and never overwrites a key.
func CreateKeyFile(path string) (*Sealer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("seal: key directory: %w", err)
	}
	k := make([]byte, KeySize)
	rand.Read(k)
	if err := atomicfile.Create(path, fmt.Appendf(nil, "1 %s\n", hex.EncodeToString(k)), 0o600); err != nil {
		return nil, fmt.Errorf("seal: create master key file: %w", err)
	}
	return New(map[byte][]byte{1: k})
}

// CheckValues returns, per key ID, the key's check value: 16 bytes derived
// from the key by HKDF, which tell whether a later key file holds the same
// key without revealing anything about it. Store them with the data the
// keys seal, and give them back to [Sealer.Verify] at every start.
func (s *Sealer) CheckValues() map[byte][]byte {
	out := make(map[byte][]byte, len(s.checks))
	for id, c := range s.checks {
		out[id] = append([]byte(nil), c...)
	}
	return out
}

// Verify compares the recorded check values with the loaded keys: every
// key ID recorded must be loaded and equal, or it returns an error wrapping
// [ErrWrongKey] that names the key ID. Loaded keys without a recorded check
// value are new (a rotation) and pass.
func (s *Sealer) Verify(recorded map[byte][]byte) error {
	ids := make([]int, 0, len(recorded))
	for id := range recorded {
		ids = append(ids, int(id))
	}
	sort.Ints(ids)
	for _, id := range ids {
		own, ok := s.checks[byte(id)]
		if !ok {
			return fmt.Errorf("%w: key %d, which sealed data here, is not in the key file", ErrWrongKey, id)
		}
		if !hmac.Equal(own, recorded[byte(id)]) {
			return fmt.Errorf("%w: key %d is not the key that sealed the data here (check value differs)", ErrWrongKey, id)
		}
	}
	return nil
}

// ParseKeys parses the content of a key file: one key per line, "ID HEX" or
// "HEX" (ID 1); blank lines and lines starting with # are ignored.
func ParseKeys(text string) (map[byte][]byte, error) {
	keys := map[byte][]byte{}
	sc := bufio.NewScanner(strings.NewReader(text))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		id, hx := 1, l
		if f := strings.Fields(l); len(f) == 2 {
			n, err := strconv.Atoi(f[0])
			if err != nil || n < 1 || n > 255 {
				return nil, fmt.Errorf("line %d: key id %q is not 1..255", line, f[0])
			}
			id, hx = n, f[1]
		} else if len(f) != 1 {
			return nil, fmt.Errorf("line %d: want \"ID HEX\" or \"HEX\"", line)
		}
		k, err := hex.DecodeString(hx)
		if err != nil {
			return nil, fmt.Errorf("line %d: key is not hex", line)
		}
		if len(k) != KeySize {
			return nil, fmt.Errorf("line %d: key is %d bytes, want %d (hex-encoded)", line, len(k), KeySize)
		}
		if _, dup := keys[byte(id)]; dup {
			return nil, fmt.Errorf("line %d: key id %d listed twice", line, id)
		}
		keys[byte(id)] = k
	}
	if len(keys) == 0 {
		return nil, errors.New("no key")
	}
	return keys, nil
}
