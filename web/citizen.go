package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/server"
)

// The wallet's own calls authenticate with the card itself: the wallet
// fetches a single-use nonce (POST /api/wallet/nonce) and sends a fresh
// presentation of its card, key-bound to that nonce with audience
// PUBLIC_URL/api/wallet and disclosing the ID number only, in
// "Authorization: Card PRESENTATION". Possession of the card and of the
// device key is the citizen's sign-in; no password, no account.
//
// Endpoints (Citizen.Mount):
//
//	POST /api/wallet/nonce     {"nonce", "expires_in"}
//	GET  /api/wallet/history   the citizen's disclosures and the operators'
//	                           accesses {"disclosures": [...], "accesses": [...]}
//	POST /api/wallet/suspend   suspend the presented card (lost or stolen phone)
//	POST /api/wallet/revocation-code   the card's lost-phone code, once {"revocation_code"}
//	POST /api/wallet/lost      public: {"id_number", "revocation_code"} suspends
//	                           every active card of the citizen (no phone needed)
//	POST /verifier/api/check   check the wallet's in-person code (text body)

// CardVerifier verifies a key-bound card presentation for a nonce and an
// audience (an adapter over the credential library's SD-JWT verifier).
type CardVerifier interface {
	VerifyCard(ctx context.Context, presentation, nonce, audience string) (*credential.Verified, error)
}

// Histories is the disclosure history (*audit.Log).
type Histories interface {
	History(ctx context.Context, subject string, limit int) ([]audit.Recorded, error)
}

// AccessHistories is the operators' accesses to a citizen's data (*audit.Log).
type AccessHistories interface {
	AccessHistory(ctx context.Context, subject string, limit int) ([]audit.RecordedAccess, error)
}

// LostCards is the card lifecycle as the revocation code and the
// lost-phone page need it (*proofing.Cards).
type LostCards interface {
	IssueRevocationCode(ctx context.Context, ref proofing.StatusRef) (string, error)
	SuspendLost(ctx context.Context, idNumber, code, client string) (int, error)
}

// Suspender suspends the card at a status-list entry.
type Suspender interface {
	Suspend(ctx context.Context, ref credential.StatusRef) error
}

// Citizen serves the wallet's authenticated calls and the verifier page's
// check of an in-person code.
type Citizen struct {
	// Verifier checks presentations (required).
	Verifier CardVerifier
	// Subject maps an ID number to the citizen's opaque history key.
	Subject func(idNumber string) (string, error)
	// History and Suspend may be nil (the endpoints then answer 404).
	History Histories
	Suspend Suspender
	// Accesses, when set, adds the operators' accesses to the history;
	// ShowOperatorNames shows their names (otherwise badge and office).
	Accesses          AccessHistories
	ShowOperatorNames bool
	// Cards serves the revocation code and the lost-phone page (nil: those
	// endpoints answer 404).
	Cards LostCards
	// Audience is PUBLIC_URL + "/api/wallet".
	Audience string
	// QRWindow is the refresh period of the wallet's in-person code: its
	// nonce is the number of the current window (default 30 s; the window
	// before is accepted too).
	QRWindow time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	// NonceMAC keys the wallet's sign-in nonces: a nonce is its expiry, 16
	// random bytes and a MAC over both, so any server sharing the key can
	// check it and issuing one stores nothing. cmd/shenfen derives it from
	// the master key. Required: without it the nonce endpoint answers 404.
	NonceMAC func(data []byte) []byte
	// Used records each nonce's single use, in the database shared by all
	// servers, once the presentation over it verified. Required.
	Used SingleUse
	// NonceLimit limits nonce requests per client address (server.ClientKey).
	NonceLimit Limiter
	// CardLimit limits, per client address, the card presentations the
	// wallet's authenticated calls make the server verify (CPU: the
	// issuer's and the device key's signatures); taken only for a request
	// whose nonce is genuine and fresh, just before the verification.
	CardLimit Limiter
	// CheckLimit limits the in-person code checks (POST /verifier/api/check,
	// two signature verifications each) per client address.
	CheckLimit Limiter
}

// Limiter limits events per key (store.RateLimiter, shared by every server
// through the database).
type Limiter interface {
	Take(ctx context.Context, key string, now time.Time) (bool, time.Duration, error)
}

// SingleUse records single-use values (store.SingleUse).
type SingleUse interface {
	// UseOnce records key as used until expires; false if it was before.
	UseOnce(ctx context.Context, key []byte, expires time.Time) (bool, error)
}

// Wallet nonce limits per client address: generous, because one address
// may carry a whole carrier-grade NAT of citizens, and a nonce costs the
// server no storage.
const (
	NonceClientEvery = 200 * time.Millisecond
	NonceClientBurst = 60
)

