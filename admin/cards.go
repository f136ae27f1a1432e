package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/registry"
)

// Cards is the card lifecycle as the card endpoints need it
// (*proofing.Cards).
type Cards interface {
	CardsOf(ctx context.Context, id registry.IDNumber) ([]proofing.CardInfo, error)
	SetCardStatus(ctx context.Context, cardID, next, by string) (string, error)
}

// CardsAPI serves the authority's card endpoints, by which an operator
// finds a citizen's cards from the ID number and suspends, revokes or
// reinstates one (after an identity check at a counter):
//
//	GET  /admin/api/registry/{id}/cards   {"id_number", "cards": [CardDoc...]}
//	POST /admin/api/cards/{card}/status   {"status": "suspended|revoked|valid"}
//
// Changes go through the status service, which logs each in the
// transparency log, and the card lifecycle adds who asked ("authority").
type CardsAPI struct {
	cards Cards
	log   *slog.Logger
	now   func() time.Time
}

// NewCardsAPI makes the card endpoints over cards.
func NewCardsAPI(cards Cards, log *slog.Logger) *CardsAPI {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &CardsAPI{cards: cards, log: log, now: time.Now}
}

// Mount attaches the endpoints to m, each behind RequireToken(token).
func (api *CardsAPI) Mount(m Mux, token string) { api.MountGate(m, TokenGate(token)) }

// MountGate attaches the endpoints to m, each behind g.
func (api *CardsAPI) MountGate(m Mux, g Gate) {
	handle(m, g, "GET /admin/api/registry/{id}/cards", api.list)
	handle(m, g, "POST /admin/api/cards/{card}/status", api.status)
}

// CardDoc is a card as the admin API shows it. The device is the RFC 7638
// thumbprint of the card's device key.
type CardDoc struct {
	ID          string `json:"id"`
	State       string `json:"state"`
	Status      string `json:"status"`
	IssuedAt    string `json:"issued_at"`
	Device      string `json:"device"`
	StatusURI   string `json:"status_uri"`
	StatusIndex int    `json:"status_idx"`
}

func (api *CardsAPI) list(w http.ResponseWriter, r *http.Request) {
	id, err := registry.ParseIDNumber(r.PathValue("id"), api.now())
	if err != nil {
		problem.Write(w, r, invalidID(err.Error()))
		return
	}
	cards, err := api.cards.CardsOf(r.Context(), id)
	if err != nil {
		api.log.ErrorContext(r.Context(), "admin cards", "route", r.Pattern, "error", err.Error())
		problem.Write(w, r, problem.Internal())
		return
	}
	out := make([]CardDoc, 0, len(cards))
	for _, c := range cards {
		out = append(out, CardDoc{ID: c.ID, State: string(c.State), Status: c.Status,
			IssuedAt: c.CreatedAt.UTC().Format(time.RFC3339), Device: c.DeviceThumb,
			StatusURI: c.StatusURI, StatusIndex: c.StatusIndex})
	}
	writeJSON(w, http.StatusOK, map[string]any{"id_number": string(id), "cards": out})
}

func (api *CardsAPI) status(w http.ResponseWriter, r *http.Request) {
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
		problem.Write(w, r, problem.BadRequest(`want {"status": "suspended|revoked|valid"}`))
		return
	}
	next := body.Status
	if next == "invalid" {
		next = proofing.StatusRevoked
	}
	card := r.PathValue("card")
	old, err := api.cards.SetCardStatus(r.Context(), card, next, proofing.ByAuthority)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"card": card, "previous": old, "status": next})
	case errors.Is(err, proofing.ErrBadRequest):
		problem.Write(w, r, problem.New(http.StatusUnprocessableEntity, "invalid-status", "Invalid status",
			"status must be suspended, revoked or valid"))
	case errors.Is(err, proofing.ErrNotFound):
		problem.Write(w, r, problem.New(http.StatusNotFound, "card-not-found", "No such card", "no card has this id"))
	case errors.Is(err, proofing.ErrFinal):
		problem.Write(w, r, problem.New(http.StatusConflict, "card-revoked", "Card revoked",
			"the card is revoked; revocation cannot be undone (the citizen enrolls again)"))
	default:
		api.log.ErrorContext(r.Context(), "admin cards", "route", r.Pattern, "error", err.Error())
		problem.Write(w, r, problem.Internal())
	}
}
