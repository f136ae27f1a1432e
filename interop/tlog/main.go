// Command tlog is the Go half of the transparency-log test of the wallet's
// module web/static/web/tlog.js, run by scripts/test.d/tlog-js.sh:
//
//	go run ./interop/tlog
//
// It serves three logs over HTTP with package trustapi, as shenfen serves
// its own: the real one; a fork (another history signed with the real
// log's own note key, as a lying operator would show one wallet); and a
// log under another note key with the real log's name. Then it runs the
// module in Node (interop/tlog/run.mjs) against them, and exits with its
// status. The module must find and prove the real log's cards, follow the
// log as it grows, and refuse the fork, the foreign key, edited
// checkpoints, a card that is not in the log, and a proof or leaf of
// another card. It also writes every inclusion and consistency proof of
// trees of 1 to 40 leaves for the module to verify against Go's roots.
package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/trustapi"
)

// card is one issuance the module looks for.
type card struct {
	IssuerSigned string `json:"issuer_signed"`
	URI          string `json:"uri"`
	Index        int    `json:"idx"`
	Format       string `json:"format"`
	LeafIndex    uint64 `json:"leaf_index"`
}

// batch is a batch of issuer-signed parts under a card's status entry.
type batch struct {
	Parts     []string `json:"parts"`
	URI       string   `json:"uri"`
	Index     int      `json:"idx"`
	Format    string   `json:"format"`
	LeafIndex uint64   `json:"leaf_index"`
}

// proofs are all the proofs of the trees of 1 to N leaves.
type proofs struct {
	Leaves    [][]byte            `json:"leaves"` // leaf inputs
	Roots     [][]byte            `json:"roots"`  // roots[n]: the tree of n leaves
	Inclusion map[string][][]byte `json:"inclusion"`
	Consist   map[string][][]byte `json:"consistency"`
}

// fixture is what run.mjs reads.
type fixture struct {
	Real    string `json:"real"`
	Fork    string `json:"fork"`
	Foreign string `json:"foreign"`
	Cards   []card `json:"cards"`
	Missing card   `json:"missing"`
	// Batch is a batch of single-use credentials logged as one event, as
	// oid4vc.Issuer.logIssuance logs it.
	Batch  batch   `json:"batch"`
	Proofs *proofs `json:"proofs"`
}

func main() {
	dir := flag.String("dir", "", "work directory (default: a temporary one)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "tlog-interop")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := run(context.Background(), *dir); err != nil {
		log.Fatal(err)
	}
}

// logServer is one log behind trustapi's endpoints.
type logServer struct {
	srv   *httptest.Server
	log   *audit.Log
	nodes audit.NodeReader
}

func newLog(ctx context.Context, dir, name, origin string, noteKey ed25519.PrivateKey) (*logServer, error) {
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{0x3c}, 32)})
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, filepath.Join(dir, name+".db"))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	kdir := filepath.Join(dir, name+"-keys")
	ring, err := keys.Open(ctx, kdir, keys.NewFileProvider(kdir, sl), keys.Config{Issuer: srv.URL})
	if err != nil {
		return nil, err
	}
	signer, vkey, err := audit.NoteKey(origin, noteKey)
	if err != nil {
		return nil, err
	}
	l := audit.New(db.Audit(), ring, sl)
	l.SetCheckpointKey(signer)
	api := &trustapi.API{Issuer: srv.URL, Audit: l, CheckpointKey: vkey}
	api.Mount(mux)
	return &logServer{srv: srv, log: l, nodes: db.Audit()}, nil
}