// Limits per client address of the endpoints that cost CPU and store
// nothing: the wallet's authenticated calls (a citizen makes a few a day,
// an address may carry a carrier-grade NAT of citizens) and the in-person
// code check (a busy desk checks one code every few seconds; a hotel
// chain's desks may share an address).
const (
	CardClientEvery  = 200 * time.Millisecond
	CardClientBurst  = 60
	CheckClientEvery = 100 * time.Millisecond
	CheckClientBurst = 120
)

// Mount attaches the endpoints to m.
func (c *Citizen) Mount(m Mux) {
	m.Handle("POST /api/wallet/nonce", server.SameOrigin(http.HandlerFunc(c.nonce)))
	m.Handle("GET /api/wallet/history", http.HandlerFunc(c.history))
	m.Handle("POST /api/wallet/suspend", server.SameOrigin(http.HandlerFunc(c.suspend)))
	m.Handle("POST /api/wallet/revocation-code", server.SameOrigin(http.HandlerFunc(c.revocationCode)))
	m.Handle("POST /api/wallet/lost", server.SameOrigin(server.RequireJSON(http.HandlerFunc(c.lost))))
	m.Handle("POST /verifier/api/check", server.SameOrigin(http.HandlerFunc(c.check)))
}

func (c *Citizen) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

const nonceTTL = 5 * time.Minute

func (c *Citizen) nonce(w http.ResponseWriter, r *http.Request) {
	if c.NonceMAC == nil || c.Used == nil {
		problem.Write(w, r, problem.NotFound("wallet sign-in is not available on this server"))
		return
	}
	now := c.now()
	if !allow(w, r, c.NonceLimit, server.ClientKey(r), now, "too many sign-in nonces from this address; retry later") {
		return
	}
	writeJSON(w, map[string]any{"nonce": c.issueNonce(now), "expires_in": int(nonceTTL / time.Second)})
}

// allow takes one event for key from l (nil: no limit); over the limit or
// when the limiter fails it answers the request itself and returns false.
func allow(w http.ResponseWriter, r *http.Request, l Limiter, key string, now time.Time, msg string) bool {
	if l == nil {
		return true
	}
	ok, after, err := l.Take(r.Context(), key, now)
	switch {
	case err != nil:
		problem.Write(w, r, problem.Internal().WithCause(err))
		return false
	case !ok:
		problem.Write(w, r, problem.TooManyRequests(msg, after))
		return false
	}
	return true
}

// A wallet nonce is base64url(expiry (8 bytes, Unix seconds) ‖ 16 random
// bytes ‖ MAC (16 bytes)).
const nonceLen = 8 + 16 + 16

func (c *Citizen) issueNonce(now time.Time) string {
	var b [nonceLen]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.Add(nonceTTL).Unix()))
	rand.Read(b[8:24])
	copy(b[24:], c.NonceMAC(b[:24]))
	return b64(b[:])
}

// checkNonce verifies a nonce's MAC and expiry (not its single use) and
// returns its expiry.
func (c *Citizen) checkNonce(n string, now time.Time) (time.Time, bool) {
	if c.NonceMAC == nil || len(n) != (nonceLen*8+5)/6 {
		return time.Time{}, false
	}
	// Strict: one spelling per nonce, so its single-use record (keyed by
	// the string the presentation signed) cannot be side-stepped.
	b, err := base64.RawURLEncoding.Strict().DecodeString(n)
	if err != nil || len(b) != nonceLen || !hmac.Equal(b[24:], c.NonceMAC(b[:24])[:16]) {
		return time.Time{}, false
	}
	exp := time.Unix(int64(binary.BigEndian.Uint64(b[:8])), 0)
	if !now.Before(exp) || exp.After(now.Add(nonceTTL+time.Minute)) {
		return time.Time{}, false
	}
	return exp, true
}

// ErrNoCard: the request carries no usable card presentation.
var ErrNoCard = errors.New("web: no valid card presentation")

