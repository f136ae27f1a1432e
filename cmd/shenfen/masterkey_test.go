package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/seal"
)

// masterKeyFixture is a data directory with a demo registry of n residents
// imported under the default master key.
func masterKeyFixture(t *testing.T, n string) (data, csv string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data, csv = filepath.Join(dir, "data"), filepath.Join(dir, "demo.csv")
	if err := runRegistry(ctx, []string{"demo", "--faces", "", "--count", n, "--seed", "5", "--out", csv}); err != nil {
		t.Fatal(err)
	}
	if err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", csv}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(data, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("first import: master key %v, %v; want a 0600 file", fi, err)
	}
	return data, csv
}

// registryCount opens the database with the right key and counts records.
func registryCount(t *testing.T, data string) int64 {
	t.Helper()
	a := openTestApp(t, data)
	defer a.Close()
	n, err := a.registry.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestMasterKeyMissingStopsImport is the double import of issue 12: with
// master.key gone, a second import made a new key and imported every
// record again under it (205 -> 410 rows). Now it stops, names the file
// and the cause, and writes no key.
func TestMasterKeyMissingStopsImport(t *testing.T) {
	ctx := context.Background()
	data, csv := masterKeyFixture(t, "25")
	keyFile := filepath.Join(data, "master.key")
	good, _ := os.ReadFile(keyFile)
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"registry", "import", "--data", data, "--quiet", csv},
		{"keys", "list", "--data", data},
		{"serve", "--data", data, "--addr", "127.0.0.1:0"},
	} {
		err := commands[args[0]].run(ctx, args[1:])
		if !errors.Is(err, ErrMasterKey) || !errors.Is(err, seal.ErrNoKeyFile) ||
			!strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), "the database holds data") {
			t.Fatalf("%s without the master key: %v; want an error naming %s and the data that needs it", strings.Join(args[:2], " "), err, keyFile)
		}
		if _, err := os.Stat(keyFile); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s made a new master key", strings.Join(args[:2], " "))
		}
	}
	if err := os.WriteFile(keyFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	if n := registryCount(t, data); n != 25 {
		t.Fatalf("%d records after the refused import, want 25", n)
	}
}

