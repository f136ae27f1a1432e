package admin

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/problem"
)

// pendingRequest is a four-eyes request as sealed at rest.
type pendingRequest struct {
	Pattern string             `json:"pattern"`
	Method  string             `json:"method"`
	Path    string             `json:"path"`
	Values  map[string]string  `json:"values,omitempty"`
	Body    []byte             `json:"body,omitempty"`
	Reason  operator.Reason    `json:"reason"`
	By      operator.Principal `json:"by"`
	Subject string             `json:"subject"`
	Action  string             `json:"action"`
}

func approvalAD(id string) []byte { return []byte("operator/approval " + id) }

// request stores an irreversible change for a second operator's approval
// and records the request in the citizen's history.
func (g *Guard) request(w http.ResponseWriter, r *http.Request, rt Route, p operator.Principal,
	reason operator.Reason, body []byte, subject, action string) {
	var b [12]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	pr := pendingRequest{Pattern: rt.Pattern, Method: r.Method, Path: r.URL.Path, Values: map[string]string{},
		Body: body, Reason: reason, By: p, Subject: subject, Action: action}
	for _, name := range []string{"id", "card"} {
		if v := r.PathValue(name); v != "" {
			pr.Values[name] = v
		}
	}
	plain, _ := json.Marshal(pr)
	now := g.now()
	ctx := r.Context()
	if err := g.Approvals.PutApproval(ctx, operator.Approval{ID: id, Permission: rt.Permission, Requester: p.ID,
		State: "pending", CreatedAt: now, Sealed: g.Sealer.Seal(plain, approvalAD(id))}); err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	if subject != "" {
		a := g.access(p, subject, action+":requested", reason)
		a.Approval = id
		if _, err := g.Log.RecordAccess(ctx, a); err != nil {
			problem.Write(w, r, problem.Internal().WithCause(err))
			return
		}
	}
	w.Header().Set("Location", "/admin/api/approvals/"+id)
	writeJSON(w, http.StatusAccepted, map[string]any{"approval": id, "state": "pending",
		"detail": "this change needs a second operator's approval"})
}

// Mount attaches the guard's own endpoints: the operator list, adding an
// operator, the pending four-eyes requests and their decisions, and
// whoami.
//
//	GET  /admin/api/operators
//	POST /admin/api/operators                      {"id","name","badge","office","roles"}; 201 with the secret, once
//	GET  /admin/api/approvals
//	POST /admin/api/approvals/{approval}/approve
//	POST /admin/api/approvals/{approval}/reject
//	GET  /admin/api/whoami
func (g *Guard) Mount(m Mux) {
	handle(m, g, "GET /admin/api/operators", g.listOperators)
	handle(m, g, "POST /admin/api/operators", g.addOperator)
	handle(m, g, "GET /admin/api/approvals", g.listApprovals)
	handle(m, g, "POST /admin/api/approvals/{approval}/approve", g.approve)
	handle(m, g, "POST /admin/api/approvals/{approval}/reject", g.reject)
	handle(m, g, "GET /admin/api/whoami", g.whoami)
}

// OperatorDoc is an operator as the API shows it.
type OperatorDoc struct {
	ID       string          `json:"id"`
	Name     string          `json:"name"`
	Badge    string          `json:"badge,omitempty"`
	Office   string          `json:"office"`
	Roles    []operator.Role `json:"roles"`
	Disabled bool            `json:"disabled,omitempty"`
	Secret   string          `json:"secret,omitempty"`
}

func (g *Guard) whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := operator.FromContext(r.Context())
	var perms []operator.Permission
	for perm := range g.Policy.Grants {
		if g.Policy.Allows(p.Roles, perm) {
			perms = append(perms, perm)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"principal": p, "permissions": perms, "purposes": operator.Purposes})
}

func (g *Guard) listOperators(w http.ResponseWriter, r *http.Request) {
	ops, err := g.Operators.ListOperators(r.Context())
	if err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	out := make([]OperatorDoc, 0, len(ops))
	for _, o := range ops {
		out = append(out, OperatorDoc{ID: o.ID, Name: o.Name, Badge: o.Badge, Office: o.Office, Roles: o.Roles, Disabled: o.Disabled})
	}
	writeJSON(w, http.StatusOK, map[string]any{"operators": out})
}