// card authenticates the request: a presentation over an issued,
// unexpired, unused nonce, with the ID number disclosed. The nonce's
// single use is recorded only once the presentation verified, so a
// stranger's requests write nothing.
func (c *Citizen) card(r *http.Request) (*credential.Verified, string, error) {
	scheme, pres, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Card") || len(pres) > 512<<10 || c.Used == nil {
		return nil, "", ErrNoCard
	}
	kb := pres[strings.LastIndexByte(pres, '~')+1:]
	nonce, err := kbNonce(kb)
	if err != nil {
		return nil, "", ErrNoCard
	}
	now := c.now()
	exp, ok := c.checkNonce(nonce, now)
	if !ok {
		return nil, "", ErrNoCard
	}
	if err := take(r, c.CardLimit, now); err != nil {
		return nil, "", err
	}
	v, err := c.Verifier.VerifyCard(r.Context(), pres, nonce, c.Audience)
	if err != nil {
		return nil, "", errors.Join(ErrNoCard, err)
	}
	key := sha256.Sum256([]byte("shenfen wallet nonce\x00" + nonce))
	fresh, err := c.Used.UseOnce(r.Context(), key[:], exp)
	if err != nil {
		return nil, "", fmt.Errorf("web: record nonce use: %w", err)
	}
	if !fresh {
		return nil, "", ErrNoCard
	}
	id, _ := v.Claims["id_number"].(string)
	if id == "" {
		id, _ = v.Claims["personal_administrative_number"].(string)
	}
	if id == "" {
		return nil, "", ErrNoCard
	}
	return v, id, nil
}

// kbNonce reads the nonce claim of a key-binding JWT without verifying it
// (the verifier does that next, against this very nonce).
func kbNonce(kb string) (string, error) {
	parts := strings.Split(kb, ".")
	if len(parts) != 3 || len(parts[1]) > 4096 {
		return "", ErrNoCard
	}
	b, err := b64dec(parts[1])
	if err != nil {
		return "", ErrNoCard
	}
	var p struct {
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(b, &p); err != nil || p.Nonce == "" {
		return "", ErrNoCard
	}
	return p.Nonce, nil
}

func (c *Citizen) unauthorized(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("WWW-Authenticate", `Card realm="shenfen-wallet"`)
	problem.Write(w, r, problem.Unauthorized("present the card with a fresh nonce from POST /api/wallet/nonce"))
}

// limited: the client address is over a limit for retry.
type limited struct{ retry time.Duration }

func (l *limited) Error() string { return "web: too many requests from this address" }

// take takes one event for the request's client address from l (nil: no
// limit): a *limited error over the limit.
func take(r *http.Request, l Limiter, now time.Time) error {
	if l == nil {
		return nil
	}
	ok, after, err := l.Take(r.Context(), server.ClientKey(r), now)
	if err != nil {
		return fmt.Errorf("web: rate limit: %w", err)
	}
	if !ok {
		return &limited{after}
	}
	return nil
}

// refuse answers a failed card sign-in: 401 for a bad presentation, 429
// over the client's limit, 500 when the server could not record the
// nonce's use.
func (c *Citizen) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrNoCard) {
		c.unauthorized(w, r)
		return
	}
	var l *limited
	if errors.As(err, &l) {
		problem.Write(w, r, problem.TooManyRequests("too many card presentations from this address; retry later", l.retry))
		return
	}
	problem.Write(w, r, problem.Internal().WithCause(err))
}

func (c *Citizen) history(w http.ResponseWriter, r *http.Request) {
	if c.History == nil || c.Subject == nil {
		problem.Write(w, r, problem.NotFound("no disclosure history on this server"))
		return
	}
	_, id, err := c.card(r)
	if err != nil {
		c.refuse(w, r, err)
		return
	}
	subj, err := c.Subject(id)
	if err != nil {
		c.unauthorized(w, r)
		return
	}
	h, err := c.History.History(r.Context(), subj, 0)
	if err != nil {
		problem.Write(w, r, problem.Internal())
		return
	}
	out := make([]audit.Disclosure, 0, len(h))
	for _, d := range h {
		out = append(out, d.Disclosure)
	}
	accesses := []audit.CitizenAccess{}
	if c.Accesses != nil {
		as, err := c.Accesses.AccessHistory(r.Context(), subj, 0)
		if err != nil {
			problem.Write(w, r, problem.Internal().WithCause(err))
			return
		}
		for _, a := range as {
			accesses = append(accesses, a.ForCitizen(c.ShowOperatorNames))
		}
	}
	writeJSON(w, map[string]any{"disclosures": out, "accesses": accesses})
}

// cardStatus is the status-list entry of the card the request presents;
// it answers the request itself (401, or 409 for a card without an entry)
// when there is none.
func (c *Citizen) cardStatus(w http.ResponseWriter, r *http.Request) (credential.StatusRef, bool) {
	v, _, err := c.card(r)
	if err != nil {
		c.refuse(w, r, err)
		return credential.StatusRef{}, false
	}
	if v.Status == nil {
		problem.Write(w, r, problem.New(http.StatusConflict, "no-status", "Card has no status entry", "this card cannot be suspended"))
		return credential.StatusRef{}, false
	}
	return *v.Status, true
}

