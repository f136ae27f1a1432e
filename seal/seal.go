// Package seal encrypts personal data at rest and computes blind indexes, so
// that a copy of the database alone reveals neither who is registered nor
// anything about them.
//
// One 32-byte master key (a key file made on first start, mode 0600, or a
// file named in the configuration) is never used directly: HKDF-SHA256
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

	mu      sync.Mutex
	indexes map[string]*sync.Pool // purpose -> pool of keyed HMACs
}

// New makes a Sealer from master keys by ID. The highest ID seals; the lowest
// ID's key derives the blind-index keys.
func New(keys map[byte][]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("seal: no key")
	}
	s := &Sealer{aeads: map[byte]cipher.AEAD{}, indexes: map[string]*sync.Pool{}}
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

// LoadKeyFile reads the master keys in path, creating the file with one new
// random key (mode 0600) if it does not exist. It reports whether it created
// the file.
func LoadKeyFile(path string) (s *Sealer, created bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, false, err
		} else if err == nil {
			created = true
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, false, fmt.Errorf("seal: read key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, false, fmt.Errorf("seal: key file %s is readable by others (mode %v); chmod 600 it", path, fi.Mode().Perm())
	}
	keys, err := ParseKeys(string(b))
	if err != nil {
		return nil, false, fmt.Errorf("seal: key file %s: %w", path, err)
	}
	s, err = New(keys)
	return s, created, err
}

func createKeyFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("seal: key directory: %w", err)
	}
	k := make([]byte, KeySize)
	rand.Read(k)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(f, "1 %s\n", hex.EncodeToString(k)); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("seal: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
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
		if err != nil || len(k) != KeySize {
			return nil, fmt.Errorf("line %d: key is not %d hex-encoded bytes", line, KeySize)
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
