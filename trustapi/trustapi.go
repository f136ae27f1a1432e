// Package trustapi is the HTTP face of shenfen's trust services: the
// issuer metadata and keys (/.well-known/jwt-vc-issuer, /.well-known/jwks.json),
// the status list aggregation (/status), the trust list (/trust-list as JSON, /trust-list.pem as the root then the
// document signers in PEM), the token status lists
// (/status/{id}), the transparency log for auditors (/audit/...), the
// authority's status operations (/admin/status), and the HTTP [Fetcher] a
// verifier's status.Checker uses. The domain packages keys, status and
// audit import no HTTP; this package adapts them.
package trustapi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/status"
)

// Mux is where endpoints are mounted (*server.Server, *http.ServeMux).
type Mux interface {
	Handle(pattern string, h http.Handler)
}

// API holds the services behind the endpoints; a nil service leaves its
// endpoints unmounted.
type API struct {
	// Issuer is the issuer identifier (public base URL).
	Issuer string
	Ring   *keys.Ring
	Status *status.Service
	Audit  *audit.Log
	// CheckpointKey is the log's note verifier key ("origin+hash+base64",
	// [audit.NoteKey]); set, the checkpoint endpoints are mounted.
	CheckpointKey string
	Log           *slog.Logger
	// MetadataMaxAge is the Cache-Control max-age of keys and trust list
	// (default 5 minutes: a rotation is visible to verifiers within it).
	MetadataMaxAge time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (a *API) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

func (a *API) maxAge() time.Duration {
	if a.MetadataMaxAge == 0 {
		return 5 * time.Minute
	}
	return a.MetadataMaxAge
}

// LogStatusChanges is a status.Service Changed hook that appends every
// change to the transparency log.
func LogStatusChanges(l *audit.Log, now func() time.Time) func(context.Context, status.Ref, status.Status, status.Status) error {
	return func(ctx context.Context, ref status.Ref, old, next status.Status) error {
		_, err := l.Append(ctx, audit.StatusChange(now(), ref.URI, ref.Index, next.String()))
		return err
	}
}

// Mount attaches the public endpoints. Admin endpoints are separate
// ([API.AdminStatus]) so the caller wraps them in its authentication.
func (a *API) Mount(m Mux) {
	if a.Ring != nil {
		m.Handle("GET "+wellKnownPath(a.Issuer), http.HandlerFunc(a.jwtVCIssuer))
		m.Handle("GET /.well-known/jwks.json", http.HandlerFunc(a.jwks))
		m.Handle("GET /trust-list", http.HandlerFunc(a.trustList))
		m.Handle("GET /trust-list.pem", http.HandlerFunc(a.trustListPEM))
	}
	if a.Status != nil {
		m.Handle("GET /status/{id}", http.HandlerFunc(a.statusList))
		if u, err := url.Parse(a.Status.AggregationURI()); err == nil && u.Path != "" {
			m.Handle("GET "+u.Path, http.HandlerFunc(a.aggregation))
		}
	}
	if a.Audit != nil {
		m.Handle("GET /audit/sth", http.HandlerFunc(a.sth))
		m.Handle("GET /audit/proof", http.HandlerFunc(a.inclusion))
		m.Handle("GET /audit/consistency", http.HandlerFunc(a.consistency))
		m.Handle("GET /audit/leaf/{index}", http.HandlerFunc(a.leaf))
		m.Handle("GET /audit/issuance/{digest}", http.HandlerFunc(a.issuance))
		if a.CheckpointKey != "" {
			m.Handle("GET /audit/checkpoint", http.HandlerFunc(a.checkpoint))
			m.Handle("GET /audit/checkpoint-key", http.HandlerFunc(a.checkpointKey))
		}
	}
}

// wellKnownPath inserts /.well-known/jwt-vc-issuer between the issuer's
// host and path, as SD-JWT VC says.
func wellKnownPath(issuer string) string {
	p := ""
	if u, err := url.Parse(issuer); err == nil {
		p = strings.TrimSuffix(u.Path, "/")
	}
	return "/.well-known/jwt-vc-issuer" + p
}

func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, status.ErrNotFound), errors.Is(err, audit.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "not-found", "Not found", "no such resource"))
	case errors.Is(err, status.ErrIndex):
		problem.Write(w, r, problem.BadRequest("the index is outside the status list").WithCause(err))
	case errors.Is(err, audit.ErrProof):
		problem.Write(w, r, problem.BadRequest("the proof does not verify").WithCause(err))
	case errors.Is(err, status.ErrTransition):
		problem.Write(w, r, problem.BadRequest("this status change is not allowed").WithCause(err))
	case errors.Is(err, status.ErrFinal):
		problem.Write(w, r, problem.New(http.StatusConflict, "status-final", "Revoked", "a revoked card cannot change status"))
	default:
		if a.Log != nil {
			a.Log.ErrorContext(r.Context(), "trust api", "route", r.Pattern, "err", err)
		}
		problem.Write(w, r, problem.Internal())
	}
}

