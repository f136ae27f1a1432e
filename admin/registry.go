package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/registry"
)

// Registry is what the registry endpoints need (*registry.Service).
type Registry interface {
	Put(ctx context.Context, r registry.Record) (registry.Outcome, error)
	Get(ctx context.Context, id registry.IDNumber) (registry.Record, error)
	SetStatus(ctx context.Context, id registry.IDNumber, s registry.Status) error
}

// RegistryAPI serves the registry endpoints:
//
//	POST /admin/api/registry               add or update a record (JSON, the import keys)
//	GET  /admin/api/registry/{id}          the record (?portrait=1 adds the image)
//	POST /admin/api/registry/{id}/status   {"status": "valid|cancelled|deceased"}
type RegistryAPI struct {
	reg Registry
	log *slog.Logger
	now func() time.Time
}

// NewRegistryAPI makes the registry endpoints over reg.
func NewRegistryAPI(reg Registry, log *slog.Logger) *RegistryAPI {
	return &RegistryAPI{reg: reg, log: log, now: time.Now}
}

// Mount attaches the endpoints to m, each behind RequireToken(token).
func (api *RegistryAPI) Mount(m Mux, token string) { api.MountGate(m, TokenGate(token)) }

// MountGate attaches the endpoints to m, each behind g.
func (api *RegistryAPI) MountGate(m Mux, g Gate) {
	handle(m, g, "POST /admin/api/registry", api.put)
	handle(m, g, "GET /admin/api/registry/{id}", api.get)
	handle(m, g, "POST /admin/api/registry/{id}/status", api.status)
}

// RecordDoc is a record as the admin API (and the CLI) shows it.
type RecordDoc struct {
	IDNumber     string `json:"id_number"`
	Name         string `json:"name"`
	Sex          string `json:"sex"`
	BirthDate    string `json:"birth_date"`
	Ethnicity    string `json:"ethnicity,omitempty"`
	Address      string `json:"address"`
	Authority    string `json:"authority"`
	ValidFrom    string `json:"valid_from"`
	ValidUntil   string `json:"valid_until"` // "长期" for a long-term card
	Status       string `json:"status"`
	PortraitType string `json:"portrait_type,omitempty"`
	PortraitSize int    `json:"portrait_bytes,omitempty"`
	// Portrait is "base64:DATA", only when asked for.
	Portrait    string `json:"portrait,omitempty"`
	HasTemplate bool   `json:"face_template,omitempty"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

// NewRecordDoc shows r, with the portrait image when withPortrait.
func NewRecordDoc(r registry.Record, withPortrait bool) RecordDoc {
	until := "长期"
	if !r.ValidUntil.IsZero() {
		until = r.ValidUntil.Format(time.DateOnly)
	}
	d := RecordDoc{
		IDNumber: string(r.IDNumber), Name: r.Name, Sex: string(r.Sex), BirthDate: r.BirthDate.Format(time.DateOnly),
		Ethnicity: r.Ethnicity, Address: r.Address, Authority: r.Authority,
		ValidFrom: r.ValidFrom.Format(time.DateOnly), ValidUntil: until, Status: string(r.Status),
		PortraitType: r.PortraitType, PortraitSize: len(r.Portrait), HasTemplate: r.FaceTemplate != nil,
		CreatedAt: r.CreatedAt.Format(time.RFC3339), UpdatedAt: r.UpdatedAt.Format(time.RFC3339),
	}
	if withPortrait && r.Portrait != nil {
		d.Portrait = "base64:" + base64.StdEncoding.EncodeToString(r.Portrait)
	}
	return d
}

// Problem types of the registry endpoints.
func invalidID(detail string) *problem.Details {
	return problem.New(http.StatusBadRequest, "invalid-id-number", "Invalid ID number", detail)
}

func invalidRecord(e *registry.InvalidError) *problem.Details {
	d := problem.New(http.StatusUnprocessableEntity, "invalid-record", "Invalid record", "the record has invalid fields")
	for _, f := range e.Fields {
		d.Errors = append(d.Errors, f.Error())
	}
	return d
}

func unsupported() *problem.Details {
	return problem.New(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type", "send application/json")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// fail answers an error from the registry: validation and not-found errors
// as their problems, anything else as an internal error (logged without PII).
func (api *RegistryAPI) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *registry.InvalidError
	switch {
	case errors.As(err, &inv):
		problem.Write(w, r, invalidRecord(inv))
	case errors.Is(err, registry.ErrNotFound):
		problem.Write(w, r, problem.NotFound("no registry record has this ID number"))
	case errors.Is(err, registry.ErrInvalidRecord):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-record", "Invalid record", "invalid status"))
	default:
		api.log.ErrorContext(r.Context(), "admin registry", "route", r.Pattern, "error", err.Error())
		problem.Write(w, r, problem.Internal())
	}
}

func (api *RegistryAPI) pathID(w http.ResponseWriter, r *http.Request) (registry.IDNumber, bool) {
	id, err := registry.ParseIDNumber(r.PathValue("id"), api.now())
	if err != nil {
		problem.Write(w, r, invalidID(err.Error()))
		return "", false
	}
	return id, true
}

func (api *RegistryAPI) put(w http.ResponseWriter, r *http.Request) {
	if !isJSON(r) {
		problem.Write(w, r, unsupported())
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		problem.Write(w, r, problem.New(http.StatusRequestEntityTooLarge, "too-large", "Request too large", "the record is too large"))
		return
	}
	rec, err := registry.ParseJSONRecord(body)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	out, err := api.reg.Put(r.Context(), rec)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	id, _ := registry.ParseIDNumber(string(rec.IDNumber), api.now())
	stored, err := api.reg.Get(r.Context(), id)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if out == registry.Inserted {
		status = http.StatusCreated
		w.Header().Set("Location", "/admin/api/registry/"+string(id))
	}
	writeJSON(w, status, map[string]any{"outcome": out, "record": NewRecordDoc(stored, false)})
}

func (api *RegistryAPI) get(w http.ResponseWriter, r *http.Request) {
	id, ok := api.pathID(w, r)
	if !ok {
		return
	}
	rec, err := api.reg.Get(r.Context(), id)
	if err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewRecordDoc(rec, r.URL.Query().Get("portrait") == "1"))
}

func (api *RegistryAPI) status(w http.ResponseWriter, r *http.Request) {
	id, ok := api.pathID(w, r)
	if !ok {
		return
	}
	if !isJSON(r) {
		problem.Write(w, r, unsupported())
		return
	}
	var body struct {
		Status string `json:"status"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4096))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		problem.Write(w, r, problem.BadRequest("want {\"status\": \"valid|cancelled|deceased\"}"))
		return
	}
	st, err := registry.ParseStatus(body.Status)
	if err != nil || body.Status == "" {
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-record", "Invalid record",
			"status must be valid, cancelled or deceased"))
		return
	}
	if err := api.reg.SetStatus(r.Context(), id, st); err != nil {
		api.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id_number": string(id), "status": string(st)})
}
