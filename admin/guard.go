package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/problem"
)

// Gate wraps each admin route's handler in its access control.
type Gate interface {
	Wrap(pattern string, h http.Handler) http.Handler
}

// TokenGate is the bare bearer-token gate (every route for one token, no
// roles, no reasons): for tests of a single API and for tools that embed
// one. The server uses [Guard].
type TokenGate string

// Wrap puts h behind RequireToken.
func (t TokenGate) Wrap(_ string, h http.Handler) http.Handler { return RequireToken(string(t), h) }

// ReasonHeader carries the reason for an access to a citizen's data:
// "purpose=P; case=C" (see operator.ParseReason).
const ReasonHeader = "Shenfen-Reason"

// subjectFrom says where a route finds the citizen it touches.
type subjectFrom int

const (
	noSubject     subjectFrom = iota
	pathID                    // {id} is an ID number
	bodyID                    // the JSON body's "id_number"
	pathCard                  // {card} is a card id
	bodyStatusRef             // the JSON body's "uri" and "idx"
)

// Route is one admin route's rule: the permission it needs, where it finds
// the citizen whose data it touches (such routes need a reason and are
// recorded), and which requests are irreversible (four eyes).
type Route struct {
	Pattern    string
	Permission operator.Permission
	subject    subjectFrom
	// irreversible returns the new status when the body asks for an
	// irreversible change.
	irreversible func(body []byte) bool
}

// Personal reports whether the route touches a citizen's data (a reason is
// required, and each use is recorded in the citizen's history).
func (r Route) Personal() bool { return r.subject != noSubject }

// Irreversible reports whether body asks this route for a change that needs
// four eyes.
func (r Route) Irreversible(body []byte) bool { return r.irreversible != nil && r.irreversible(body) }

func statusIs(values ...string) func([]byte) bool {
	return func(b []byte) bool {
		var v struct {
			Status string `json:"status"`
		}
		if json.Unmarshal(b, &v) != nil {
			return false
		}
		for _, want := range values {
			if v.Status == want {
				return true
			}
		}
		return false
	}
}

// Routes is every admin route with its rule. A route that is not here is
// refused to everyone (deny by default).
var Routes = []Route{
	{"POST /admin/api/registry", operator.WriteRecord, bodyID, nil},
	{"GET /admin/api/registry/{id}", operator.ReadRecord, pathID, nil},
	{"POST /admin/api/registry/{id}/status", operator.RecordStatus, pathID, statusIs("cancelled", "deceased")},
	{"GET /admin/api/registry/{id}/cards", operator.ReadCards, pathID, nil},
	{"POST /admin/api/cards/{card}/status", operator.CardStatus, pathCard, statusIs("revoked", "invalid")},
	{"POST /admin/status", operator.CardStatus, bodyStatusRef, statusIs("revoked", "invalid")},
	{"POST /admin/api/rps", operator.ManageRPs, noSubject, nil},
	{"GET /admin/api/rps", operator.ReadRPs, noSubject, nil},
	{"GET /admin/api/rps/{id}", operator.ReadRPs, noSubject, nil},
	{"PATCH /admin/api/rps/{id}", operator.ManageRPs, noSubject, nil},
	{"DELETE /admin/api/rps/{id}", operator.ManageRPs, noSubject, nil},
	// Verifiers are registered by the same operators as relying parties.
	{"POST /admin/api/verifiers", operator.ManageRPs, noSubject, nil},
	{"GET /admin/api/verifiers", operator.ReadRPs, noSubject, nil},
	{"GET /admin/api/verifiers/{id}", operator.ReadRPs, noSubject, nil},
	{"PUT /admin/api/verifiers/{id}", operator.ManageRPs, noSubject, nil},
	{"POST /admin/api/verifiers/{id}/certificate", operator.ManageRPs, noSubject, nil},
	{"DELETE /admin/api/verifiers/{id}", operator.ManageRPs, noSubject, nil},
	{"GET /admin/api/enrollments/stats", operator.ReadStats, noSubject, nil},
	{"GET /admin/api/operators", operator.ReadOperators, noSubject, nil},
	{"POST /admin/api/operators", operator.ManageOperators, noSubject, nil},
	{"GET /admin/api/approvals", operator.ReadApprovals, noSubject, nil},
	{"POST /admin/api/approvals/{approval}/approve", operator.ReadApprovals, noSubject, nil},
	{"POST /admin/api/approvals/{approval}/reject", operator.ReadApprovals, noSubject, nil},
	{"GET /admin/api/whoami", "", noSubject, nil},
}

