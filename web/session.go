package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/server"
)

// Cookie names. The session cookie is HttpOnly (scripts never see it); the
// pre-session CSRF cookie is read back by nobody but this server (the page
// gets its value from GET /admin/session).
const (
	sessionCookie = "shenfen_admin"
	preCookie     = "shenfen_admin_csrf"
	csrfHeader    = "X-CSRF-Token"
	sessionTTL    = 8 * time.Hour
)

// Sessions signs the admin console in and out and forwards its API calls.
//
// A session is a cookie "EXPIRY.MAC" where MAC = HMAC-SHA256(k, EXPIRY) and
// k is derived from the admin token: no server-side state, and changing the
// token ends every session. The CSRF token of a session is
// HMAC-SHA256(k, "csrf" || cookie), sent by the page in X-CSRF-Token on
// every call; before sign-in a random double-submit cookie plays that part.
// All comparisons are constant-time.
//
// Sign-in attempts are limited per client address and per hash of the
// token tried, never globally: a stranger's wrong guesses spend the
// stranger's own address's allowance and the guessed tokens', never the
// allowance of the administrator, who signs in from elsewhere with the
// right token.
type Sessions struct {
	key   []byte
	token string
	api   http.Handler
	// ops, when set, signs named operators in with their own secrets and
	// the token signs nobody in (see [Sessions.UseOperators]).
	ops    OperatorDirectory
	client Limiter // per client address
	tried  Limiter // per SHA-256 of the token tried
	now    func() time.Time
}

// Console sign-in limits.
const (
	SignInClientEvery = 6 * time.Second
	SignInClientBurst = 10
	SignInTokenEvery  = 12 * time.Second
	SignInTokenBurst  = 5
)

// NewSessions makes the console's session handler for the admin token;
// api receives the forwarded calls. client and tried limit sign-in
// attempts per client address and per token tried (nil: limits kept in
// this process's memory, per key).
func NewSessions(adminToken string, api http.Handler, client, tried Limiter) *Sessions {
	m := hmac.New(sha256.New, []byte(adminToken))
	m.Write([]byte("shenfen web admin session v1"))
	if client == nil {
		client = proofing.NewLimiter(SignInClientEvery, SignInClientBurst, 100_000)
	}
	if tried == nil {
		tried = proofing.NewLimiter(SignInTokenEvery, SignInTokenBurst, 100_000)
	}
	return &Sessions{key: m.Sum(nil), token: adminToken, api: api, client: client, tried: tried, now: time.Now}
}

// OperatorDirectory finds operators (store.Operators).
type OperatorDirectory interface {
	Operator(ctx context.Context, id string) (operator.Operator, error)
}

// UseOperators switches the console to named operators: sign-in with
// {"operator": ID, "secret": SECRET} checked against the operator's stored
// hash (limited per client address and per operator), a session that
// names the operator, and forwarded calls that carry the operator (loaded
// afresh on every call, so a disabled operator is out at once) instead of
// the admin token. The admin token then signs nobody in: it stays for
// machines only.
func (s *Sessions) UseOperators(d OperatorDirectory) { s.ops = d }

func (s *Sessions) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// newSession returns a fresh token session cookie value "EXP.MAC".
func (s *Sessions) newSession() string {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	return exp + "." + b64(s.mac("session", exp))
}

// newOperatorSession returns a fresh session value
// "EXP.base64url(OPERATOR).MAC" naming an operator.
func (s *Sessions) newOperatorSession(op string) string {
	exp := strconv.FormatInt(s.now().Add(sessionTTL).Unix(), 10)
	return exp + "." + b64([]byte(op)) + "." + b64(s.mac("operator session", exp, op))
}

// valid reports whether v is an unexpired session made with this key.
func (s *Sessions) valid(v string) bool {
	_, ok := s.parse(v)
	return ok
}

// parse checks a session value and returns the operator it names ("" for
// a token session, which is valid only without an operator directory).
func (s *Sessions) parse(v string) (string, bool) {
	parts := strings.Split(v, ".")
	if len(parts) < 2 || len(parts) > 3 || len(parts[0]) > 12 {
		return "", false
	}
	n, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || s.now().Unix() >= n {
		return "", false
	}
	if len(parts) == 2 {
		return "", s.ops == nil && hmac.Equal([]byte(parts[1]), []byte(b64(s.mac("session", parts[0]))))
	}
	op, err := b64dec(parts[1])
	if s.ops == nil || err != nil || len(op) == 0 {
		return "", false
	}
	return string(op), hmac.Equal([]byte(parts[2]), []byte(b64(s.mac("operator session", parts[0], string(op)))))
}