func (g *Guard) addOperator(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		problem.Write(w, r, unsupported())
		return
	}
	var req struct {
		ID     string   `json:"id"`
		Name   string   `json:"name"`
		Badge  string   `json:"badge"`
		Office string   `json:"office"`
		Roles  []string `json:"roles"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		problem.Write(w, r, problem.BadRequest(`want {"id","name","badge","office","roles": [...]}`).WithCause(err))
		return
	}
	roles, err := operator.ParseRoles(strings.Join(req.Roles, ","))
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-operator", "Invalid operator", err.Error()))
		return
	}
	secret := operator.NewSecret()
	hash, err := operator.HashSecret(secret)
	if err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	op := operator.Operator{ID: req.ID, Name: req.Name, Badge: req.Badge, Office: req.Office, Roles: roles,
		SecretHash: hash, CreatedAt: g.now()}
	switch err := g.Operators.AddOperator(r.Context(), op); {
	case errors.Is(err, operator.ErrInvalid):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-operator", "Invalid operator", err.Error()))
		return
	case errors.Is(err, operator.ErrConflict):
		problem.Write(w, r, problem.New(http.StatusConflict, "operator-exists", "Operator exists", "an operator has this id"))
		return
	case err != nil:
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	by, _ := operator.FromContext(r.Context())
	g.slog().InfoContext(r.Context(), "admin: operator added", "operator", op.ID, "roles", operator.FormatRoles(roles), "by", by.ID)
	writeJSON(w, http.StatusCreated, OperatorDoc{ID: op.ID, Name: op.Name, Badge: op.Badge, Office: op.Office, Roles: roles, Secret: secret})
}

// ApprovalDoc is a pending request as the API shows it to a possible approver.
type ApprovalDoc struct {
	ID         string              `json:"id"`
	Permission operator.Permission `json:"permission"`
	Action     string              `json:"action"`
	Method     string              `json:"method"`
	Path       string              `json:"path"`
	Reason     string              `json:"reason"`
	Requester  string              `json:"requester"`
	Office     string              `json:"office"`
	CreatedAt  string              `json:"created_at"`
}

func (g *Guard) open(a operator.Approval) (pendingRequest, error) {
	var pr pendingRequest
	plain, err := g.Sealer.Open(a.Sealed, approvalAD(a.ID))
	if err != nil {
		return pr, fmt.Errorf("admin: open approval %s: %w", a.ID, err)
	}
	return pr, json.Unmarshal(plain, &pr)
}

// ApprovalTTL is how long a four-eyes request waits for its second
// operator: an older one can no longer be approved (the first operator asks
// again, with a fresh reason).
const ApprovalTTL = 72 * time.Hour

func (g *Guard) expired(a operator.Approval) bool { return g.now().Sub(a.CreatedAt) > ApprovalTTL }

func (g *Guard) listApprovals(w http.ResponseWriter, r *http.Request) {
	p, _ := operator.FromContext(r.Context())
	list, err := g.Approvals.PendingApprovals(r.Context(), 200)
	if err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	out := []ApprovalDoc{}
	for _, a := range list {
		if !g.Policy.Allows(p.Roles, a.Permission) || g.expired(a) { // only what the reader could approve
			continue
		}
		pr, err := g.open(a)
		if err != nil {
			problem.Write(w, r, problem.Internal().WithCause(err))
			return
		}
		out = append(out, ApprovalDoc{ID: a.ID, Permission: a.Permission, Action: pr.Action, Method: pr.Method,
			Path: pr.Path, Reason: pr.Reason.String(), Requester: display(pr.By) + " (" + pr.By.ID + ")",
			Office: pr.By.Office, CreatedAt: a.CreatedAt.Format(time.RFC3339)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": out})
}

// decidable loads a pending request that p may decide: p holds its
// permission, is a person, and is not its requester.
func (g *Guard) decidable(w http.ResponseWriter, r *http.Request) (operator.Approval, operator.Principal, bool) {
	p, _ := operator.FromContext(r.Context())
	a, err := g.Approvals.Approval(r.Context(), r.PathValue("approval"))
	switch {
	case errors.Is(err, operator.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no such request"))
	case err != nil:
		problem.Write(w, r, problem.Internal().WithCause(err))
	case a.State != "pending":
		problem.Write(w, r, problem.New(http.StatusConflict, "decided", "Already decided", "this request was "+a.State))
	case g.expired(a):
		problem.Write(w, r, problem.New(http.StatusConflict, "expired", "Request expired",
			"this request waited longer than 72 hours; the first operator must ask again"))
	case p.Kind != operator.Person:
		problem.Write(w, r, forbidden("only an operator decides a four-eyes request"))
	case a.Requester == p.ID:
		problem.Write(w, r, forbidden("a second operator must decide your own request"))
	case !g.Policy.Allows(p.Roles, a.Permission):
		problem.Write(w, r, forbidden(fmt.Sprintf("your roles do not allow %s", a.Permission)))
	default:
		return a, p, true
	}
	return a, p, false
}

func (g *Guard) reject(w http.ResponseWriter, r *http.Request) {
	a, p, ok := g.decidable(w, r)
	if !ok {
		return
	}
	if err := g.Approvals.DecideApproval(r.Context(), a.ID, "rejected", p.ID, g.now()); err != nil {
		problem.Write(w, r, problem.New(http.StatusConflict, "decided", "Already decided", "this request was decided").WithCause(err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"approval": a.ID, "state": "rejected"})
}

// approve decides the request and carries it out as its requester asked
// it, recorded with both operators.
func (g *Guard) approve(w http.ResponseWriter, r *http.Request) {
	a, p, ok := g.decidable(w, r)
	if !ok {
		return
	}
	pr, err := g.open(a)
	if err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	h := g.inner[pr.Pattern]
	rt, ok := RouteFor(pr.Pattern)
	if h == nil || !ok {
		problem.Write(w, r, problem.Internal().WithCause(fmt.Errorf("admin: approval %s for unmounted route %q", a.ID, pr.Pattern)))
		return
	}
	if err := g.Approvals.DecideApproval(r.Context(), a.ID, "approved", p.ID, g.now()); err != nil {
		problem.Write(w, r, problem.New(http.StatusConflict, "decided", "Already decided", "this request was decided").WithCause(err))
		return
	}
	ctx := context.WithValue(operator.WithPrincipal(r.Context(), pr.By), approvedKey{}, approved{id: a.ID, approver: p})
	r2, err := http.NewRequestWithContext(ctx, pr.Method, pr.Path, bytes.NewReader(pr.Body))
	if err != nil {
		problem.Write(w, r, problem.Internal().WithCause(err))
		return
	}
	for k, v := range pr.Values {
		r2.SetPathValue(k, v)
	}
	r2.Pattern = pr.Pattern
	r2.Header.Set("Content-Type", "application/json")
	r2.Header.Set(ReasonHeader, pr.Reason.String())
	r2.Header.Set("Content-Length", strconv.Itoa(len(pr.Body)))
	w.Header().Set("Shenfen-Approval", a.ID)
	g.serve(w, r2, rt, h)
}