// RouteFor returns the rule of a pattern.
func RouteFor(pattern string) (Route, bool) {
	for _, r := range Routes {
		if r.Pattern == pattern {
			return r, true
		}
	}
	return Route{}, false
}

// MachineToken is a named bearer token for machine access, with the roles
// it is scoped to. People sign in as operators; a token never stands for
// a person.
type MachineToken struct {
	Name  string
	Token string
	Roles []operator.Role
}

// Directory finds operators (store.Operators).
type Directory interface {
	Operator(ctx context.Context, id string) (operator.Operator, error)
	ListOperators(ctx context.Context) ([]operator.Operator, error)
	AddOperator(ctx context.Context, op operator.Operator) error
}

// Approvals keeps four-eyes requests (store.Operators).
type Approvals interface {
	PutApproval(ctx context.Context, a operator.Approval) error
	Approval(ctx context.Context, id string) (operator.Approval, error)
	PendingApprovals(ctx context.Context, limit int) ([]operator.Approval, error)
	DecideApproval(ctx context.Context, id, state, approver string, at time.Time) error
}

// AccessLog records accesses in the citizen's history and the
// transparency log (*audit.Log).
type AccessLog interface {
	RecordAccess(ctx context.Context, a audit.Access) (uint64, error)
}

// Sealer encrypts four-eyes requests at rest (package seal).
type Sealer interface {
	Seal(plaintext, ad []byte) []byte
	Open(sealed, ad []byte) ([]byte, error)
}

// Guard is the admin API's access control: who (a signed-in operator, or
// a named machine token), may they (the route's permission in the policy),
// why (a reason for a citizen's data), and a second operator for the
// irreversible. Every use of a route that touches a citizen's data is
// recorded, with the principal and the reason, in the citizen's history
// and the transparency log, before the answer leaves.
type Guard struct {
	Policy    operator.Policy
	Tokens    []MachineToken
	Operators Directory
	Approvals Approvals
	Log       AccessLog
	Sealer    Sealer
	// Subject maps an ID number to the citizen's history key; CardSubject
	// and StatusSubject map a card id and a status entry to it.
	Subject       func(idNumber string) (string, error)
	CardSubject   func(ctx context.Context, cardID string) (string, error)
	StatusSubject func(ctx context.Context, uri string, idx int) (string, error)
	Slog          *slog.Logger
	Now           func() time.Time

	inner map[string]http.Handler
}

func (g *Guard) now() time.Time {
	if g.Now != nil {
		return g.Now()
	}
	return time.Now()
}

func (g *Guard) slog() *slog.Logger {
	if g.Slog != nil {
		return g.Slog
	}
	return slog.New(slog.DiscardHandler)
}

// Wrap puts h behind the guard, under the rule of pattern; a pattern
// without a rule is refused to everyone.
func (g *Guard) Wrap(pattern string, h http.Handler) http.Handler {
	rt, ok := RouteFor(pattern)
	if !ok {
		g.slog().Error("admin: route without a rule is refused", "route", pattern)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			problem.Write(w, r, forbidden("this route has no access rule"))
		})
	}
	if g.inner == nil {
		g.inner = map[string]http.Handler{}
	}
	g.inner[pattern] = h
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { g.serve(w, r, rt, h) })
}

func forbidden(detail string) *problem.Details {
	return problem.New(http.StatusForbidden, "forbidden", "Forbidden", detail)
}