// writeCached writes body with Cache-Control max-age and a strong ETag,
// answering 304 to a matching If-None-Match.
func writeCached(w http.ResponseWriter, r *http.Request, ctype string, body []byte, etag string, maxAge time.Duration) {
	if etag == "" {
		h := sha256.Sum256(body)
		etag = `"` + base64.RawURLEncoding.EncodeToString(h[:18]) + `"`
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(maxAge/time.Second)))
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" {
		for _, m := range strings.Split(match, ",") {
			if m = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(m), "W/")); m == etag || m == "*" {
				w.WriteHeader(http.StatusNotModified)
				return
			}
		}
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	w.Write(body)
}

func writeJSON(w http.ResponseWriter, r *http.Request, v any, maxAge time.Duration) {
	b, err := json.Marshal(v)
	if err != nil {
		problem.Write(w, r, problem.Internal())
		return
	}
	if maxAge == 0 {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
		return
	}
	writeCached(w, r, "application/json", b, "", maxAge)
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) bool {
	if err := a.Ring.Refresh(r.Context()); err != nil {
		a.fail(w, r, err)
		return false
	}
	return true
}

// jwtVCIssuer serves the SD-JWT VC issuer metadata with the keys inline.
func (a *API) jwtVCIssuer(w http.ResponseWriter, r *http.Request) {
	if !a.refresh(w, r) {
		return
	}
	writeJSON(w, r, map[string]any{"issuer": a.Issuer, "jwks": a.Ring.JWKS(a.now())}, a.maxAge())
}

func (a *API) jwks(w http.ResponseWriter, r *http.Request) {
	if !a.refresh(w, r) {
		return
	}
	b, _ := json.Marshal(a.Ring.JWKS(a.now()))
	writeCached(w, r, "application/jwk-set+json", b, "", a.maxAge())
}

func (a *API) trustList(w http.ResponseWriter, r *http.Request) {
	if !a.refresh(w, r) {
		return
	}
	writeJSON(w, r, a.Ring.TrustList(a.now()), a.maxAge())
}

func (a *API) trustListPEM(w http.ResponseWriter, r *http.Request) {
	if !a.refresh(w, r) {
		return
	}
	writeCached(w, r, "application/pem-certificate-chain", a.Ring.TrustPEM(a.now()), "", a.maxAge())
}

func (a *API) statusList(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) > 64 {
		a.fail(w, r, status.ErrNotFound)
		return
	}
	t, err := a.Status.Token(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	// Cache for what is left of the ttl since the token was signed.
	age := a.now().Sub(t.IssuedAt)
	maxAge := t.TTL - age
	if maxAge < 0 {
		maxAge = 0
	}
	writeCached(w, r, status.MediaType, []byte(t.Token), t.ETag, maxAge)
}

// aggregation serves the draft's Status List Aggregation:
// {"status_lists": [URI, ...]}.
func (a *API) aggregation(w http.ResponseWriter, r *http.Request) {
	uris, err := a.Status.Aggregation(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, map[string]any{"status_lists": uris}, time.Minute)
}

// FetchPEM fetches a PEM certificate bundle (the trust list at
// BASE/trust-list.pem).
func (f Fetcher) FetchPEM(ctx context.Context, uri string) ([]byte, error) {
	return f.get(ctx, uri, "application/pem-certificate-chain")
}

// FetchAggregation reads an issuer's Status List Aggregation: the URIs of
// all its lists (for status.Checker.Prefetch).
func (f Fetcher) FetchAggregation(ctx context.Context, uri string) ([]string, error) {
	b, err := f.get(ctx, uri, "application/json")
	if err != nil {
		return nil, err
	}
	var agg struct {
		Lists []string `json:"status_lists"`
	}
	if err := json.Unmarshal(b, &agg); err != nil {
		return nil, fmt.Errorf("trustapi: status list aggregation %s: %w", uri, err)
	}
	return agg.Lists, nil
}