func (c *Citizen) suspend(w http.ResponseWriter, r *http.Request) {
	if c.Suspend == nil {
		problem.Write(w, r, problem.NotFound("suspension is not available on this server"))
		return
	}
	ref, ok := c.cardStatus(w, r)
	if !ok {
		return
	}
	if err := c.Suspend.Suspend(r.Context(), ref); err != nil {
		problem.Write(w, r, problem.Internal())
		return
	}
	writeJSON(w, map[string]any{"status": "suspended"})
}

// revocationCode gives the presented card its lost-phone code, once: the
// wallet shows it right after collecting the card for the citizen to
// write down. A card with an unused code gets 409.
func (c *Citizen) revocationCode(w http.ResponseWriter, r *http.Request) {
	if c.Cards == nil {
		problem.Write(w, r, problem.NotFound("revocation codes are not available on this server"))
		return
	}
	ref, ok := c.cardStatus(w, r)
	if !ok {
		return
	}
	code, err := c.Cards.IssueRevocationCode(r.Context(), ref)
	switch {
	case err == nil:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"revocation_code": code})
	case errors.Is(err, proofing.ErrConflict):
		problem.Write(w, r, problem.New(http.StatusConflict, "revocation-code-issued", "Revocation code already shown",
			"this card's revocation code was shown once already; a new card (enrolling again) gets a new one"))
	case errors.Is(err, proofing.ErrNotFound), errors.Is(err, proofing.ErrFinal):
		problem.Write(w, r, problem.New(http.StatusConflict, "no-active-card", "No active card", "this card is not active"))
	default:
		problem.Write(w, r, problem.Internal())
	}
}

// maxLostBody bounds the lost-phone request.
const maxLostBody = 1024

// lost is the public lost-phone page's call: ID number and revocation
// code suspend every active card of the citizen. One refusal for every
// mismatch (unknown ID number, wrong or spent code, no active card), rate
// limits per client address and per ID number.
func (c *Citizen) lost(w http.ResponseWriter, r *http.Request) {
	if c.Cards == nil {
		problem.Write(w, r, problem.NotFound("lost-phone suspension is not available on this server"))
		return
	}
	var req struct {
		IDNumber string `json:"id_number"`
		Code     string `json:"revocation_code"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, maxLostBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.IDNumber == "" || req.Code == "" || len(req.IDNumber) > 64 || len(req.Code) > 64 {
		problem.Write(w, r, problem.BadRequest(`want {"id_number": ..., "revocation_code": ...}`))
		return
	}
	n, err := c.Cards.SuspendLost(r.Context(), req.IDNumber, req.Code, server.ClientKey(r))
	var rl *proofing.RateLimitError
	switch {
	case err == nil:
		writeJSON(w, map[string]any{"status": "suspended", "suspended": n})
	case errors.As(err, &rl):
		problem.Write(w, r, problem.TooManyRequests("too many attempts; retry later", rl.RetryAfter))
	case errors.Is(err, proofing.ErrBadRequest):
		problem.Write(w, r, problem.New(http.StatusBadRequest, "invalid-id-number", "Invalid ID number",
			"the ID number is not a valid 18-character resident ID number"))
	case errors.Is(err, proofing.ErrCodeRefused):
		problem.Write(w, r, problem.New(http.StatusForbidden, "revocation-refused", "Not suspended",
			"the ID number and revocation code do not match an active card"))
	default:
		problem.Write(w, r, problem.Internal())
	}
}

// check is the verifier page's scan of the wallet's in-person code: the
// presentation must be key-bound with audience "in-person" to the current
// (or the previous) time window.
func (c *Citizen) check(w http.ResponseWriter, r *http.Request) {
	if !allow(w, r, c.CheckLimit, server.ClientKey(r), c.now(), "too many code checks from this address; retry later") {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		problem.Write(w, r, problem.BadRequest("unreadable body"))
		return
	}
	pres := strings.TrimSpace(string(body))
	win := c.QRWindow
	if win <= 0 {
		win = 30 * time.Second
	}
	n := c.now().Unix() / int64(win/time.Second)
	var v *credential.Verified
	for _, k := range []int64{n, n - 1} {
		v, err = c.Verifier.VerifyCard(r.Context(), pres, strconv.FormatInt(k, 10), "in-person")
		if !errors.Is(err, credential.ErrNonce) {
			break
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		writeJSON(w, map[string]any{"status": "failed", "error": credential.Reason(err)})
		return
	}
	out := map[string]any{"status": "verified", "format": v.Format, "claims": v.Claims, "verified_at": c.now().UTC().Format(time.RFC3339)}
	if !v.ValidUntil.IsZero() {
		out["valid_until"] = v.ValidUntil.UTC().Format(time.RFC3339)
	}
	writeJSON(w, out)
}
