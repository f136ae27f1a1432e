package keys_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/shenfen/shenfen/keys"
)

// TestRotateOnFullDiskKeepsRing fills the "disk" while a rotation saves the
// ring: a child process opens the ring, lowers its file-size limit so that
// the new signer's key file still fits but the larger ring.json does not
// (as on a nearly full disk), and rotates. The rotation must fail and the
// old ring.json stay whole and usable; before the durable-write helper a
// write error here was lost and the partial file renamed over ring.json.
func TestRotateOnFullDiskKeepsRing(t *testing.T) {
	ctx := context.Background()
	cfg := keys.Config{Issuer: "https://id.example"}
	if dir := os.Getenv("KEYS_FSIZE_CHILD"); dir != "" {
		r, err := keys.Open(ctx, dir, keys.NewFileProvider(dir, master(7)), cfg)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dir, "ring.json"))
		if err != nil {
			t.Fatal(err)
		}
		signal.Ignore(syscall.SIGXFSZ)
		lim := uint64(fi.Size() + 64)
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: lim, Max: lim}); err != nil {
			t.Fatal(err)
		}
		_, err = r.Rotate(ctx)
		if err == nil || !strings.Contains(err.Error(), "file too large") {
			t.Fatalf("Rotate past the file-size limit = %v, want a file-too-large error", err)
		}
		fmt.Println("child: rotate failed:", err)
		return
	}
	dir := t.TempDir()
	r, err := keys.Open(ctx, dir, keys.NewFileProvider(dir, master(7)), cfg)
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(filepath.Join(dir, "ring.json"))
	if err != nil {
		t.Fatal(err)
	}
	cur, err := r.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRotateOnFullDiskKeepsRing$", "-test.count=1")
	cmd.Env = append(os.Environ(), "KEYS_FSIZE_CHILD="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: rotate failed") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	after, err := os.ReadFile(filepath.Join(dir, "ring.json"))
	if err != nil || !bytes.Equal(before, after) {
		t.Fatalf("ring.json changed by a failed rotation (%d -> %d bytes, %v)", len(before), len(after), err)
	}
	r2, err := keys.Open(ctx, dir, keys.NewFileProvider(dir, master(7)), cfg)
	if err != nil {
		t.Fatalf("reopen after the failed rotation: %v", err)
	}
	cur2, err := r2.Current(ctx)
	if err != nil || cur2.KeyID != cur.KeyID {
		t.Fatalf("current signer after the failed rotation: %v, %v (want %s)", cur2, err, cur.KeyID)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