func (s *Sessions) csrfFor(session string) string { return b64(s.mac("csrf", session)) }

// secure reports whether the client reached us over https: directly, or
// through a trusted proxy (the server middleware keeps X-Forwarded-Proto
// only from those).
func secure(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

func (s *Sessions) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: value, Path: "/admin/", MaxAge: maxAge,
		HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// session returns the request's valid session cookie value, or "".
func (s *Sessions) session(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || !s.valid(c.Value) {
		return ""
	}
	return c.Value
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(v)
}

// mode is how the console signs in: "operator" or "token".
func (s *Sessions) mode() string {
	if s.ops != nil {
		return "operator"
	}
	return "token"
}

// state is GET /admin/session: {"signed_in": bool, "csrf": TOKEN, "mode":
// "operator"|"token", "operator": {...}}. Before sign-in it sets the
// double-submit cookie whose value is the CSRF token of the sign-in call.
func (s *Sessions) state(w http.ResponseWriter, r *http.Request) {
	if sess := s.session(r); sess != "" {
		out := map[string]any{"signed_in": true, "csrf": s.csrfFor(sess), "mode": s.mode()}
		if p, ok := s.principal(r.Context(), sess); ok {
			out["operator"] = p
		} else if s.ops != nil {
			sess = ""
		}
		if sess != "" {
			writeJSON(w, out)
			return
		}
	}
	var b [18]byte
	rand.Read(b[:])
	v := b64(b[:])
	s.setCookie(w, r, preCookie, v, 600)
	writeJSON(w, map[string]any{"signed_in": false, "csrf": v, "mode": s.mode()})
}

// principal loads the operator a session names, afresh: a disabled or
// removed operator has no principal.
func (s *Sessions) principal(ctx context.Context, sess string) (operator.Principal, bool) {
	id, ok := s.parse(sess)
	if !ok || id == "" || s.ops == nil {
		return operator.Principal{}, false
	}
	op, err := s.ops.Operator(ctx, id)
	if err != nil || op.Disabled {
		return operator.Principal{}, false
	}
	return op.Principal(), true
}

// signIn is POST /admin/session {"token": ADMIN_TOKEN} with the
// pre-session CSRF token in X-CSRF-Token.
func (s *Sessions) signIn(w http.ResponseWriter, r *http.Request) {
	if !server.IsSameOrigin(r) {
		problem.Write(w, r, problem.CrossSite())
		return
	}
	pre, err := r.Cookie(preCookie)
	got := r.Header.Get(csrfHeader)
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(pre.Value), []byte(got)) != 1 {
		problem.Write(w, r, problem.New(http.StatusForbidden, "csrf", "Forbidden", "reload the page and sign in again"))
		return
	}
	if !server.IsJSON(r) {
		problem.Write(w, r, problem.UnsupportedMediaType("application/json"))
		return
	}
	now := s.now()
	if !allow(w, r, s.client, server.ClientKey(r), now, "too many sign-in attempts from this address; retry later") {
		return
	}
	if s.ops != nil {
		s.signInOperator(w, r, now)
		return
	}
	var req struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil {
		problem.Write(w, r, problem.BadRequest(`want {"token": ...}`).WithCause(err))
		return
	}
	sum := sha256.Sum256([]byte(req.Token))
	if !allow(w, r, s.tried, hex.EncodeToString(sum[:]), now, "too many sign-in attempts with this token; retry later") {
		return
	}
	want := sha256.Sum256([]byte(s.token))
	if !s.signInAllowed() || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		problem.Write(w, r, problem.Unauthorized("wrong admin token"))
		return
	}
	s.startSession(w, r, "")
}

func (s *Sessions) startSession(w http.ResponseWriter, r *http.Request, op string) {
	sess := s.newSession()
	if op != "" {
		sess = s.newOperatorSession(op)
	}
	s.setCookie(w, r, sessionCookie, sess, int(sessionTTL/time.Second))
	s.setCookie(w, r, preCookie, "", -1)
	out := map[string]any{"signed_in": true, "csrf": s.csrfFor(sess), "mode": s.mode()}
	if p, ok := s.principal(r.Context(), sess); ok {
		out["operator"] = p
	}
	writeJSON(w, out)
}