// principal finds who makes r: the operator the console's session put in
// the context, or a machine token.
func (g *Guard) principal(r *http.Request) (operator.Principal, bool) {
	if p, ok := operator.FromContext(r.Context()); ok {
		return p, true
	}
	got, ok := bearer(r)
	if !ok {
		return operator.Principal{}, false
	}
	sum := sha256.Sum256([]byte(got))
	found := -1
	for i, t := range g.Tokens { // every token compared, whatever matches
		want := sha256.Sum256([]byte(t.Token))
		if t.Token != "" && subtle.ConstantTimeCompare(sum[:], want[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return operator.Principal{}, false
	}
	t := g.Tokens[found]
	return operator.Principal{ID: "machine:" + t.Name, Kind: operator.Machine, Name: t.Name,
		Office: "automated system", Roles: t.Roles}, true
}

type approvedKey struct{}

// approved marks a request carried out on a second operator's approval.
type approved struct {
	id       string
	approver operator.Principal
}

func (g *Guard) serve(w http.ResponseWriter, r *http.Request, rt Route, h http.Handler) {
	p, ok := g.principal(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shenfen-admin"`)
		problem.Write(w, r, problem.Unauthorized("sign in as an operator, or present a machine token"))
		return
	}
	if rt.Permission != "" && !g.Policy.Allows(p.Roles, rt.Permission) {
		problem.Write(w, r, forbidden(fmt.Sprintf("your roles do not allow %s", rt.Permission)))
		return
	}
	ctx := operator.WithPrincipal(r.Context(), p)
	r = r.WithContext(ctx)
	if !rt.Personal() {
		h.ServeHTTP(w, r)
		return
	}
	ap, isApproved := ctx.Value(approvedKey{}).(approved)
	if r.Method != http.MethodGet && !isJSON(r) {
		problem.Write(w, r, unsupported())
		return
	}
	reason, err := operator.ParseReason(r.Header.Get(ReasonHeader))
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusBadRequest, "reason-required", "Reason required",
			"give the reason for this access in the "+ReasonHeader+` header: "purpose=`+
				strings.Join(operator.Purposes, "|")+`" and/or "case=NUMBER"`).WithCause(err))
		return
	}
	var body []byte
	if r.Body != nil {
		if body, err = io.ReadAll(r.Body); err != nil {
			problem.Write(w, r, problem.BadRequest("the request body could not be read").WithCause(err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	subject := g.subject(r, rt, body)
	action := string(rt.Permission) + detail(body)
	if rt.Irreversible(body) && !isApproved && g.Policy.NeedsApproval(p.Roles, rt.Permission) {
		g.request(w, r, rt, p, reason, body, subject, action)
		return
	}
	// Carry out, holding the answer until the access is recorded: no
	// citizen's data leaves unrecorded.
	rec := &buffered{header: http.Header{}, code: http.StatusOK}
	h.ServeHTTP(rec, r)
	if rec.code < 400 && subject != "" {
		a := g.access(p, subject, action, reason)
		if isApproved {
			a.Approval, a.ApprovedBy = ap.id, display(ap.approver)
		}
		if _, err := g.Log.RecordAccess(ctx, a); err != nil {
			g.slog().ErrorContext(ctx, "admin: access not recorded", "route", rt.Pattern, "operator", p.ID, "error", err.Error())
			problem.Write(w, r, problem.Internal().WithCause(err))
			return
		}
	}
	rec.flush(w)
}

func (g *Guard) access(p operator.Principal, subject, action string, reason operator.Reason) audit.Access {
	return audit.Access{Subject: subject, At: g.now(), Operator: p.ID, Kind: string(p.Kind), Name: p.Name,
		Badge: p.Badge, Office: p.Office, Action: action, Reason: reason.String()}
}

// display is how an approver is named in a record: badge, else name.
func display(p operator.Principal) string {
	if p.Badge != "" {
		return p.Badge
	}
	return p.Name
}

// detail is ":STATUS" for a status change.
func detail(body []byte) string {
	var v struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(body, &v) == nil && v.Status != "" && len(v.Status) <= 16 {
		return ":" + v.Status
	}
	return ""
}

func (g *Guard) subject(r *http.Request, rt Route, body []byte) string {
	var s string
	var err error
	switch rt.subject {
	case pathID:
		s, err = g.Subject(r.PathValue("id"))
	case bodyID:
		var v struct {
			ID string `json:"id_number"`
		}
		if err = json.Unmarshal(body, &v); err == nil {
			s, err = g.Subject(v.ID)
		}
	case pathCard:
		s, err = g.CardSubject(r.Context(), r.PathValue("card"))
	case bodyStatusRef:
		var v struct {
			URI string `json:"uri"`
			Idx *int   `json:"idx"`
		}
		if err = json.Unmarshal(body, &v); err == nil && v.Idx != nil {
			s, err = g.StatusSubject(r.Context(), v.URI, *v.Idx)
		}
	}
	if err != nil {
		return "" // the handler answers the bad or unknown reference
	}
	return s
}

// buffered holds a handler's answer until the access is recorded.
type buffered struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header         { return b.header }
func (b *buffered) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *buffered) WriteHeader(code int)        { b.code = code }

func (b *buffered) flush(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.code)
	w.Write(b.body.Bytes())
}

// handle mounts h at pattern behind g.
func handle(m Mux, g Gate, pattern string, h http.HandlerFunc) { m.Handle(pattern, g.Wrap(pattern, h)) }