func run(ctx context.Context, dir string) error {
	_, realKey, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	const origin = "id.example/audit"
	real, err := newLog(ctx, dir, "real", origin, realKey)
	if err != nil {
		return err
	}
	fork, err := newLog(ctx, dir, "fork", origin, realKey)
	if err != nil {
		return err
	}
	foreign, err := newLog(ctx, dir, "foreign", origin, otherKey)
	if err != nil {
		return err
	}
	defer real.srv.Close()
	defer fork.srv.Close()
	defer foreign.srv.Close()

	now := time.Now()
	uri := "https://id.example/status/a"
	issue := func(l *audit.Log, signed string, idx int, format string) (uint64, error) {
		return l.Append(ctx, audit.Issuance(now, uri, idx, format, []byte(signed)))
	}
	fx := fixture{Real: real.srv.URL, Fork: fork.srv.URL, Foreign: foreign.srv.URL}
	// The real log: cards among status changes. The fork and the foreign
	// log hold the same cards in another history (one card more, logged
	// first), so each proves the cards too, each in its own tree.
	for i := 0; i < 9; i++ {
		signed := fmt.Sprintf("eyJhbGciOiJFUzI1NiJ9.card-%d.sig", i)
		format := "dc+sd-jwt"
		if i%4 == 3 {
			format = "mso_mdoc"
		}
		idx, err := issue(real.log, signed, 100+i, format)
		if err != nil {
			return err
		}
		fx.Cards = append(fx.Cards, card{IssuerSigned: signed, URI: uri, Index: 100 + i, Format: format, LeafIndex: idx})
		if _, err := real.log.Append(ctx, audit.StatusChange(now, uri, 100+i, "suspended")); err != nil {
			return err
		}
	}
	for _, other := range []*audit.Log{fork.log, foreign.log} {
		if _, err := issue(other, "a card issued in secret", 99, "dc+sd-jwt"); err != nil {
			return err
		}
		for _, c := range fx.Cards {
			if _, err := issue(other, c.IssuerSigned, c.Index, c.Format); err != nil {
				return err
			}
		}
	}
	// The fork outgrows the real log, so that a wallet following the real
	// log meets a larger tree it must prove consistent (and cannot).
	for i := 0; i < 30; i++ {
		if _, err := fork.log.Append(ctx, audit.StatusChange(now, uri, 100+i%9, "suspended")); err != nil {
			return err
		}
	}
	fx.Missing = card{IssuerSigned: "never.issued.here", URI: uri, Index: 7, Format: "dc+sd-jwt"}
	// A batch of three single-use credentials of card 101 (one event:
	// SHA-256 over the parts' SHA-256 digests, in order).
	fx.Batch = batch{URI: uri, Index: 101, Format: "dc+sd-jwt"}
	h := sha256.New()
	for i := 0; i < 3; i++ {
		part := fmt.Sprintf("eyJhbGciOiJFUzI1NiJ9.single-use-%d.sig", i)
		fx.Batch.Parts = append(fx.Batch.Parts, part)
		d := sha256.Sum256([]byte(part))
		h.Write(d[:])
	}
	if fx.Batch.LeafIndex, err = real.log.Append(ctx, audit.Event{Type: audit.EventBatchIssuance, At: now, Ref: fmt.Sprintf("%s#%d", uri, 101),
		Digest: base64.RawURLEncoding.EncodeToString(h.Sum(nil)), Attrs: map[string]string{"format": "dc+sd-jwt", "count": "3"}}); err != nil {
		return err
	}

	// Every proof of small trees, for the module's verifiers.
	all, err := newLog(ctx, dir, "all", origin, realKey)
	if err != nil {
		return err
	}
	defer all.srv.Close()
	p := &proofs{Inclusion: map[string][][]byte{}, Consist: map[string][][]byte{}}
	const n = 40
	for i := 0; i < n; i++ {
		data, err := audit.Event{Type: "test", At: now, Ref: fmt.Sprint(i)}.Encode()
		if err != nil {
			return err
		}
		p.Leaves = append(p.Leaves, data)
		if _, err := all.log.Append(ctx, audit.Event{Type: "test", At: now, Ref: fmt.Sprint(i)}); err != nil {
			return err
		}
	}
	for size := uint64(0); size <= n; size++ {
		r, err := audit.RootHash(ctx, all.nodes, size)
		if err != nil {
			return err
		}
		p.Roots = append(p.Roots, append([]byte(nil), r[:]...))
		for i := uint64(0); i < size; i++ {
			h, err := all.log.InclusionProof(ctx, i, size)
			if err != nil {
				return err
			}
			p.Inclusion[fmt.Sprintf("%d/%d", i, size)] = slices(h)
		}
		for s1 := uint64(0); s1 <= size; s1++ {
			h, err := all.log.ConsistencyProof(ctx, s1, size)
			if err != nil {
				return err
			}
			p.Consist[fmt.Sprintf("%d/%d", s1, size)] = slices(h)
		}
	}
	fx.Proofs = p

	// The checkpoint the real log would sign at size 3, signed by the
	// foreign key (the module must not take it with the real key).
	signer, _, err := audit.NoteKey(origin, otherKey)
	if err != nil {
		return err
	}
	root, err := audit.RootHash(ctx, real.nodes, 3)
	if err != nil {
		return err
	}
	foreignCP, err := note.Sign(&note.Note{Text: audit.Checkpoint{Origin: origin, Size: 3, Root: root}.Text()}, signer)
	if err != nil {
		return err
	}

	b, err := json.Marshal(map[string]any{"fixture": fx, "foreign_checkpoint": string(foreignCP)})
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "fixture.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	// The real log grows while the module runs: POST /grow appends.
	grow := http.NewServeMux()
	grow.HandleFunc("POST /grow", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 5; i++ {
			if _, err := real.log.Append(r.Context(), audit.StatusChange(time.Now(), uri, 100+i, "valid")); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
		}
		w.WriteHeader(http.StatusNoContent)
	})
	gs := httptest.NewServer(grow)
	defer gs.Close()
	cmd := exec.CommandContext(ctx, "node", "interop/tlog/run.mjs", file, gs.URL)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("the wallet's module: %w", err)
	}
	return nil
}

func slices(hs []audit.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = append([]byte(nil), hs[i][:]...)
	}
	return out
}
