package trustapi_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	tlog "github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/trustapi"
)

// issueEvents appends n issuance events whose issuer-signed parts are
// "card i" and returns their digests.
func issueEvents(t *testing.T, e *env, from, n int) []string {
	t.Helper()
	var digests []string
	for i := from; i < from+n; i++ {
		signed := []byte(fmt.Sprintf("card %d", i))
		if _, err := e.api.Audit.Append(context.Background(), audit.Issuance(time.Now(), e.srv.URL+"/status/a", i, "dc+sd-jwt", signed)); err != nil {
			t.Fatal(err)
		}
		d := sha256.Sum256(signed)
		digests = append(digests, base64.RawURLEncoding.EncodeToString(d[:]))
	}
	return digests
}

type issuanceAnswer struct {
	LeafIndex uint64   `json:"leaf_index"`
	TreeSize  uint64   `json:"tree_size"`
	LeafInput []byte   `json:"leaf_input"`
	Path      [][]byte `json:"audit_path"`
}

// TestCheckpointsVerifiedIndependently reads the log over HTTP as a
// witness or monitor would, with none of shenfen's code: the checkpoint is
// parsed by transparency-dev/formats and its note signature checked by
// golang.org/x/mod/sumdb/note with the published verifier key; inclusion
// and consistency proofs are checked by transparency-dev/merkle's proof
// package. Forged checkpoints, foreign keys, forks and proofs for another
// entry are refused by the same libraries.
func TestCheckpointsVerifiedIndependently(t *testing.T) {
	e := newEnv(t)
	digests := issueEvents(t, e, 0, 11)

	resp, vkeyLine := get(t, e.srv.URL+"/audit/checkpoint-key")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("checkpoint key: %d %s", resp.StatusCode, vkeyLine)
	}
	vkey := strings.TrimSpace(string(vkeyLine))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatalf("published key %q: %v", vkey, err)
	}
	origin := trustapi.Origin(e.srv.URL)
	if verifier.Name() != origin {
		t.Fatalf("key name %q, origin %q", verifier.Name(), origin)
	}
	fetch := func() []byte {
		resp, body := get(t, e.srv.URL+"/audit/checkpoint")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("checkpoint: %d %s", resp.StatusCode, body)
		}
		return body
	}
	raw1 := fetch()
	cp1, _, _, err := tlog.ParseCheckpoint(raw1, origin, verifier)
	if err != nil {
		t.Fatalf("checkpoint %q: %v", raw1, err)
	}
	if cp1.Size != 11 {
		t.Fatalf("checkpoint size %d, want 11", cp1.Size)
	}
	// The JWS tree head of the same size has the same root.
	var sth struct {
		Size uint64 `json:"tree_size"`
		Root []byte `json:"sha256_root_hash"`
	}
	_, body := get(t, e.srv.URL+"/audit/sth")
	json.Unmarshal(body, &sth)
	if sth.Size != cp1.Size || !bytes.Equal(sth.Root, cp1.Hash) {
		t.Fatal("checkpoint and JWS tree head disagree")
	}

	// Every issuance is found by its digest and proved in the checkpoint.
	h := rfc6962.DefaultHasher
	for i, d := range digests {
		var a issuanceAnswer
		resp, body := get(t, fmt.Sprintf("%s/audit/issuance/%s?tree_size=%d", e.srv.URL, d, cp1.Size))
		if resp.StatusCode != 200 || json.Unmarshal(body, &a) != nil {
			t.Fatalf("issuance %d: %d %s", i, resp.StatusCode, body)
		}
		var ev struct {
			Type   string `json:"type"`
			Digest string `json:"digest"`
		}
		if json.Unmarshal(a.LeafInput, &ev) != nil || ev.Type != "issuance" || ev.Digest != d || a.LeafIndex != uint64(i) {
			t.Fatalf("issuance %d: leaf %d %s", i, a.LeafIndex, a.LeafInput)
		}
		if err := proof.VerifyInclusion(h, a.LeafIndex, cp1.Size, h.HashLeaf(a.LeafInput), a.Path, cp1.Hash); err != nil {
			t.Fatalf("issuance %d: %v", i, err)
		}
		// A proof for another entry: the neighbour's leaf under this path.
		other := []byte(strings.Replace(string(a.LeafInput), d, digests[(i+1)%len(digests)], 1))
		if proof.VerifyInclusion(h, a.LeafIndex, cp1.Size, h.HashLeaf(other), a.Path, cp1.Hash) == nil {
			t.Fatalf("issuance %d: the path proved another card's leaf", i)
		}
	}

	// The log grows; the new checkpoint is consistent with the old.
	later := issueEvents(t, e, 11, 6)
	raw2 := fetch()
	cp2, _, _, err := tlog.ParseCheckpoint(raw2, origin, verifier)
	if err != nil || cp2.Size != 17 {
		t.Fatalf("second checkpoint: %+v %v", cp2, err)
	}
	var cons struct {
		Proof [][]byte `json:"consistency"`
	}
	_, body = get(t, fmt.Sprintf("%s/audit/consistency?first=%d&second=%d", e.srv.URL, cp1.Size, cp2.Size))
	json.Unmarshal(body, &cons)
	if err := proof.VerifyConsistency(h, cp1.Size, cp2.Size, cons.Proof, cp1.Hash, cp2.Hash); err != nil {
		t.Fatalf("consistency 11 -> 17: %v", err)
	}

	// Attacks. A checkpoint edited after signing:
	forged := bytes.Replace(raw2, []byte("\n17\n"), []byte("\n18\n"), 1)
	if _, _, _, err := tlog.ParseCheckpoint(forged, origin, verifier); err == nil {
		t.Fatal("an edited checkpoint verified")
	}
	// A checkpoint signed by another key under the log's name:
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _, err := audit.NoteKey(origin, otherKey)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n17\n%s\n", origin, base64.StdEncoding.EncodeToString(cp2.Hash))}, otherSigner)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := tlog.ParseCheckpoint(foreign, origin, verifier); err == nil {
		t.Fatal("a checkpoint signed by another key verified")
	}
	if _, err := audit.OpenCheckpoint(foreign, vkey); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("shenfen's own check took a foreign signature: %v", err)
	}
	// A fork: another log with other entries, signed with the log's own
	// key (a compromised or lying operator). Its checkpoint verifies, but
	// no consistency proof joins it to what a witness saw.
	fork := audit.New(storetest.SQLite(t).Audit(), e.ring, nil)
	fork.SetCheckpointKey(e.note)
	for i := 0; i < 17; i++ {
		signed := []byte(fmt.Sprintf("card %d", i))
		if i == 3 {
			signed = []byte("a card issued in secret, its entry replaced")
		}
		fork.Append(context.Background(), audit.Issuance(time.Now(), e.srv.URL+"/status/a", i, "dc+sd-jwt", signed))
	}
	forkRaw, err := fork.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	forkCP, _, _, err := tlog.ParseCheckpoint(forkRaw, origin, verifier)
	if err != nil || forkCP.Size != 17 || bytes.Equal(forkCP.Hash, cp2.Hash) {
		t.Fatalf("fork checkpoint: %+v %v", forkCP, err)
	}
	forkProof, err := fork.ConsistencyProof(context.Background(), 11, 17)
	if err != nil {
		t.Fatal(err)
	}
	if proof.VerifyConsistency(h, cp1.Size, forkCP.Size, byteSlices(forkProof), cp1.Hash, forkCP.Hash) == nil {
		t.Fatal("the fork's consistency proof joined it to the witnessed checkpoint")
	}
	// shenfen's monitor step (audit.FollowCheckpoint) refuses it too.
	prev, err := audit.OpenCheckpoint(raw1, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := audit.FollowCheckpoint(context.Background(), forkSource{fork}, vkey, &prev); !errors.Is(err, audit.ErrRewritten) {
		t.Fatalf("monitor followed a fork: %v", err)
	}
	if next, err := audit.FollowCheckpoint(context.Background(), trustapi.AuditClient{Base: e.srv.URL}, vkey, &prev); err != nil || next.Size != 17 {
		t.Fatalf("monitor over HTTP: %+v %v", next, err)
	}

	// Lookups that must fail.
	for _, c := range []struct {
		url  string
		code int
	}{
		{"/audit/issuance/" + digests[0] + "?tree_size=999", http.StatusBadRequest},
		{"/audit/issuance/" + digests[0], http.StatusBadRequest},
		{"/audit/issuance/not-a-digest?tree_size=17", http.StatusBadRequest},
		{"/audit/issuance/" + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + "?tree_size=17", http.StatusNotFound},
		{fmt.Sprintf("/audit/issuance/%s?tree_size=%d", later[1], cp1.Size), http.StatusNotFound}, // logged after that tree
	} {
		if r, body := get(t, e.srv.URL+c.url); r.StatusCode != c.code {
			t.Errorf("%s: %d %s, want %d", c.url, r.StatusCode, body, c.code)
		}
	}
}

// forkSource serves a log's checkpoints from memory (audit.CheckpointSource).
type forkSource struct{ l *audit.Log }

func (f forkSource) Checkpoint(ctx context.Context) ([]byte, error) { return f.l.Checkpoint(ctx) }
func (f forkSource) Consistency(ctx context.Context, a, b uint64) ([]audit.Hash, error) {
	return f.l.ConsistencyProof(ctx, a, b)
}

func byteSlices(hs []audit.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}
