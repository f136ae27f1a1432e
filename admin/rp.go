package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/problem"
)

// RPAPI serves the relying-party registry:
//
//	POST   /admin/api/rps        register (oidc.ClientSpec JSON); 201 with the client and, once, its secret
//	GET    /admin/api/rps        every registered RP
//	GET    /admin/api/rps/{id}   one RP
//	PATCH  /admin/api/rps/{id}   change an RP (oidc.ClientUpdate JSON); 200 with the client and, if rotated, its new secret
//	DELETE /admin/api/rps/{id}   remove an RP and revoke its tokens
type RPAPI struct {
	store oidc.ClientStore
	log   *slog.Logger
	now   func() time.Time
}

// NewRPAPI makes the RP endpoints over st.
func NewRPAPI(st oidc.ClientStore, log *slog.Logger) *RPAPI {
	return &RPAPI{store: st, log: log, now: time.Now}
}

// Mount attaches the endpoints to m, each behind RequireToken(token).
func (api *RPAPI) Mount(m Mux, token string) { api.MountGate(m, TokenGate(token)) }

// MountGate attaches the endpoints to m, each behind g.
func (api *RPAPI) MountGate(m Mux, g Gate) {
	handle(m, g, "POST /admin/api/rps", api.add)
	handle(m, g, "GET /admin/api/rps", api.list)
	handle(m, g, "GET /admin/api/rps/{id}", api.get)
	handle(m, g, "PATCH /admin/api/rps/{id}", api.update)
	handle(m, g, "DELETE /admin/api/rps/{id}", api.remove)
}

// RPDoc is a registered RP as the API and the CLI show it.
type RPDoc struct {
	oidc.Client
	// Claims is the entitlement list in the registration syntax.
	Claims string `json:"claims"`
	// Secret is present only in the answer to a registration or to an
	// update that rotated it.
	Secret string `json:"client_secret,omitempty"`
}

// NewRPDoc presents c.
func NewRPDoc(c oidc.Client, secret string) RPDoc {
	return RPDoc{Client: c, Claims: oidc.FormatEntitlements(c.Entitlements), Secret: secret}
}

func (api *RPAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, oidc.ErrInvalidClient):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-rp", "Invalid relying party", err.Error()))
	case errors.Is(err, oidc.ErrConflict):
		problem.Write(w, r, problem.New(http.StatusConflict, "rp-exists", "Relying party exists", "this client_id is taken"))
	case errors.Is(err, oidc.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no relying party has this client_id"))
	default:
		api.log.ErrorContext(r.Context(), "admin rp", "route", r.Pattern, "error", err.Error())
		problem.Write(w, r, problem.Internal())
	}
}

// decodeBody reads a JSON body (at most 64 KiB, no unknown fields, one
// value) into v, answering the problem itself when it cannot.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, what string) bool {
	if !isJSON(r) {
		problem.Write(w, r, unsupported())
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10+1))
	if err != nil {
		problem.Write(w, r, problem.BadRequest("unreadable body"))
		return false
	}
	if len(body) > 64<<10 {
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request too large", "at most 64 KiB"))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		problem.Write(w, r, problem.BadRequest("body is not "+what).WithCause(err))
		return false
	}
	if dec.More() {
		problem.Write(w, r, problem.BadRequest("body is not "+what+": more than one JSON value"))
		return false
	}
	return true
}

func (api *RPAPI) add(w http.ResponseWriter, r *http.Request) {
	var spec oidc.ClientSpec
	if !decodeBody(w, r, &spec, "a relying-party registration") {
		return
	}
	c, secret, err := oidc.Register(r.Context(), api.store, spec, api.now())
	if err != nil {
		api.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/api/rps/"+c.ID)
	writeJSON(w, http.StatusCreated, NewRPDoc(c, secret))
}

func (api *RPAPI) list(w http.ResponseWriter, r *http.Request) {
	cs, err := api.store.Clients(r.Context())
	if err != nil {
		api.fail(w, r, err)
		return
	}
	out := make([]RPDoc, 0, len(cs))
	for _, c := range cs {
		out = append(out, NewRPDoc(c, ""))
	}
	writeJSON(w, http.StatusOK, map[string]any{"rps": out})
}

func (api *RPAPI) get(w http.ResponseWriter, r *http.Request) {
	c, err := api.store.Client(r.Context(), r.PathValue("id"))
	if err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRPDoc(c, ""))
}

// update changes an RP's name, redirect URIs, entitlements or keys, or
// rotates its secret. Fields left out are kept. Losing an entitlement
// revokes the RP's tokens. A running provider sees the change within its
// client cache's lifetime (2 s).
func (api *RPAPI) update(w http.ResponseWriter, r *http.Request) {
	var u oidc.ClientUpdate
	if !decodeBody(w, r, &u, "a relying-party update") {
		return
	}
	c, secret, err := oidc.Update(r.Context(), api.store, r.PathValue("id"), u)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRPDoc(c, secret))
}

func (api *RPAPI) remove(w http.ResponseWriter, r *http.Request) {
	if err := api.store.DeleteClient(r.Context(), r.PathValue("id")); err != nil {
		api.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
