package audit

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoints: the log's tree heads in the C2SP tlog-checkpoint format, a
// C2SP signed note whose text is three lines (origin, tree size, base64
// root hash) signed with an Ed25519 note key, so that any witness or
// monitor that follows checkpoints can follow this log. They carry the
// same size and root as the JWS tree heads ([Log.STH]); a checkpoint is
// made from the stored head of its size, so both formats always agree.

// MaxCheckpointBytes bounds a checkpoint a verifier reads.
const MaxCheckpointBytes = 16 << 10

// Checkpoint is a tree head as C2SP tlog-checkpoint writes it.
type Checkpoint struct {
	// Origin names the log (the key name of its note key).
	Origin string
	Size   uint64
	Root   Hash
}

// Text is the checkpoint's note text: origin, size and base64 root, each
// ending in a newline, no extension lines.
func (c Checkpoint) Text() string {
	return c.Origin + "\n" + strconv.FormatUint(c.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(c.Root[:]) + "\n"
}

// noteSigner is a note.Signer over an Ed25519 crypto.Signer (a key that
// may stay in its provider).
type noteSigner struct {
	name string
	hash uint32
	key  crypto.Signer
}

func (s *noteSigner) Name() string    { return s.name }
func (s *noteSigner) KeyHash() uint32 { return s.hash }
func (s *noteSigner) Sign(msg []byte) ([]byte, error) {
	return s.key.Sign(rand.Reader, msg, crypto.Hash(0))
}

// NoteKey makes the signer of checkpoints named name from an Ed25519
// key, and its verifier key in the signed-note text form
// ("name+hash+base64", what witnesses and monitors are configured with).
func NoteKey(name string, key crypto.Signer) (note.Signer, string, error) {
	if err := CheckOrigin(name); err != nil {
		return nil, "", err
	}
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, "", errors.New("audit: the checkpoint key must be Ed25519")
	}
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return nil, "", fmt.Errorf("audit: checkpoint key: %w", err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, "", fmt.Errorf("audit: checkpoint key: %w", err)
	}
	return &noteSigner{name: name, hash: v.KeyHash(), key: key}, vkey, nil
}

// ErrNoCheckpoints: the log was not given a checkpoint key.
var ErrNoCheckpoints = errors.New("audit: no checkpoint key")

// SetCheckpointKey makes the log sign checkpoints with s; its name is the
// checkpoint origin. Call it before serving.
func (l *Log) SetCheckpointKey(s note.Signer) { l.note = s }

// Checkpoint returns the signed checkpoint of the current tree (the tree
// of the current signed JWS head, signing one if the tree grew).
func (l *Log) Checkpoint(ctx context.Context) ([]byte, error) {
	if l.note == nil {
		return nil, ErrNoCheckpoints
	}
	h, err := l.STH(ctx)
	if err != nil {
		return nil, err
	}
	l.cpMu.Lock()
	defer l.cpMu.Unlock()
	if l.lastCP.msg != nil && l.lastCP.size == h.Size && l.lastCP.root == h.Root {
		return bytes.Clone(l.lastCP.msg), nil
	}
	c := Checkpoint{Origin: l.note.Name(), Size: h.Size, Root: h.Root}
	msg, err := note.Sign(&note.Note{Text: c.Text()}, l.note)
	if err != nil {
		return nil, fmt.Errorf("audit: sign checkpoint: %w", err)
	}
	l.lastCP.size, l.lastCP.root, l.lastCP.msg = h.Size, h.Root, bytes.Clone(msg)
	return msg, nil
}

// OpenCheckpoint verifies a signed checkpoint with the log's note
// verifier key (vkey, "name+hash+base64") and parses its text. The key's
// name must be the origin; signatures by other keys (witness cosignatures)
// are ignored, and one by the log's key is required. The text must be
// exactly origin, size (no leading zero) and a 32-byte base64 root:
// shenfen's checkpoints carry no extension lines.
func OpenCheckpoint(msg []byte, vkey string) (Checkpoint, error) {
	if len(msg) > MaxCheckpointBytes {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %d bytes", ErrProof, len(msg))
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint key: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %v", ErrProof, err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) != 3 {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %d lines", ErrProof, len(lines))
	}
	c := Checkpoint{Origin: lines[0]}
	if c.Origin != v.Name() {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint origin %q signed by key %q", ErrProof, c.Origin, v.Name())
	}
	c.Size, err = strconv.ParseUint(lines[1], 10, 64)
	if err != nil || strconv.FormatUint(c.Size, 10) != lines[1] {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint size %q", ErrProof, lines[1])
	}
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != len(c.Root) {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint root %q", ErrProof, lines[2])
	}
	copy(c.Root[:], root)
	return c, nil
}

// CheckpointSource is a log's checkpoints and consistency proofs as a
// monitor reads them (trustapi.AuditClient reads them over HTTP).
type CheckpointSource interface {
	// Checkpoint returns the log's current signed checkpoint.
	Checkpoint(ctx context.Context) ([]byte, error)
	// Consistency returns the proof that the tree of first leaves is a
	// prefix of the tree of second leaves.
	Consistency(ctx context.Context, first, second uint64) ([]Hash, error)
}

// FollowCheckpoint is a monitor's step over checkpoints: fetch the log's
// checkpoint, verify it with the log's note key, and when a checkpoint
// was seen before (prev not nil), check with a consistency proof that the
// new tree extends it (a smaller tree, or another root at the same size,
// is a fork: [ErrRewritten]). It returns the new checkpoint to keep.
func FollowCheckpoint(ctx context.Context, src CheckpointSource, vkey string, prev *Checkpoint) (Checkpoint, error) {
	msg, err := src.Checkpoint(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("audit: fetch checkpoint: %w", err)
	}
	c, err := OpenCheckpoint(msg, vkey)
	if err != nil {
		return Checkpoint{}, err
	}
	if prev == nil {
		return c, nil
	}
	if prev.Origin != c.Origin {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint of %q, following %q", ErrProof, c.Origin, prev.Origin)
	}
	if c.Size < prev.Size {
		return Checkpoint{}, fmt.Errorf("%w: size went from %d to %d", ErrRewritten, prev.Size, c.Size)
	}
	var proof []Hash
	if c.Size != prev.Size {
		if proof, err = src.Consistency(ctx, prev.Size, c.Size); err != nil {
			return Checkpoint{}, fmt.Errorf("audit: fetch consistency proof: %w", err)
		}
	}
	if err := VerifyConsistency(prev.Size, c.Size, prev.Root, c.Root, proof); err != nil {
		return Checkpoint{}, fmt.Errorf("%w (%v)", ErrRewritten, err)
	}
	return c, nil
}

// CheckOrigin accepts a checkpoint origin (and note key name): non-empty,
// at most 256 bytes, no plus sign, no spaces or control characters, as
// C2SP tlog-checkpoint recommends.
func CheckOrigin(origin string) error {
	if origin == "" || len(origin) > 256 || strings.Contains(origin, "+") {
		return fmt.Errorf("audit: checkpoint origin %q", origin)
	}
	for _, r := range origin {
		if r < 0x21 || r == 0x7f {
			return fmt.Errorf("audit: checkpoint origin %q", origin)
		}
	}
	return nil
}