// treeHead is the JSON of a signed tree head.
type treeHead struct {
	TreeSize  uint64 `json:"tree_size"`
	Timestamp int64  `json:"timestamp"`
	RootHash  []byte `json:"sha256_root_hash"`
	// Signature is the compact JWS (typ shenfen-sth+jwt) over the head,
	// verifiable with the JWKS.
	Signature string `json:"signature"`
}

func (a *API) sth(w http.ResponseWriter, r *http.Request) {
	h, err := a.Audit.STH(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, treeHead{h.Size, h.Timestamp.UnixMilli(), h.Root[:], h.JWS}, 0)
}

func uintParam(r *http.Request, name string) (uint64, error) {
	v := r.URL.Query().Get(name)
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil || n > 1<<53 {
		return 0, fmt.Errorf("%w: parameter %s must be a non-negative integer", audit.ErrProof, name)
	}
	return n, nil
}

func hashes(hs []audit.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = hs[i][:]
	}
	return out
}

// inclusion serves /audit/proof?leaf_index=N&tree_size=M.
func (a *API) inclusion(w http.ResponseWriter, r *http.Request) {
	idx, err := uintParam(r, "leaf_index")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	size, err := uintParam(r, "tree_size")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.Audit.InclusionProof(r.Context(), idx, size)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, map[string]any{"leaf_index": idx, "tree_size": size, "audit_path": hashes(p)}, time.Hour)
}

// consistency serves /audit/consistency?first=N&second=M.
func (a *API) consistency(w http.ResponseWriter, r *http.Request) {
	first, err := uintParam(r, "first")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	second, err := uintParam(r, "second")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	p, err := a.Audit.ConsistencyProof(r.Context(), first, second)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, map[string]any{"first": first, "second": second, "consistency": hashes(p)}, time.Hour)
}

func (a *API) leaf(w http.ResponseWriter, r *http.Request) {
	idx, err := strconv.ParseUint(r.PathValue("index"), 10, 64)
	if err != nil {
		a.fail(w, r, fmt.Errorf("%w: bad leaf index", audit.ErrProof))
		return
	}
	l, err := a.Audit.Leaf(r.Context(), idx)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, map[string]any{"leaf_index": idx, "leaf_input": l.Data, "leaf_hash": l.Hash[:]}, 24*time.Hour)
}

// Origin is the checkpoint origin (and note key name) of the log of an
// issuer: the issuer URL without its scheme, then "/audit", for example
// "id.example/audit".
func Origin(issuer string) string {
	o := strings.TrimSuffix(issuer, "/")
	if i := strings.Index(o, "://"); i >= 0 {
		o = o[i+3:]
	}
	return o + "/audit"
}

// checkpointType is the media type of a checkpoint (a signed note is text).
const checkpointType = "text/plain; charset=utf-8"

// checkpoint serves the C2SP tlog-checkpoint of the current tree.
func (a *API) checkpoint(w http.ResponseWriter, r *http.Request) {
	c, err := a.Audit.Checkpoint(r.Context())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", checkpointType)
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(c)
}

// checkpointKey serves the log's note verifier key, one line.
func (a *API) checkpointKey(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	writeCached(w, r, checkpointType, []byte(a.CheckpointKey+"\n"), "", a.maxAge())
}

// issuance serves /audit/issuance/{digest}?tree_size=N: the issuance
// leaf whose digest is the base64url SHA-256 of an issuer-signed
// credential, and its inclusion proof in the tree of N leaves, so that a
// holder checks its own card was logged.
func (a *API) issuance(w http.ResponseWriter, r *http.Request) {
	size, err := uintParam(r, "tree_size")
	if err != nil {
		a.fail(w, r, err)
		return
	}
	l, p, err := a.Audit.IssuanceProof(r.Context(), r.PathValue("digest"), size)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, r, map[string]any{"leaf_index": l.Index, "tree_size": size, "leaf_input": l.Data, "audit_path": hashes(p)}, time.Hour)
}

// statusChange is the body of POST /admin/status.
type statusChange struct {
	URI    string `json:"uri"`
	Index  *int   `json:"idx"`
	Status string `json:"status"`
}