// signInOperator checks {"operator": ID, "secret": SECRET}. Attempts are
// limited per client address and per operator and secret tried, never per
// operator alone: a stranger who knows an operator's sign-in name spends
// their own address's allowance and that of the wrong secrets they try,
// never the allowance of the operator, who signs in from elsewhere with
// the right secret. Secrets are 192 random bits made by the authority, so
// online guessing is hopeless whatever the number of addresses. An unknown
// or disabled operator costs the same hashing work as a wrong secret.
func (s *Sessions) signInOperator(w http.ResponseWriter, r *http.Request, now time.Time) {
	var req struct {
		Operator string `json:"operator"`
		Secret   string `json:"secret"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Operator == "" || len(req.Operator) > 64 || len(req.Secret) > 256 {
		problem.Write(w, r, problem.BadRequest(`want {"operator": ..., "secret": ...}`).WithCause(err))
		return
	}
	sum := sha256.Sum256([]byte(req.Secret))
	if !allow(w, r, s.tried, "operator\x00"+req.Operator+"\x00"+hex.EncodeToString(sum[:]), now,
		"too many sign-in attempts with this secret; retry later") {
		return
	}
	op, err := s.ops.Operator(r.Context(), req.Operator)
	hash := op.SecretHash
	if err != nil || op.Disabled {
		hash = ""
	}
	if operator.CheckSecret(hash, req.Secret) != nil {
		problem.Write(w, r, problem.Unauthorized("wrong operator or secret"))
		return
	}
	s.startSession(w, r, op.ID)
}

// signInAllowed reports whether sign-in can succeed at all (an empty
// admin token disables the console).
func (s *Sessions) signInAllowed() bool { return s.token != "" }

// signOut is DELETE /admin/session.
func (s *Sessions) signOut(w http.ResponseWriter, r *http.Request) {
	if sess := s.session(r); sess == "" || !s.csrfOK(r, sess) {
		problem.Write(w, r, problem.New(http.StatusForbidden, "csrf", "Forbidden", "not signed in"))
		return
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Sessions) csrfOK(r *http.Request, sess string) bool {
	got := r.Header.Get(csrfHeader)
	return got != "" && server.IsSameOrigin(r) && subtle.ConstantTimeCompare([]byte(got), []byte(s.csrfFor(sess))) == 1
}

// Forward serves /admin/console/api/REST by calling the API handler with
// /admin/api/REST and the admin bearer token, for a signed-in session with
// its CSRF token (every method, reads included: a cross-site page can then
// not even probe). /admin/console/api/status maps to POST /admin/status.
func (s *Sessions) Forward() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := s.session(r)
		if sess == "" {
			problem.Write(w, r, problem.Unauthorized("sign in to the console"))
			return
		}
		if !s.csrfOK(r, sess) {
			problem.Write(w, r, problem.New(http.StatusForbidden, "csrf", "Forbidden", "missing or wrong CSRF token"))
			return
		}
		if s.api == nil {
			problem.Write(w, r, problem.NotFound("no admin API"))
			return
		}
		rest := strings.TrimPrefix(r.URL.Path, "/admin/console/api/")
		target := "/admin/api/" + rest
		if rest == "status" {
			target = "/admin/status"
		}
		ctx := r.Context()
		if s.ops != nil {
			p, ok := s.principal(ctx, sess)
			if !ok {
				problem.Write(w, r, problem.Unauthorized("sign in to the console"))
				return
			}
			ctx = operator.WithPrincipal(ctx, p)
		}
		r2 := r.Clone(ctx)
		r2.URL.Path = target
		r2.URL.RawPath = ""
		r2.RequestURI = ""
		r2.Header.Del("Cookie")
		r2.Header.Del(csrfHeader)
		r2.Header.Del("Authorization")
		if s.ops == nil {
			r2.Header.Set("Authorization", "Bearer "+s.token)
		}
		w.Header().Set("Cache-Control", "no-store")
		s.api.ServeHTTP(w, r2)
	})
}

func b64dec(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
