package seal

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func TestSealOpen(t *testing.T) {
	s, err := New(map[byte][]byte{1: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte("张三 110101199003077777")
	ad := []byte("row-1/pii")
	ct := s.Seal(pt, ad)
	if len(ct) != len(pt)+Overhead {
		t.Fatalf("sealed length %d, want %d", len(ct), len(pt)+Overhead)
	}
	if bytes.Contains(ct, pt[:6]) {
		t.Fatal("plaintext visible in sealed value")
	}
	got, err := s.Open(ct, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if bytes.Equal(ct, s.Seal(pt, ad)) {
		t.Fatal("two seals of the same value are equal (nonce reuse)")
	}
	tampered := func(i int) []byte { c := bytes.Clone(ct); c[i] ^= 1; return c }
	bad := []struct {
		name string
		ct   []byte
		ad   []byte
	}{
		{"other associated data", ct, []byte("row-2/pii")},
		{"flipped format", tampered(0), ad},
		{"unknown key id", tampered(1), ad},
		{"flipped nonce", tampered(3), ad},
		{"flipped ciphertext", tampered(len(ct) - 20), ad},
		{"flipped tag", tampered(len(ct) - 1), ad},
		{"truncated", ct[:Overhead-1], ad},
		{"empty", nil, ad},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Open(tc.ct, tc.ad); !errors.Is(err, ErrOpen) {
				t.Fatalf("Open = %v, want ErrOpen", err)
			}
		})
	}
}

func TestRotation(t *testing.T) {
	old, _ := New(map[byte][]byte{1: key(1)})
	both, err := New(map[byte][]byte{1: key(1), 2: key(2)})
	if err != nil {
		t.Fatal(err)
	}
	if both.KeyID() != 2 {
		t.Fatalf("sealing key %d, want 2", both.KeyID())
	}
	ct := old.Seal([]byte("x"), nil)
	if _, err := both.Open(ct, nil); err != nil {
		t.Fatalf("rotated sealer cannot open old value: %v", err)
	}
	nct := both.Seal([]byte("y"), nil)
	if nct[1] != 2 {
		t.Fatalf("new value sealed with key %d", nct[1])
	}
	if _, err := old.Open(nct, nil); !errors.Is(err, ErrOpen) {
		t.Fatalf("old sealer opened a value of a key it lacks: %v", err)
	}
	// Blind indexes survive the rotation.
	if !bytes.Equal(old.Index("p", []byte("a")), both.Index("p", []byte("a"))) {
		t.Fatal("blind index changed with rotation")
	}
}

func TestIndex(t *testing.T) {
	s, _ := New(map[byte][]byte{1: key(1)})
	o, _ := New(map[byte][]byte{1: key(2)})
	a := s.Index("registry/id", []byte("110101199003077777"))
	if len(a) != 32 {
		t.Fatalf("index length %d", len(a))
	}
	if !bytes.Equal(a, s.Index("registry/id", []byte("110101199003077777"))) {
		t.Fatal("index not deterministic")
	}
	if bytes.Equal(a, s.Index("other", []byte("110101199003077777"))) {
		t.Fatal("purposes share an index")
	}
	if bytes.Equal(a, o.Index("registry/id", []byte("110101199003077777"))) {
		t.Fatal("different master keys give the same index")
	}
}

func TestNewRejects(t *testing.T) {
	for name, keys := range map[string]map[byte][]byte{
		"none":      {},
		"short key": {1: make([]byte, 16)},
		"id zero":   {0: key(1)},
	} {
		if _, err := New(keys); err == nil {
			t.Errorf("%s: New accepted", name)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "master.key")
	if _, err := LoadKeyFile(path); !errors.Is(err, ErrNoKeyFile) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("missing key file: %v, want ErrNoKeyFile naming the file", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("LoadKeyFile created the missing file (%v)", err)
	}
	s, err := CreateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateKeyFile = %v, want fs.ErrExist", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	ct := s.Seal([]byte("v"), nil)
	s2, err := LoadKeyFile(path)
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if _, err := s2.Open(ct, nil); err != nil {
		t.Fatalf("reloaded key does not open: %v", err)
	}
	if err := s2.Verify(s.CheckValues()); err != nil {
		t.Fatalf("the same key fails its check value: %v", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(path); !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), "readable by others") {
		t.Fatalf("world-readable key file accepted: %v", err)
	}
}

// TestKeyFileUnusable: every broken key file is refused with an error that
// names the file and the cause.
func TestKeyFileUnusable(t *testing.T) {
	dir := t.TempDir()
	h := hex.EncodeToString(key(3))
	for _, tc := range []struct{ name, content, cause string }{
		{"empty", "", "is empty"},
		{"blank", "\n  \n", "is empty"},
		{"comment only", "# key goes here\n", "no key"},
		{"short", h[:32] + "\n", "is 16 bytes, want 32"},
		{"truncated hex", h[:63], "not hex"},
		{"not hex", "1 " + strings.Repeat("zz", 32), "not hex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".key")
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := LoadKeyFile(path)
			if !errors.Is(err, ErrBadKeyFile) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("LoadKeyFile = %v, want ErrBadKeyFile naming %s and %q", err, path, tc.cause)
			}
		})
	}
}