// AdminStatus is POST /admin/status {"uri","idx","status": "suspended" |
// "revoked" | "valid"}: suspend, revoke or reinstate a card (the status
// service's Changed hook logs it). Mount it behind the admin token.
func (a *API) AdminStatus() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req statusChange
		d := json.NewDecoder(io.LimitReader(r.Body, 4096))
		d.DisallowUnknownFields()
		if err := d.Decode(&req); err != nil || req.Index == nil || req.URI == "" {
			problem.Write(w, r, problem.BadRequest(`want {"uri": ..., "idx": ..., "status": "suspended"|"revoked"|"valid"}`))
			return
		}
		next, err := status.ParseStatus(req.Status)
		if err != nil {
			problem.Write(w, r, problem.BadRequest(`status must be "valid", "suspended" or "revoked"`).WithCause(err))
			return
		}
		ref := status.Ref{URI: req.URI, Index: *req.Index}
		old, err := a.Status.Set(r.Context(), ref, next)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, r, map[string]any{"uri": ref.URI, "idx": ref.Index, "previous": old.String(), "status": next.String()}, 0)
	})
}

// HistoryHandler serves a citizen's disclosure history as JSON. subject
// authenticates the request (the wallet's session) and returns the
// citizen's opaque subject key; the caller owns that authentication.
func (a *API) HistoryHandler(subject func(*http.Request) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := subject(r)
		if err != nil {
			problem.Write(w, r, problem.Unauthorized("sign in with the wallet to see your disclosures"))
			return
		}
		h, err := a.Audit.History(r.Context(), s, 0)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"disclosures": h})
	})
}

// Fetcher fetches status list tokens over HTTP for a status.Checker.
type Fetcher struct {
	// Client is the HTTP client (default: 10-second timeout).
	Client *http.Client
	// MaxBytes bounds a response (default 4 MiB).
	MaxBytes int64
}

// Fetch GETs uri asking for application/statuslist+jwt. Only https URIs
// are fetched, and http ones on loopback hosts (tests, local demo).
func (f Fetcher) Fetch(ctx context.Context, uri string) ([]byte, error) {
	return f.get(ctx, uri, status.MediaType)
}

func (f Fetcher) get(ctx context.Context, uri, mediaType string) ([]byte, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, fmt.Errorf("trustapi: status list URI: %w", err)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return nil, fmt.Errorf("trustapi: status list URI %q is not https", uri)
	}
	c := f.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	max := f.MaxBytes
	if max == 0 {
		max = 4 << 20
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", mediaType)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("trustapi: GET %s: %s", uri, resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, mediaType) {
		return nil, fmt.Errorf("trustapi: GET %s: content type %q", uri, ct)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("trustapi: GET %s: over %d bytes", uri, max)
	}
	return b, nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// AuditClient reads a shenfen transparency log over HTTP for an auditor
// (audit.Source).
type AuditClient struct {
	// Base is the server's base URL (the issuer).
	Base string
	// Fetcher does the requests (its limits and URL rules apply).
	Fetcher Fetcher
}

// TreeHead fetches /audit/sth and returns its signature (the signed head).
func (c AuditClient) TreeHead(ctx context.Context) (string, error) {
	b, err := c.Fetcher.get(ctx, strings.TrimSuffix(c.Base, "/")+"/audit/sth", "application/json")
	if err != nil {
		return "", err
	}
	var h treeHead
	if err := json.Unmarshal(b, &h); err != nil {
		return "", fmt.Errorf("trustapi: tree head: %w", err)
	}
	return h.Signature, nil
}

// Checkpoint fetches /audit/checkpoint (audit.CheckpointSource).
func (c AuditClient) Checkpoint(ctx context.Context) ([]byte, error) {
	f := c.Fetcher
	if f.MaxBytes == 0 {
		f.MaxBytes = audit.MaxCheckpointBytes
	}
	return f.get(ctx, strings.TrimSuffix(c.Base, "/")+"/audit/checkpoint", "text/plain")
}

// Consistency fetches /audit/consistency.
func (c AuditClient) Consistency(ctx context.Context, first, second uint64) ([]audit.Hash, error) {
	u := fmt.Sprintf("%s/audit/consistency?first=%d&second=%d", strings.TrimSuffix(c.Base, "/"), first, second)
	b, err := c.Fetcher.get(ctx, u, "application/json")
	if err != nil {
		return nil, err
	}
	var p struct {
		Proof [][]byte `json:"consistency"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("trustapi: consistency proof: %w", err)
	}
	out := make([]audit.Hash, len(p.Proof))
	for i, h := range p.Proof {
		if len(h) != len(out[i]) {
			return nil, fmt.Errorf("trustapi: consistency proof: hash of %d bytes", len(h))
		}
		copy(out[i][:], h)
	}
	return out, nil
}
