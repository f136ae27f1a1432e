package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// failing is a temporary file whose Write, Sync or Close fails, the way a
// full disk or an I/O error makes them fail; a failed Write leaves half of
// the data behind, as a real short write does.
type failing struct {
	*os.File
	failWrite, failSync, failClose bool
}

var errInjected = errors.New("injected I/O error")

func (f *failing) Write(b []byte) (int, error) {
	if f.failWrite {
		n, _ := f.File.Write(b[:len(b)/2])
		return n, errInjected
	}
	return f.File.Write(b)
}

func (f *failing) Sync() error {
	if f.failSync {
		return errInjected
	}
	return f.File.Sync()
}

func (f *failing) Close() error {
	err := f.File.Close()
	if f.failClose {
		return errInjected
	}
	return err
}

func TestWriteFailureKeepsOldFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    failing
	}{
		{"write", failing{failWrite: true}},
		{"sync", failing{failSync: true}},
		{"close", failing{failClose: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "ring.json")
			old := []byte(`{"version":1,"good":true}`)
			if err := Write(path, old, 0o600); err != nil {
				t.Fatal(err)
			}
			orig := createTemp
			t.Cleanup(func() { createTemp = orig })
			createTemp = func(dir, pattern string) (file, error) {
				f, err := os.CreateTemp(dir, pattern)
				if err != nil {
					return nil, err
				}
				tc.f.File = f
				return &tc.f, nil
			}
			err := Write(path, bytes.Repeat([]byte("new content "), 1000), 0o600)
			if !errors.Is(err, errInjected) {
				t.Fatalf("Write with a failing %s = %v, want the injected error", tc.name, err)
			}
			got, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, old) {
				t.Fatalf("after the failed write the file holds %q (%v), want the old content", got, err)
			}
			assertOnly(t, dir, "ring.json")
			if err := Create(filepath.Join(dir, "new.key"), []byte("key"), 0o600); !errors.Is(err, errInjected) {
				t.Fatalf("Create with a failing %s = %v, want the injected error", tc.name, err)
			}
			assertOnly(t, dir, "ring.json")
		})
	}
}

// assertOnly checks that dir holds exactly the named files (no temporary
// file left behind).
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if len(got) != len(names) {
		t.Fatalf("directory holds %q, want %q", got, names)
	}
	for i := range got {
		if got[i] != names[i] {
			t.Fatalf("directory holds %q, want %q", got, names)
		}
	}
}

func TestWriteReplacesAndSetsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	for _, c := range []string{"one", "two"} {
		if err := Write(path, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(path); string(got) != c {
			t.Fatalf("file holds %q, want %q", got, c)
		}
	}
	if err := Write(path, []byte("three"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v (%v), want 0644", fi.Mode().Perm(), err)
	}
}

func TestCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	if err := Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(path, []byte("second"), 0o600)
	if !errors.Is(err, ErrExist) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create = %v, want ErrExist", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Fatalf("file holds %q after a refused Create, want the first content", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	assertOnly(t, dir, "master.key")
	if err := Create(filepath.Join(dir, "missing-dir", "k"), nil, 0o600); err == nil {
		t.Fatal("Create in a missing directory succeeded")
	}
}

// TestDiskFull makes the kernel refuse the write, as a full disk does:
// a child process lowers its file-size limit (RLIMIT_FSIZE) below the new
// content and tries to replace the file; the old content must survive.
func TestDiskFull(t *testing.T) {
	if path := os.Getenv("ATOMICFILE_FSIZE_CHILD"); path != "" {
		signal.Ignore(syscall.SIGXFSZ) // the write then fails with EFBIG
		lim := syscall.Rlimit{Cur: 4096, Max: 4096}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			t.Fatalf("setrlimit: %v", err)
		}
		err := Write(path, bytes.Repeat([]byte{'x'}, 1<<20), 0o600)
		if !errors.Is(err, syscall.EFBIG) {
			t.Fatalf("Write beyond the file-size limit = %v, want EFBIG", err)
		}
		fmt.Println("child: write refused with EFBIG")
		return
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ring.json")
	if err := Write(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ATOMICFILE_FSIZE_CHILD="+path)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: write refused with EFBIG") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Fatalf("after a failed write past the disk limit the file holds %d bytes, want the old 3", len(got))
	}
	assertOnly(t, dir, "ring.json")
}