func TestVerifyCheckValues(t *testing.T) {
	a, _ := New(map[byte][]byte{1: key(1)})
	rotated, _ := New(map[byte][]byte{1: key(1), 2: key(2)})
	other, _ := New(map[byte][]byte{1: key(9)})
	onlyNew, _ := New(map[byte][]byte{2: key(2)})
	if len(a.CheckValues()[1]) != 16 || bytes.Equal(a.CheckValues()[1], other.CheckValues()[1]) {
		t.Fatal("check values of different keys are equal")
	}
	if err := rotated.Verify(a.CheckValues()); err != nil {
		t.Fatalf("a rotated key file (old key kept) fails: %v", err)
	}
	for name, tc := range map[string]struct {
		s        *Sealer
		recorded map[byte][]byte
	}{
		"other key":       {other, a.CheckValues()},
		"old key dropped": {onlyNew, rotated.CheckValues()},
		"rotated wrong":   {a, rotated.CheckValues()},
	} {
		if err := tc.s.Verify(tc.recorded); !errors.Is(err, ErrWrongKey) {
			t.Errorf("%s: Verify = %v, want ErrWrongKey", name, err)
		}
	}
}

func TestParseKeys(t *testing.T) {
	h := hex.EncodeToString(key(7))
	good := []struct {
		text string
		ids  []byte
	}{
		{h, []byte{1}},
		{"# comment\n\n1 " + h + "\n3 " + hex.EncodeToString(key(8)) + "\n", []byte{1, 3}},
	}
	for _, tc := range good {
		keys, err := ParseKeys(tc.text)
		if err != nil {
			t.Fatalf("ParseKeys(%q): %v", tc.text, err)
		}
		for _, id := range tc.ids {
			if len(keys[id]) != KeySize {
				t.Fatalf("key %d missing", id)
			}
		}
	}
	for _, text := range []string{"", "# only\n", "zz", "1 " + h[:10], "0 " + h, "256 " + h, "1 " + h + "\n1 " + h, "1 2 3"} {
		if _, err := ParseKeys(text); err == nil {
			t.Errorf("ParseKeys(%q) accepted", text)
		}
	}
}

func FuzzOpen(f *testing.F) {
	s, _ := New(map[byte][]byte{1: key(1)})
	f.Add(s.Seal([]byte("hello"), []byte("ad")), []byte("ad"))
	f.Add([]byte{1, 1}, []byte{})
	f.Fuzz(func(t *testing.T, ct, ad []byte) {
		pt, err := s.Open(ct, ad)
		if err == nil && !bytes.Equal(s.Seal(pt, ad)[:2], ct[:2]) {
			t.Fatal("opened a value with a foreign header")
		}
	})
}

func FuzzParseKeys(f *testing.F) {
	f.Add("1 " + hex.EncodeToString(key(1)))
	f.Add("# x\n2 00")
	f.Fuzz(func(t *testing.T, text string) {
		keys, err := ParseKeys(text)
		if err != nil {
			return
		}
		if _, err := New(keys); err != nil {
			t.Fatalf("ParseKeys accepted keys that New rejects: %v", err)
		}
	})
}
