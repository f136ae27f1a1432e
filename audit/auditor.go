package audit

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"time"

	"github.com/shenfen/shenfen/keys/jws"
)

// KeyFunc returns the trusted key that must have signed a tree head, from
// its protected header (kid, x5c); status.ChainKeys makes one from the
// authority's root certificates.
type KeyFunc func(h jws.Header, now time.Time) (*ecdsa.PublicKey, error)

// Source is a log as an auditor sees it (package trustapi's AuditClient
// reads one over HTTP).
type Source interface {
	// TreeHead returns the log's current signed tree head (compact JWS).
	TreeHead(ctx context.Context) (string, error)
	// Consistency returns the proof that the tree of first leaves is a
	// prefix of the tree of second leaves.
	Consistency(ctx context.Context, first, second uint64) ([]Hash, error)
}

// ErrRewritten: the log's new head does not extend the last one the
// auditor saw (history rewritten, or a fork shown to this auditor).
var ErrRewritten = fmt.Errorf("%w: the log does not extend the last head seen", ErrProof)

// CheckHead is the auditor's step: fetch the log's signed tree head,
// verify its signature with a trusted key, and when the auditor saw a head
// before (prev not nil), check with a consistency proof that the new tree
// extends the old one, and that time did not run backwards. It returns the
// new head, which the auditor keeps for next time.
func CheckHead(ctx context.Context, src Source, keyFor KeyFunc, prev *TreeHead, now time.Time) (TreeHead, error) {
	compact, err := src.TreeHead(ctx)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: fetch tree head: %w", err)
	}
	p, err := jws.Parse([]byte(compact), 64<<10)
	if err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head: %v", ErrProof, err)
	}
	pub, err := keyFor(p.Header, now)
	if err != nil {
		return TreeHead{}, fmt.Errorf("%w: tree head signer: %v", ErrProof, err)
	}
	h, err := VerifyTreeHead(compact, pub)
	if err != nil {
		return TreeHead{}, err
	}
	if prev == nil {
		return h, nil
	}
	if h.Size < prev.Size {
		return TreeHead{}, fmt.Errorf("%w: size went from %d to %d", ErrRewritten, prev.Size, h.Size)
	}
	if h.Timestamp.Before(prev.Timestamp) {
		return TreeHead{}, fmt.Errorf("%w: timestamp went backwards", ErrRewritten)
	}
	proof, err := src.Consistency(ctx, prev.Size, h.Size)
	if err != nil {
		return TreeHead{}, fmt.Errorf("audit: fetch consistency proof: %w", err)
	}
	if err := VerifyConsistency(prev.Size, h.Size, prev.Root, h.Root, proof); err != nil {
		return TreeHead{}, fmt.Errorf("%w (%v)", ErrRewritten, err)
	}
	return h, nil
}
