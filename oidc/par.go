package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/server"
)

// requestURIPrefix starts every PAR request_uri (RFC 9126 section 2.2).
const requestURIPrefix = "urn:ietf:params:oauth:request_uri:"

const parTTL = 90

func writeOAuthError(w http.ResponseWriter, status int, e *oidc.Error) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": string(e.ErrorType), "error_description": e.Description})
}

// authenticateClient checks client_secret_basic or private_key_jwt on a
// back-channel request (PAR) and returns the client.
func (p *Provider) authenticateClient(r *http.Request) (Client, error) {
	ctx := r.Context()
	if r.PostForm.Get("client_assertion_type") == oidc.ClientAssertionTypeJWTAssertion {
		c, err := op.AuthorizePrivateJWTKey(ctx, r.PostForm.Get("client_assertion"), p.op)
		if err != nil {
			return Client{}, err
		}
		return p.client(ctx, c.GetID())
	}
	id, secret, ok := r.BasicAuth()
	if !ok {
		return Client{}, errors.New("no client authentication")
	}
	if id, err := url.QueryUnescape(id); err == nil {
		if secret, err := url.QueryUnescape(secret); err == nil {
			if err := (&storage{p: p}).AuthorizeClientIDSecret(ctx, id, secret); err != nil {
				return Client{}, err
			}
			return p.client(ctx, id)
		}
	}
	return Client{}, errors.New("bad basic credentials")
}

// par is the pushed authorization request endpoint (RFC 9126): the client
// authenticates and posts its authorization request; the answer is a
// one-time request_uri to send the browser to /authorize with.
func (p *Provider) par(w http.ResponseWriter, r *http.Request) {
	r = p.withIssuer(r)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("unreadable form"))
		return
	}
	c, err := p.authenticateClient(r)
	if err != nil {
		writeOAuthError(w, http.StatusUnauthorized, oidc.ErrInvalidClient().WithDescription("client authentication failed"))
		return
	}
	f := r.PostForm
	if id := f.Get("client_id"); id != "" && id != c.ID {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("client_id does not match the authenticated client"))
		return
	}
	if f.Has("request_uri") || f.Has("request") {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("request_uri and request are not allowed in a pushed request"))
		return
	}
	if !slices.Contains(c.RedirectURIs, f.Get("redirect_uri")) {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequestRedirectURI().WithDescription("redirect_uri is not registered"))
		return
	}
	if f.Get("code_challenge") == "" || f.Get("code_challenge_method") != "S256" {
		writeOAuthError(w, http.StatusBadRequest, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required"))
		return
	}
	params := url.Values{}
	for k, v := range f {
		if k == "client_assertion" || k == "client_assertion_type" || k == "client_secret" {
			continue
		}
		params[k] = v
	}
	params.Set("client_id", c.ID)
	id := randomID(24)
	if err := p.cfg.Store.PutPushedRequest(r.Context(), PushedRequest{
		ID: id, ClientID: c.ID, Params: params.Encode(), Expires: p.cfg.Now().Add(parTTL * 1e9),
	}); err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: store pushed request", "err", err)
		writeOAuthError(w, http.StatusInternalServerError, oidc.ErrServerError())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"request_uri": requestURIPrefix + id, "expires_in": parTTL})
}

// authorize expands a PAR request_uri (single use, same client) into the
// authorization request and hands the request to op.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	if l := p.cfg.AuthorizeLimit; l != nil {
		ok, after, err := l.Take(r.Context(), server.ClientKey(r), p.cfg.Now())
		// Refused before the request is read: the page's language comes
		// from the query's ui_locales or the browser.
		if err != nil {
			p.refuse(w, r, r.URL.Query().Get("ui_locales"), "unavailable", problem.Internal().WithCause(err))
			return
		}
		if !ok {
			p.refuse(w, r, r.URL.Query().Get("ui_locales"), "rate_limited",
				problem.TooManyRequests("too many sign-in requests from this address; retry later", after))
			return
		}
	}
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, "", http.StatusBadRequest, "bad_form")
		return
	}
	// The request op stores is bound to this browser (CreateAuthRequest).
	r = r.WithContext(context.WithValue(r.Context(), browserSlotKey{}, browserSlot{w}))
	ui := r.Form.Get("ui_locales")
	ru := r.Form.Get("request_uri")
	if ru == "" {
		if c := r.Form.Get("claims"); c != "" {
			r = r.WithContext(context.WithValue(r.Context(), claimsParamKey{}, c))
		}
		// An unknown client has no redirect URI to send the error to: the
		// citizen sees it here.
		if _, err := p.client(r.Context(), r.Form.Get("client_id")); errors.Is(err, ErrNotFound) {
			p.errorPage(w, r, ui, http.StatusBadRequest, "client_unknown")
			return
		}
		p.serveOP(w, r, ui)
		return
	}
	fail := func(msg string) {
		// Without a trusted redirect_uri the error is shown, never redirected.
		p.errorPageDetail(w, r, ui, http.StatusBadRequest, "invalid_request_uri", msg)
	}
	if !strings.HasPrefix(ru, requestURIPrefix) {
		fail("not a pushed request")
		return
	}
	pr, err := p.cfg.Store.TakePushedRequest(r.Context(), strings.TrimPrefix(ru, requestURIPrefix))
	if err != nil {
		fail("unknown, used or expired request_uri")
		return
	}
	if !pr.Expires.After(p.cfg.Now()) {
		fail("expired request_uri")
		return
	}
	if r.Form.Get("client_id") != pr.ClientID {
		fail("client_id does not match the pushed request")
		return
	}
	ctx := r.Context()
	if q, err := url.ParseQuery(pr.Params); err == nil && q.Get("claims") != "" {
		ctx = context.WithValue(ctx, claimsParamKey{}, q.Get("claims"))
	}
	r2 := r.Clone(ctx)
	r2.Method = http.MethodGet
	r2.Body = http.NoBody
	r2.ContentLength = 0
	r2.Header.Del("Content-Type")
	r2.URL.RawQuery = pr.Params
	r2.Form, r2.PostForm = nil, nil
	if q, err := url.ParseQuery(pr.Params); err == nil && q.Get("ui_locales") != "" {
		ui = q.Get("ui_locales")
	}
	p.serveOP(w, r2, ui)
}

// serveOP hands an authorization request to op, turning the plain-text
// errors op shows when it cannot redirect (bad redirect_uri, missing
// parameters) into the styled error page with op's description as detail.
func (p *Provider) serveOP(w http.ResponseWriter, r *http.Request, ui string) {
	bw := &pageErrors{ResponseWriter: w}
	http.StripPrefix(p.path, p.op).ServeHTTP(bw, r)
	if bw.status != 0 {
		p.errorPageDetail(w, r, ui, bw.status, "invalid_request", strings.TrimSpace(bw.body.String()))
	}
}
