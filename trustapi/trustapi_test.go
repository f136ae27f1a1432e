package trustapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/trustapi"
)

type env struct {
	srv  *httptest.Server
	api  *trustapi.API
	ring *keys.Ring
	// note signs the log's checkpoints.
	note note.Signer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	sl, _ := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{3}, 32)})
	dir := t.TempDir()
	ring, err := keys.Open(ctx, filepath.Join(dir, "keys"), keys.NewFileProvider(filepath.Join(dir, "keys"), sl), keys.Config{Issuer: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	st := status.NewService(db.Status(), ring, srv.URL+"/status")
	st.ShardSize = 1024
	api := &trustapi.API{Issuer: srv.URL, Ring: ring, Status: st, Audit: audit.New(db.Audit(), ring, sl)}
	noteKey, err := keys.NewFileProvider(filepath.Join(dir, "keys-log"), sl).OpenOrGenerate(ctx, "log-note", keys.KindEd25519)
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, err := audit.NoteKey(trustapi.Origin(srv.URL), noteKey)
	if err != nil {
		t.Fatal(err)
	}
	api.Audit.SetCheckpointKey(signer)
	api.CheckpointKey = vkey
	st.Changed = trustapi.LogStatusChanges(api.Audit, time.Now)
	api.Mount(mux)
	mux.Handle("POST /admin/status", api.AdminStatus())
	return &env{srv: srv, api: api, ring: ring, note: signer}
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func post(t *testing.T, url, body string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

func TestMetadataAndKeys(t *testing.T) {
	e := newEnv(t)
	resp, body := get(t, e.srv.URL+"/.well-known/jwt-vc-issuer")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=300") || resp.Header.Get("ETag") == "" {
		t.Fatalf("jwt-vc-issuer: %d %v", resp.StatusCode, resp.Header)
	}
	var md struct {
		Issuer string    `json:"issuer"`
		JWKS   keys.JWKS `json:"jwks"`
	}
	if err := json.Unmarshal(body, &md); err != nil || md.Issuer != e.srv.URL || len(md.JWKS.Keys) != 1 {
		t.Fatalf("metadata %s: %v", body, err)
	}
	// Conditional request.
	resp2, body2 := get(t, e.srv.URL+"/.well-known/jwt-vc-issuer", "If-None-Match", resp.Header.Get("ETag"))
	if resp2.StatusCode != http.StatusNotModified || len(body2) != 0 {
		t.Fatalf("If-None-Match: %d", resp2.StatusCode)
	}
	// Rotation shows in JWKS and trust list, the old key kept.
	if _, err := e.ring.Rotate(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, body = get(t, e.srv.URL+"/.well-known/jwks.json")
	var set keys.JWKS
	json.Unmarshal(body, &set)
	if len(set.Keys) != 2 {
		t.Fatalf("JWKS after rotation: %s", body)
	}
	resp3, _ := get(t, e.srv.URL+"/.well-known/jwt-vc-issuer", "If-None-Match", resp.Header.Get("ETag"))
	if resp3.StatusCode != 200 {
		t.Fatal("stale ETag matched after rotation")
	}
	_, body = get(t, e.srv.URL+"/trust-list")
	var tl keys.TrustList
	if err := json.Unmarshal(body, &tl); err != nil || len(tl.Anchors) != 1 || len(tl.Signers) != 2 {
		t.Fatalf("trust list %s: %v", body, err)
	}
	resp, body = get(t, e.srv.URL+"/trust-list.pem")
	if resp.Header.Get("Content-Type") != "application/pem-certificate-chain" || bytes.Count(body, []byte("-----BEGIN CERTIFICATE-----")) != 3 {
		t.Fatalf("trust-list.pem (want root and two signers): %s", body)
	}
}

func TestStatusOverHTTP(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	var refs []status.Ref
	for i := 0; i < 5; i++ {
		r, err := e.api.Status.Allocate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	checker := &status.Checker{Fetcher: trustapi.Fetcher{}, Key: status.ChainKeys(e.ring.Root())}
	if s, err := checker.Status(ctx, refs[0].URI, refs[0].Index); err != nil || s != status.Valid {
		t.Fatalf("fresh card: %v, %v", s, err)
	}
	resp, _ := get(t, refs[0].URI)
	if resp.Header.Get("Content-Type") != status.MediaType || resp.Header.Get("ETag") == "" ||
		!strings.HasPrefix(resp.Header.Get("Cache-Control"), "public, max-age=") {
		t.Fatalf("status list headers %v", resp.Header)
	}
	if r, _ := get(t, refs[0].URI, "If-None-Match", resp.Header.Get("ETag")); r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", r.StatusCode)
	}
	// Admin operations.
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"uri":"` + refs[1].URI + `","idx":` + itoa(refs[1].Index) + `,"status":"revoked"}`, 200},
		{`{"uri":"` + refs[2].URI + `","idx":` + itoa(refs[2].Index) + `,"status":"suspended"}`, 200},
		{`{"uri":"` + refs[1].URI + `","idx":` + itoa(refs[1].Index) + `,"status":"valid"}`, 409},
		{`{"uri":"` + refs[1].URI + `","idx":` + itoa(refs[1].Index) + `,"status":"lost"}`, 400},
		{`{"uri":"` + refs[1].URI + `","status":"revoked"}`, 400},
		{`{"uri":"` + refs[1].URI + `","idx":1,"status":"revoked","extra":1}`, 400},
		{`{"uri":"https://elsewhere.example/status/x","idx":1,"status":"revoked"}`, 404},
		{`{"uri":"` + refs[1].URI + `","idx":99999,"status":"revoked"}`, 400},
		{`not json`, 400},
	} {
		resp, body := post(t, e.srv.URL+"/admin/status", tc.body)
		if resp.StatusCode != tc.code {
			t.Fatalf("%s: %d %s, want %d", tc.body, resp.StatusCode, body, tc.code)
		}
		if tc.code != 200 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s: error not problem+json", tc.body)
		}
	}
	// A new verifier sees the changes, suspended apart from revoked (2-bit list).
	c2 := &status.Checker{Fetcher: trustapi.Fetcher{}, Key: status.ChainKeys(e.ring.Root())}
	for i, want := range []status.Status{status.Valid, status.Invalid, status.Suspended, status.Valid} {
		if s, err := c2.Status(ctx, refs[i].URI, refs[i].Index); err != nil || s != want {
			t.Fatalf("card %d: %v, %v; want %v", i, s, err, want)
		}
	}
	// Both changes are in the transparency log.
	if n, _ := e.api.Audit.Size(ctx); n != 2 {
		t.Fatalf("audit log has %d leaves, want 2", n)
	}
	// A verifier about to go offline prefetches every list from the
	// aggregation and then answers without the network.
	uris, err := (trustapi.Fetcher{}).FetchAggregation(ctx, e.srv.URL+"/status")
	if err != nil || len(uris) != 1 || uris[0] != refs[0].URI {
		t.Fatalf("aggregation %v, %v", uris, err)
	}
	off := &status.Checker{Fetcher: trustapi.Fetcher{}, Key: status.ChainKeys(e.ring.Root())}
	if err := off.Prefetch(ctx, uris); err != nil {
		t.Fatal(err)
	}
	off.Fetcher = nil
	if s, err := off.Status(ctx, refs[1].URI, refs[1].Index); err != nil || s != status.Invalid {
		t.Fatalf("offline after prefetch: %v, %v", s, err)
	}
	if r, body := get(t, e.srv.URL+"/status/nosuchlist"); r.StatusCode != 404 || !strings.Contains(string(body), "not-found") {
		t.Fatalf("unknown list: %d %s", r.StatusCode, body)
	}
	// The fetcher refuses plain http to a non-loopback host and wrong types.
	if _, err := (trustapi.Fetcher{}).Fetch(ctx, "http://status.example/x"); err == nil {
		t.Fatal("fetched plain http from the network")
	}
	if _, err := (trustapi.Fetcher{}).Fetch(ctx, e.srv.URL+"/trust-list"); err == nil {
		t.Fatal("accepted a non-statuslist content type")
	}
	if _, err := (trustapi.Fetcher{MaxBytes: 100}).Fetch(ctx, refs[0].URI); err == nil {
		t.Fatal("accepted a response over the limit")
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

func TestAuditorOverHTTP(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := time.Now()
	var events [][]byte
	for i := 0; i < 9; i++ {
		ev := audit.Issuance(now, "https://id.example/status/a", i, "mso_mdoc", []byte{byte(i)})
		e.api.Audit.Append(ctx, ev)
		b, _ := ev.Encode()
		events = append(events, b)
	}
	type sth struct {
		TreeSize  uint64 `json:"tree_size"`
		Root      []byte `json:"sha256_root_hash"`
		Signature string `json:"signature"`
	}
	var h1 sth
	_, body := get(t, e.srv.URL+"/audit/sth")
	json.Unmarshal(body, &h1)
	// The auditor checks the head's signature with a key from the JWKS.
	var set keys.JWKS
	_, jb := get(t, e.srv.URL+"/.well-known/jwks.json")
	json.Unmarshal(jb, &set)
	cert, _ := x509.ParseCertificate(set.Keys[0].X5C[0])
	head, err := audit.VerifyTreeHead(h1.Signature, cert.PublicKey.(*ecdsa.PublicKey))
	if err != nil || head.Size != 9 || !bytes.Equal(head.Root[:], h1.Root) {
		t.Fatalf("tree head: %+v %v", head, err)
	}
	var proof struct {
		Path [][]byte `json:"audit_path"`
	}
	_, body = get(t, e.srv.URL+"/audit/proof?leaf_index=4&tree_size=9")
	json.Unmarshal(body, &proof)
	if err := audit.VerifyInclusion(audit.HashLeaf(events[4]), 4, 9, toHashes(proof.Path), head.Root); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		e.api.Audit.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid"))
	}
	var h2 sth
	_, body = get(t, e.srv.URL+"/audit/sth")
	json.Unmarshal(body, &h2)
	var cons struct {
		Proof [][]byte `json:"consistency"`
	}
	_, body = get(t, e.srv.URL+"/audit/consistency?first=9&second=13")
	json.Unmarshal(body, &cons)
	var r2 audit.Hash
	copy(r2[:], h2.Root)
	if err := audit.VerifyConsistency(9, 13, head.Root, r2, toHashes(cons.Proof)); err != nil {
		t.Fatal(err)
	}
	var leaf struct {
		Input []byte `json:"leaf_input"`
	}
	_, body = get(t, e.srv.URL+"/audit/leaf/4")
	json.Unmarshal(body, &leaf)
	if !bytes.Equal(leaf.Input, events[4]) {
		t.Fatal("leaf 4 differs")
	}
	for _, u := range []string{"/audit/proof?leaf_index=x&tree_size=9", "/audit/proof?leaf_index=20&tree_size=9",
		"/audit/proof?leaf_index=1&tree_size=999", "/audit/consistency?first=13&second=9", "/audit/leaf/-1"} {
		if r, body := get(t, e.srv.URL+u); r.StatusCode != 400 {
			t.Fatalf("%s: %d %s", u, r.StatusCode, body)
		}
	}
	if r, _ := get(t, e.srv.URL+"/audit/leaf/999"); r.StatusCode != 404 {
		t.Fatalf("missing leaf: %d", r.StatusCode)
	}
	if !errors.Is(audit.VerifyConsistency(9, 13, r2, head.Root, toHashes(cons.Proof)), audit.ErrProof) {
		t.Fatal("swapped roots verified")
	}
}

func toHashes(b [][]byte) []audit.Hash {
	out := make([]audit.Hash, len(b))
	for i := range b {
		copy(out[i][:], b[i])
	}
	return out
}

func TestAuditClientCheckHead(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	now := time.Now()
	for i := 0; i < 5; i++ {
		e.api.Audit.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", i, "invalid"))
	}
	src := trustapi.AuditClient{Base: e.srv.URL}
	keyFor := audit.KeyFunc(status.ChainKeys(e.ring.Root()))
	h1, err := audit.CheckHead(ctx, src, keyFor, nil, time.Now())
	if err != nil || h1.Size != 5 {
		t.Fatalf("first head %+v, %v", h1, err)
	}
	for i := 0; i < 7; i++ {
		e.api.Audit.Append(ctx, audit.StatusChange(now, "https://id.example/status/a", 10+i, "invalid"))
	}
	h2, err := audit.CheckHead(ctx, src, keyFor, &h1, time.Now())
	if err != nil || h2.Size != 12 {
		t.Fatalf("second head %+v, %v", h2, err)
	}
	// A head the auditor saw from a fork (another root at size 5) is caught.
	forked := h1
	forked.Root[0] ^= 1
	if _, err := audit.CheckHead(ctx, src, keyFor, &forked, time.Now()); !errors.Is(err, audit.ErrRewritten) {
		t.Fatalf("fork: %v", err)
	}
	// A log that shrank is caught.
	bigger := h2
	bigger.Size = 50
	if _, err := audit.CheckHead(ctx, src, keyFor, &bigger, time.Now()); !errors.Is(err, audit.ErrRewritten) {
		t.Fatalf("shrunk log: %v", err)
	}
	// Heads signed by someone else are refused.
	other := newEnv(t)
	if _, err := audit.CheckHead(ctx, src, audit.KeyFunc(status.ChainKeys(other.ring.Root())), nil, time.Now()); !errors.Is(err, audit.ErrProof) {
		t.Fatalf("untrusted signer: %v", err)
	}
}