// TestMasterKeyUnusable: an empty, short, malformed, foreign or
// world-readable key file stops the command; the file is left as it was.
func TestMasterKeyUnusable(t *testing.T) {
	ctx := context.Background()
	data, csv := masterKeyFixture(t, "10")
	keyFile := filepath.Join(data, "master.key")
	good, _ := os.ReadFile(keyFile)
	other := "1 " + hex.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n"
	for _, tc := range []struct {
		name, content string
		mode          fs.FileMode
		target        error
		cause         string
	}{
		{"empty", "", 0o600, seal.ErrBadKeyFile, "is empty"},
		{"short", "1 " + strings.Repeat("ab", 16) + "\n", 0o600, seal.ErrBadKeyFile, "want 32"},
		{"not hex", "1 " + strings.Repeat("g", 64) + "\n", 0o600, seal.ErrBadKeyFile, "not hex"},
		{"other key", other, 0o600, seal.ErrWrongKey, "check value differs"},
		{"old key dropped", "2 " + hex.EncodeToString(bytes.Repeat([]byte{8}, 32)) + "\n", 0o600, seal.ErrWrongKey, "key 1"},
		{"readable by others", string(good), 0o644, seal.ErrBadKeyFile, "readable by others"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(keyFile, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			os.Chmod(keyFile, tc.mode)
			err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", csv})
			if !errors.Is(err, ErrMasterKey) || !errors.Is(err, tc.target) || !strings.Contains(err.Error(), keyFile) || !strings.Contains(err.Error(), tc.cause) {
				t.Errorf("import = %v; want %v naming %s and %q", err, tc.target, keyFile, tc.cause)
			}
			if b, _ := os.ReadFile(keyFile); string(b) != tc.content {
				t.Errorf("key file changed by the refused command")
			}
		})
	}
	// A rotated key file (the old key kept, a new one added) is accepted.
	rotated := string(good) + "2 " + hex.EncodeToString(bytes.Repeat([]byte{9}, 32)) + "\n"
	if err := os.WriteFile(keyFile, []byte(rotated), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Chmod(keyFile, 0o600)
	if n := registryCount(t, data); n != 10 {
		t.Fatalf("%d records with the rotated key file, want 10", n)
	}
}

// TestMasterKeyNamedFile: a --master-key-file that does not exist never
// receives a key from an ordinary command, even for an empty database;
// `keys init-master` makes it for a new installation, and only then.
func TestMasterKeyNamedFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	named := filepath.Join(dir, "secrets", "shenfen.key")
	typo := filepath.Join(dir, "secrest", "shenfen.key")
	err := runKeys(ctx, []string{"list", "--data", data, "--master-key-file", typo})
	if !errors.Is(err, seal.ErrNoKeyFile) || !strings.Contains(err.Error(), typo) || !strings.Contains(err.Error(), "init-master") {
		t.Fatalf("mistyped --master-key-file: %v; want an error naming it and init-master", err)
	}
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a mistyped --master-key-file received a key")
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a key was made at the default path instead")
	}
	if err := runKeys(ctx, []string{"init-master", "--data", data, "--master-key-file", named}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(named); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("init-master: %v, %v; want a 0600 key file", fi, err)
	}
	if err := runRegistry(ctx, []string{"demo", "--data", data, "--master-key-file", named, "--faces", "", "--count", "5", "--import"}); err != nil {
		t.Fatal(err)
	}
	// Never overwritten; never a second key for a database with data.
	before, _ := os.ReadFile(named)
	if err := runKeys(ctx, []string{"init-master", "--data", data, "--master-key-file", named}); !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("init-master over an existing key: %v", err)
	}
	if after, _ := os.ReadFile(named); !bytes.Equal(before, after) {
		t.Fatal("init-master changed an existing key file")
	}
	if err := runKeys(ctx, []string{"init-master", "--data", data, "--master-key-file", typo}); !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "the database holds data") {
		t.Fatalf("init-master for a database with data: %v", err)
	}
	if _, err := os.Stat(typo); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("init-master made a second key for a database with data")
	}
	// The default path gets no key either once the database has data.
	if err := runKeys(ctx, []string{"list", "--data", data}); !errors.Is(err, seal.ErrNoKeyFile) {
		t.Fatalf("default key path with data sealed under a named key: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "master.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a key was made at the default path for a database with data")
	}
}

// TestMasterKeyLegacyDatabase: a database sealed before check values were
// recorded is checked by opening a record; the right key is then recorded.
func TestMasterKeyLegacyDatabase(t *testing.T) {
	ctx := context.Background()
	data, csv := masterKeyFixture(t, "5")
	keyFile := filepath.Join(data, "master.key")
	good, _ := os.ReadFile(keyFile)
	forget := func() {
		a := openTestApp(t, data)
		defer a.Close()
		if _, err := a.db.Exec(ctx, `DELETE FROM seal_key_checks`); err != nil {
			t.Fatal(err)
		}
	}
	forget()
	if err := os.WriteFile(keyFile, []byte("1 "+hex.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", csv})
	if !errors.Is(err, ErrMasterKey) || !strings.Contains(err.Error(), "does not open the data") {
		t.Fatalf("wrong key on a database without check values: %v", err)
	}
	if err := os.WriteFile(keyFile, good, 0o600); err != nil {
		t.Fatal(err)
	}
	a := openTestApp(t, data)
	defer a.Close()
	if checks, err := a.db.KeyChecks(ctx); err != nil || len(checks) != 1 {
		t.Fatalf("check values after opening with the right key: %v, %v", checks, err)
	}
}
