package admin

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/verifier"
)

// VerifierAPI serves the verifier registry (in-person desks and online
// verifiers, package verifier):
//
//	POST   /admin/api/verifiers        register (verifier.Spec JSON); 201 with the registration, its
//	                                   certificate chain and, for a desk, once, its desk token
//	GET    /admin/api/verifiers        every registered verifier
//	GET    /admin/api/verifiers/{id}   one verifier
//	PUT    /admin/api/verifiers/{id}   change names, purpose, logo, entitlements (verifier.Spec JSON
//	                                   with those fields); the certificate stays
//	POST   /admin/api/verifiers/{id}/certificate
//	                                   renew the certificate (before it expires): over the desk's
//	                                   hosted key, or an online verifier's current key or {"jwk": new}
//	DELETE /admin/api/verifiers/{id}   remove (retire) a verifier: wallets refuse its requests from then on
//
// The same operators who manage relying parties manage verifiers (rps.read,
// rps.manage).
type VerifierAPI struct {
	reg *verifier.Registry
	log *slog.Logger
}

// NewVerifierAPI makes the verifier endpoints over reg.
func NewVerifierAPI(reg *verifier.Registry, log *slog.Logger) *VerifierAPI {
	return &VerifierAPI{reg: reg, log: log}
}

// Mount attaches the endpoints to m, each behind RequireToken(token).
func (api *VerifierAPI) Mount(m Mux, token string) { api.MountGate(m, TokenGate(token)) }

// MountGate attaches the endpoints to m, each behind g.
func (api *VerifierAPI) MountGate(m Mux, g Gate) {
	handle(m, g, "POST /admin/api/verifiers", api.add)
	handle(m, g, "GET /admin/api/verifiers", api.list)
	handle(m, g, "GET /admin/api/verifiers/{id}", api.get)
	handle(m, g, "PUT /admin/api/verifiers/{id}", api.update)
	handle(m, g, "POST /admin/api/verifiers/{id}/certificate", api.renew)
	handle(m, g, "DELETE /admin/api/verifiers/{id}", api.remove)
}

// VerifierDoc is a registered verifier as the API shows it.
type VerifierDoc struct {
	verifier.Public
	// Claims is the entitlement list in the registration syntax.
	ClaimList string `json:"claim_list"`
	// X5C is the certificate chain, leaf first, root last (base64 DER):
	// an online verifier puts the leaf in its request objects' x5c.
	X5C [][]byte `json:"x5c"`
	// DeskToken is present only in the answer to a desk's registration:
	// the verifier page signs in with it (shown once).
	DeskToken string `json:"desk_token,omitempty"`
}

func (api *VerifierAPI) doc(v verifier.Verifier, token string) VerifierDoc {
	return VerifierDoc{Public: v.Public(), ClaimList: verifier.FormatClaims(v.Claims),
		X5C: [][]byte{v.Cert, api.reg.CA.Root().Raw}, DeskToken: token}
}

func (api *VerifierAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, verifier.ErrInvalid):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-verifier", "Invalid verifier", err.Error()))
	case errors.Is(err, verifier.ErrConflict):
		problem.Write(w, r, problem.New(http.StatusConflict, "verifier-exists", "Verifier exists", "this id is taken"))
	case errors.Is(err, verifier.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no verifier has this id"))
	case errors.Is(err, verifier.ErrBuiltIn):
		problem.Write(w, r, problem.New(http.StatusConflict, "verifier-builtin", "Built-in verifier", "the OpenID Provider's sign-in is kept by the provider"))
	default:
		api.log.ErrorContext(r.Context(), "admin verifier", "route", r.Pattern, "error", err.Error())
		problem.Write(w, r, problem.Internal())
	}
}

func (api *VerifierAPI) add(w http.ResponseWriter, r *http.Request) {
	var spec verifier.Spec
	if !decodeBody(w, r, &spec, "a verifier registration") {
		return
	}
	v, token, err := api.reg.Register(r.Context(), spec)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/admin/api/verifiers/"+v.ID)
	writeJSON(w, http.StatusCreated, api.doc(v, token))
}

func (api *VerifierAPI) list(w http.ResponseWriter, r *http.Request) {
	vs, err := api.reg.Store.Verifiers(r.Context())
	if err != nil {
		api.fail(w, r, err)
		return
	}
	out := make([]VerifierDoc, 0, len(vs))
	for _, v := range vs {
		out = append(out, api.doc(v, ""))
	}
	writeJSON(w, http.StatusOK, map[string]any{"verifiers": out})
}

func (api *VerifierAPI) get(w http.ResponseWriter, r *http.Request) {
	v, err := api.reg.Store.Verifier(r.Context(), r.PathValue("id"))
	if err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.doc(v, ""))
}

func (api *VerifierAPI) update(w http.ResponseWriter, r *http.Request) {
	var spec verifier.Spec
	if !decodeBody(w, r, &spec, "the verifier's names, purpose, logo and claims") {
		return
	}
	v, err := api.reg.Update(r.Context(), r.PathValue("id"), spec)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, api.doc(v, ""))
}

func (api *VerifierAPI) renew(w http.ResponseWriter, r *http.Request) {
	var body struct {
		JWK json.RawMessage `json:"jwk,omitempty"`
	}
	if r.ContentLength != 0 && !decodeBody(w, r, &body, `{} or {"jwk": the online verifier's new public key}`) {
		return
	}
	v, err := api.reg.Renew(r.Context(), r.PathValue("id"), body.JWK)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	api.log.InfoContext(r.Context(), "verifier certificate renewed", "verifier", v.ID, "cert_hash", v.CertHash)
	writeJSON(w, http.StatusOK, api.doc(v, ""))
}

func (api *VerifierAPI) remove(w http.ResponseWriter, r *http.Request) {
	v, err := api.reg.Store.Verifier(r.Context(), r.PathValue("id"))
	if err == nil && v.Kind == verifier.SignIn {
		problem.Write(w, r, problem.New(http.StatusConflict, "verifier-builtin", "Built-in verifier", "the OpenID Provider's sign-in cannot be removed"))
		return
	}
	if err := api.reg.Store.DeleteVerifier(r.Context(), r.PathValue("id")); err != nil {
		api.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
