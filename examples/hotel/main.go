// Command hotel is a small hotel check-in site that signs guests in with
// their shenfen virtual ID card through OpenID Connect. It uses only the
// ordinary libraries any Go relying party would: github.com/coreos/go-oidc
// (discovery, ID token checks) and golang.org/x/oauth2 (code flow, PKCE).
//
// Register it with the authority, then run it:
//
//	shenfen rp add --id hotel --name-zh 大酒店 --name-en "Grand Hotel" \
//	    --redirect http://127.0.0.1:8090/callback --claims name,id_number,picture?
//	HOTEL_ISSUER=http://127.0.0.1:8080/oidc HOTEL_CLIENT_ID=hotel HOTEL_CLIENT_SECRET=... go run ./examples/hotel
//
// The hotel is entitled by law to the guest's name and ID number, and may ask
// for the portrait (the guest can decline it). It receives a pairwise sub:
// the same guest has another identifier at every other site.
package main

import (
	"context"
	"crypto/rand"
	"html/template"
	"log"
	"net/http"
	"os"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Hotel is the check-in site.
type Hotel struct {
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier

	mu      sync.Mutex
	pending map[string]attempt // by state; in memory for the example: a real site keeps it in its session store, with expiry
}

// attempt is a login in progress.
type attempt struct{ nonce, pkce string }

// Guest is what the hotel learns at check-in.
type Guest struct {
	Subject  string `json:"sub"`
	Name     string `json:"name"`
	IDNumber string `json:"id_number"`
	Picture  string `json:"picture"` // a data: URL, if the guest shared it
	ACR      string `json:"acr"`
}

// New discovers the provider and returns the site.
func New(ctx context.Context, issuer, clientID, secret, redirect string) (*Hotel, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, err
	}
	return &Hotel{
		oauth: oauth2.Config{
			ClientID: clientID, ClientSecret: secret, RedirectURL: redirect, Endpoint: provider.Endpoint(),
			Scopes: []string{oidc.ScopeOpenID, "profile", "id_number", "picture"},
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID, SupportedSigningAlgs: []string{"ES256"}}),
		pending:  map[string]attempt{},
	}, nil
}

// Handler serves the site.
func (h *Hotel) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { page.Execute(w, nil) })
	mux.HandleFunc("GET /login", h.login)
	mux.HandleFunc("GET /callback", h.callback)
	return mux
}

// login starts a sign-in: fresh state, nonce and PKCE verifier, then off to
// the identity provider.
func (h *Hotel) login(w http.ResponseWriter, r *http.Request) {
	state, a := rand.Text(), attempt{nonce: rand.Text(), pkce: oauth2.GenerateVerifier()}
	h.mu.Lock()
	h.pending[state] = a
	h.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "checkin", Value: state, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: 600})
	http.Redirect(w, r, h.oauth.AuthCodeURL(state, oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.pkce)), http.StatusFound)
}

// callback finishes it: the state must be this browser's, the code is
// exchanged with the PKCE verifier, the ID token checked (signature,
// issuer, audience, expiry, nonce).
func (h *Hotel) callback(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie("checkin")
	state := r.URL.Query().Get("state")
	h.mu.Lock()
	a, ok := h.pending[state]
	delete(h.pending, state)
	h.mu.Unlock()
	if err != nil || !ok || c.Value != state {
		http.Error(w, "check-in expired; start again", http.StatusBadRequest)
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		http.Error(w, "check-in not completed: "+e, http.StatusForbidden)
		return
	}
	tok, err := h.oauth.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(a.pkce))
	if err != nil {
		http.Error(w, "code exchange failed", http.StatusBadGateway)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := h.verifier.Verify(r.Context(), raw)
	if err != nil || idt.Nonce != a.nonce {
		http.Error(w, "invalid ID token", http.StatusBadGateway)
		return
	}
	var g Guest
	if err := idt.Claims(&g); err != nil {
		http.Error(w, "unreadable ID token", http.StatusBadGateway)
		return
	}
	page.Execute(w, g)
}

var page = template.Must(template.New("page").Parse(`<!doctype html><html lang="en"><meta charset="utf-8"><title>Grand Hotel check-in</title>
<h1>Grand Hotel: online check-in</h1>
{{if .}}<p>Welcome, {{.Name}}. Your room is ready.</p>
<dl><dt>ID number</dt><dd>{{.IDNumber}}</dd><dt>Assurance</dt><dd>{{.ACR}}</dd><dt>Guest reference</dt><dd>{{.Subject}}</dd></dl>
{{with .Picture}}<img alt="portrait" width="160" src="{{.}}">{{else}}<p>(portrait not shared)</p>{{end}}
{{else}}<p><a href="/login">Check in with your virtual ID</a></p>{{end}}</html>`))

func main() {
	addr := env("HOTEL_ADDR", "127.0.0.1:8090")
	h, err := New(context.Background(), env("HOTEL_ISSUER", "http://127.0.0.1:8080/oidc"), env("HOTEL_CLIENT_ID", "hotel"),
		os.Getenv("HOTEL_CLIENT_SECRET"), "http://"+addr+"/callback")
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("hotel check-in on http://%s", addr)
	log.Fatal(http.ListenAndServe(addr, h.Handler()))
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
