package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/trustapi"
)

// TestAuditFollowsCheckpoints: `shenfen audit check --checkpoint-key`
// verifies the log's checkpoint, then that each later one extends it; the
// same server showing a fork (another history under the log's own key) or
// a checkpoint under another key fails the check.
func TestAuditFollowsCheckpoints(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	sl, _ := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{5}, 32)})
	var current atomic.Value // the http.Handler the server shows
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		current.Load().(http.Handler).ServeHTTP(w, r)
	}))
	defer srv.Close()
	ring, err := keys.Open(ctx, filepath.Join(dir, "keys"), keys.NewFileProvider(filepath.Join(dir, "keys"), sl), keys.Config{Issuer: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, realKey, _ := ed25519.GenerateKey(rand.Reader)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	origin := trustapi.Origin(srv.URL)
	serve := func(k ed25519.PrivateKey, first string, n int) (http.Handler, *audit.Log, string) {
		l := audit.New(storetest.SQLite(t).Audit(), ring, sl)
		signer, vkey, err := audit.NoteKey(origin, k)
		if err != nil {
			t.Fatal(err)
		}
		l.SetCheckpointKey(signer)
		for i := 0; i < n; i++ {
			signed := fmt.Sprintf("card %d", i)
			if i == 0 {
				signed = first
			}
			l.Append(ctx, audit.Issuance(time.Now(), srv.URL+"/status/a", i, "dc+sd-jwt", []byte(signed)))
		}
		mux := http.NewServeMux()
		(&trustapi.API{Issuer: srv.URL, Audit: l, CheckpointKey: vkey}).Mount(mux)
		return mux, l, vkey
	}
	real, realLog, vkey := serve(realKey, "card 0", 5)
	fork, _, _ := serve(realKey, "a card issued in secret", 9)
	foreign, _, _ := serve(otherKey, "card 0", 9)
	state := filepath.Join(dir, "state.json")
	check := func() error {
		return runAudit(ctx, []string{"check", "--log", srv.URL, "--checkpoint-key", vkey, "--state", state})
	}

	current.Store(real)
	if err := check(); err != nil {
		t.Fatalf("first check: %v", err)
	}
	realLog.Append(ctx, audit.StatusChange(time.Now(), srv.URL+"/status/a", 1, "suspended"))
	if err := check(); err != nil {
		t.Fatalf("after growth: %v", err)
	}
	current.Store(fork)
	if err := check(); !errors.Is(err, audit.ErrRewritten) {
		t.Fatalf("a fork under the log's key: %v", err)
	}
	current.Store(foreign)
	if err := check(); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("a checkpoint under another key: %v", err)
	}
	current.Store(real)
	if err := check(); err != nil {
		t.Fatalf("the honest log again: %v", err)
	}
	if err := runAudit(ctx, []string{"check", "--log", srv.URL, "--checkpoint-key", vkey, "--trust-list", srv.URL + "/trust-list.pem"}); err == nil {
		t.Fatal("two trust sources accepted")
	}
}
