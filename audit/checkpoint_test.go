package audit_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shenfen/shenfen/audit"
)

func noteKey(t *testing.T, name string) (note.Signer, string) {
	t.Helper()
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	s, vkey, err := audit.NoteKey(name, k)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func TestCheckpoint(t *testing.T) {
	ctx := context.Background()
	log, _, _ := newLog(t)
	if _, err := log.Checkpoint(ctx); !errors.Is(err, audit.ErrNoCheckpoints) {
		t.Fatalf("checkpoint without a key: %v", err)
	}
	signer, vkey := noteKey(t, "id.example/audit")
	log.SetCheckpointKey(signer)
	for i := 0; i < 5; i++ {
		log.Append(ctx, audit.Issuance(time.Now(), "https://id.example/status/a", i, "dc+sd-jwt", []byte{byte(i)}))
	}
	msg, err := log.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	head, err := log.STH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := "id.example/audit\n5\n" + base64.StdEncoding.EncodeToString(head.Root[:]) + "\n\n— id.example/audit "
	if !strings.HasPrefix(string(msg), want) {
		t.Fatalf("checkpoint %q, want it to start %q", msg, want)
	}
	c, err := audit.OpenCheckpoint(msg, vkey)
	if err != nil || c.Size != 5 || c.Root != head.Root || c.Origin != "id.example/audit" {
		t.Fatalf("open: %+v %v", c, err)
	}

	// Refused: another key of the same name, a key of another name, bodies
	// that are not exactly a checkpoint, a tampered signature.
	_, otherKey := noteKey(t, "id.example/audit")
	if _, err := audit.OpenCheckpoint(msg, otherKey); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("another key: %v", err)
	}
	root := base64.StdEncoding.EncodeToString(head.Root[:])
	wrongName, wrongVkey := noteKey(t, "elsewhere.example/audit")
	for name, c := range map[string]struct {
		text string
		s    note.Signer
		vkey string
	}{
		"origin not the key's": {"id.example/audit\n5\n" + root + "\n", wrongName, wrongVkey},
		"extension line":       {"id.example/audit\n5\n" + root + "\nextra\n", signer, vkey},
		"leading zero":         {"id.example/audit\n05\n" + root + "\n", signer, vkey},
		"short root":           {"id.example/audit\n5\n" + base64.StdEncoding.EncodeToString(head.Root[:31]) + "\n", signer, vkey},
		"url-safe root":        {"id.example/audit\n5\n" + base64.URLEncoding.EncodeToString(head.Root[:]) + "x\n", signer, vkey},
		"two lines":            {"id.example/audit\n5\n", signer, vkey},
	} {
		m, err := note.Sign(&note.Note{Text: c.text}, c.s)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := audit.OpenCheckpoint(m, c.vkey); !errors.Is(err, audit.ErrProof) {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := []byte(string(msg))
	bad[len(bad)-5] ^= 1
	if _, err := audit.OpenCheckpoint(bad, vkey); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("tampered signature: %v", err)
	}
	if _, _, err := audit.NoteKey("bad+name", ed25519.NewKeyFromSeed(make([]byte, 32))); err == nil {
		t.Fatal("an origin with a plus sign")
	}
}

func TestIssuanceProof(t *testing.T) {
	ctx := context.Background()
	log, _, _ := newLog(t)
	var digests []string
	for i := 0; i < 6; i++ {
		ev := audit.Issuance(time.Now(), "https://id.example/status/a", i, "dc+sd-jwt", []byte{byte(i)})
		digests = append(digests, ev.Digest)
		if _, err := log.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
		log.Append(ctx, audit.StatusChange(time.Now(), "https://id.example/status/a", i, "suspended"))
	}
	root, err := log.STH(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range digests {
		leaf, p, err := log.IssuanceProof(ctx, d, 12)
		if err != nil || leaf.Index != uint64(2*i) {
			t.Fatalf("issuance %d: leaf %d, %v", i, leaf.Index, err)
		}
		if err := audit.VerifyInclusion(audit.HashLeaf(leaf.Data), leaf.Index, 12, p, root.Root); err != nil {
			t.Fatalf("issuance %d: %v", i, err)
		}
	}
	// A batch of single-use credentials is one leaf, found by its digest.
	batch := audit.Event{Type: audit.EventBatchIssuance, At: time.Now(), Ref: "https://id.example/status/a#1",
		Digest: base64.RawURLEncoding.EncodeToString(make([]byte, 32)), Attrs: map[string]string{"count": "20"}}
	idx, err := log.Append(ctx, batch)
	if err != nil {
		t.Fatal(err)
	}
	if leaf, p, err := log.IssuanceProof(ctx, batch.Digest, 13); err != nil || leaf.Index != idx || len(p) == 0 {
		t.Fatalf("batch: leaf %d (want %d), %v", leaf.Index, idx, err)
	}
	if _, _, err := log.IssuanceProof(ctx, digests[5], 10); !errors.Is(err, audit.ErrNotFound) {
		t.Fatalf("issued after the tree: %v", err)
	}
	if _, _, err := log.IssuanceProof(ctx, "abc", 12); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("bad digest: %v", err)
	}
	if _, _, err := log.IssuanceProof(ctx, digests[0], 99); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("tree past the log: %v", err)
	}
}

// FuzzOpenCheckpoint: a checkpoint is outside input (a monitor reads it
// from the network). Whatever the bytes, no panic; what opens is exactly
// what the log's key signed, in the one text form Checkpoint.Text makes.
func FuzzOpenCheckpoint(f *testing.F) {
	k := ed25519.NewKeyFromSeed(make([]byte, 32))
	signer, vkey, err := audit.NoteKey("id.example/audit", k)
	if err != nil {
		f.Fatal(err)
	}
	for _, text := range []string{"id.example/audit\n5\n" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + "\n",
		"id.example/audit\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", "id.example/audit\n1\nx\nextra\n"} {
		msg, err := note.Sign(&note.Note{Text: text}, signer)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(msg)
	}
	f.Add([]byte("id.example/audit\n1\n\n— id.example/audit AAAA\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, err := audit.OpenCheckpoint(msg, vkey)
		if err != nil {
			return
		}
		n, err := note.Open(msg, note.VerifierList(mustVerifier(t, vkey)))
		if err != nil || n.Text != c.Text() {
			t.Fatalf("opened %+v from a note whose text is %q (%v)", c, n.Text, err)
		}
	})
}

func mustVerifier(t *testing.T, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
