package oidc

import (
	"bytes"
	"crypto"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/verifier"
)

//go:embed assets
var assets embed.FS

var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

func serveAsset(name, ct string) http.HandlerFunc {
	b, err := assets.ReadFile("assets/" + name)
	if err != nil {
		panic(err)
	}
	c := newCached(b, ct)
	return c.serve
}

var serveJS = serveAsset("login.js", "text/javascript; charset=utf-8")
var serveCSS = serveAsset("oidc.css", "text/css; charset=utf-8")

const maxPresentation = 512 << 10

func (p *Provider) page(w http.ResponseWriter, r *http.Request, uiLocales string, status int, name string, data map[string]any, csp string) {
	lang := pageLang(uiLocales, r)
	data["Base"] = p.path
	data["Lang"] = langTag[lang]
	data["T"] = text[lang]
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		p.cfg.Log.Error("oidc: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", langTag[lang])
	h.Add("Vary", "Accept-Language")
	h.Set("Cache-Control", "no-store")
	if csp != "" {
		h.Set("Content-Security-Policy", csp)
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage shows a styled error in the page language with its stable
// code (a key of text, prefixed "err_"), keeping the HTTP status. detail,
// if any, is a technical English description shown below it.
func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, uiLocales string, status int, code string) {
	p.errorPageDetail(w, r, uiLocales, status, code, "")
}

func (p *Provider) errorPageDetail(w http.ResponseWriter, r *http.Request, uiLocales string, status int, code, detail string) {
	lang := pageLang(uiLocales, r)
	p.page(w, r, uiLocales, status, "error.html", map[string]any{
		"Code": code, "Message": text[lang]["err_"+code], "Detail": detail,
	}, pageCSP)
}

const pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func cookieName(id string) string { return "sfo_" + id }

// bindingCookie carries the secret that binds login id to a browser.
func (p *Provider) bindingCookie(id, secret string) *http.Cookie {
	return &http.Cookie{Name: cookieName(id), Value: secret, Path: p.path + "/",
		HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode, MaxAge: int(p.cfg.LoginTTL / time.Second)}
}

// session loads a request and checks that this browser is the one that
// opened it (the binding cookie set by the login page).
func (p *Provider) session(r *http.Request, id string) (*authRequest, error) {
	row, err := p.cfg.Store.AuthRequest(r.Context(), id)
	if err != nil {
		return nil, err
	}
	a, err := decodeAR(row)
	if err != nil {
		return nil, err
	}
	if !ownedBy(r, a) {
		return nil, errWrongBrowser
	}
	return a, nil
}

// ownedBy reports whether r comes from the browser request a is bound to
// (its binding cookie).
func ownedBy(r *http.Request, a *authRequest) bool {
	ck, err := r.Cookie(cookieName(a.row.ID))
	return err == nil && a.d.Browser != "" && subtle.ConstantTimeCompare([]byte(hashHex(ck.Value)), []byte(a.d.Browser)) == 1
}

var errWrongBrowser = errors.New("oidc: login belongs to another browser")

func (p *Provider) expired(a *authRequest) bool { return !a.row.Expires.After(p.cfg.Now()) }

type claimView struct {
	Label    string
	Optional bool
}

// claimViews lists the claims for the login page: each one's label and
// whether the relying party registered it optional.
func claimViews(lang string, c *Client, claims []string) []claimView {
	var out []claimView
	for _, cl := range claims {
		e, _ := c.entitlement(cl)
		out = append(out, claimView{Label: claimLabel(lang, cl), Optional: e.Optional})
	}
	return out
}

// login is the page the RP's redirect lands on: it checks that the request
// belongs to this browser, then shows the QR (cross-device) and the wallet link (same
// device) and polls until the wallet has answered.
func (p *Provider) login(w http.ResponseWriter, r *http.Request) {
	r = p.withIssuer(r)
	id := r.URL.Query().Get("id")
	// The request is bound to the browser that made the authorization
	// request (CreateAuthRequest). One stored unbound is bound by the
	// first browser to open this page, in the statement that reads it (an
	// expired request is not bound).
	secret, bound := "", false
	row, err := p.cfg.Store.AuthRequest(r.Context(), id)
	if err == nil && row.Browser == "" {
		secret = randomID(24)
		row, bound, err = p.cfg.Store.BindAuthRequest(r.Context(), id, hashHex(secret), p.cfg.Now())
	}
	if err != nil {
		p.errorPage(w, r, "", http.StatusNotFound, "request_unknown")
		return
	}
	a, err := decodeAR(row)
	if err != nil {
		p.errorPage(w, r, "", http.StatusGone, "request_expired")
		return
	}
	if p.expired(a) {
		p.requestError(w, r, a, http.StatusGone, "request_expired")
		return
	}
	if has(a.d.Prompt, oidc.PromptNone) {
		// shenfen keeps no session: every sign-in needs the wallet.
		op.AuthRequestError(w, r, a, oidc.ErrLoginRequired(), p.op)
		return
	}
	if bound && a.d.Browser == hashHex(secret) {
		http.SetCookie(w, p.bindingCookie(id, secret))
	} else if !ownedBy(r, a) {
		p.requestError(w, r, a, http.StatusForbidden, "other_browser")
		return
	}
	if a.row.State == StatePresented {
		http.Redirect(w, r, p.path+"/finish?id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	if a.row.State == StateRefused {
		// Once: the request is finished by telling the RP, that the
		// citizen declined in the wallet or that the card fell short.
		a.row.State = StateDenied
		if err := p.cfg.Store.UpdateAuthRequest(r.Context(), a.encode(), StateRefused); err != nil {
			p.requestError(w, r, a, http.StatusGone, "finished")
			return
		}
		if a.d.Declined {
			op.AuthRequestError(w, r, a, oidc.ErrAccessDenied().WithDescription("the citizen declined"), p.op)
			return
		}
		op.AuthRequestError(w, r, a, errUnmetAuthentication(a.d.ACR, a.d.ACRValues), p.op)
		return
	}
	if a.row.State != StatePending {
		p.requestError(w, r, a, http.StatusGone, "finished")
		return
	}
	c, err := p.client(r.Context(), a.row.ClientID)
	if err != nil {
		p.requestError(w, r, a, http.StatusNotFound, "client_unknown")
		return
	}
	reqURI := p.cfg.Issuer + "/wallet/request/" + a.row.Txn
	rk, err := p.cfg.RequestKey(r.Context())
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: sign-in request key", "err", err)
		p.requestError(w, r, a, http.StatusInternalServerError, "unavailable")
		return
	}
	deep := "openid4vp://?client_id=" + url.QueryEscape(rk.ClientID) + "&request_uri=" + url.QueryEscape(reqURI)
	qr, err := qrSVG(deep)
	if err != nil {
		p.requestError(w, r, a, http.StatusInternalServerError, "qr")
		return
	}
	lang := pageLang(a.d.UILocales, r)
	p.page(w, r, a.d.UILocales, http.StatusOK, "login.html", map[string]any{
		"RPName":  rpName(lang, c.Name),
		"RPLang":  otherLang(lang, c.Name),
		"Purpose": localized(lang, c.Purpose),
		"Claims":  claimViews(lang, &c, a.d.Claims),
		"Refused": labels(lang, a.d.Refused),
		// Inline SVG drawn here from numbers only: no escaping pass over a
		// base64 data: URL (that pass was a visible share of the page).
		"QR": template.HTML(bytes.Replace(qr, []byte("<svg "),
			[]byte(`<svg class="qr" role="img" aria-label="`+template.HTMLEscapeString(text[lang]["qr_label"])+`" `), 1)),
		"SameDevice": p.cfg.WalletURL + "#/approve?client_id=" + url.QueryEscape(rk.ClientID) + "&request_uri=" + url.QueryEscape(reqURI),
		"StatusURL":  p.path + "/login/status?id=" + url.QueryEscape(id),
		"BackURL":    siteOrigin(a.d.RedirectURI),
		"NextURL":    p.path + "/finish?id=" + url.QueryEscape(id),
	}, pageCSP)
}

// qrSVG draws a QR code (ECC level M, 4-module quiet zone, byte mode,
// mask pattern 2) as an SVG path of horizontal runs (qr.go). The mask is
// fixed instead of chosen by evaluating all eight (ISO/IEC 18004 allows
// any). An SVG is a few kilobytes and far cheaper than a deflated PNG.
func qrSVG(content string) ([]byte, error) {
	q, err := encodeQR(content)
	if err != nil {
		return nil, err
	}
	return q.svg(), nil
}

func labels(lang string, claims []string) []string {
	out := make([]string, len(claims))
	for i, c := range claims {
		out[i] = claimLabel(lang, c)
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// loginStatus answers the login page's polling.
func (p *Provider) loginStatus(w http.ResponseWriter, r *http.Request) {
	a, err := p.session(r, r.URL.Query().Get("id"))
	if err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"state": "unknown"})
		return
	}
	st := a.row.State
	if st == StatePending && p.expired(a) {
		st = "expired"
	}
	writeJSON(w, http.StatusOK, map[string]string{"state": st})
}

// WalletRequest is the payload of the sign-in's request object: an
// OpenID4VP 1.0 authorization request (DCQL query, direct_post), signed by
// the provider's verifier key ([RequestKey]). client_metadata.client_name
// names the relying party the login is for.
type WalletRequest = verifier.Request

// RequestKey is the sign-in's verifier key: the key and certificate the
// authority registered for the provider (package verifier, kind sign-in)
// and its client identifier (x509_san_dns:HOST).
type RequestKey struct {
	Signer   crypto.Signer
	Cert     []byte
	ClientID string
}

func (p *Provider) walletTxn(w http.ResponseWriter, r *http.Request) (*authRequest, *Client, bool) {
	row, err := p.cfg.Store.AuthRequestByTxn(r.Context(), r.PathValue("txn"))
	if err != nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "invalid_request", "error_description": "unknown login transaction"})
		return nil, nil, false
	}
	a, err := decodeAR(row)
	if err != nil || p.expired(a) || a.row.State != StatePending {
		writeJSON(w, http.StatusGone, map[string]string{"error": "invalid_request", "error_description": "login transaction expired or already answered"})
		return nil, nil, false
	}
	c, err := p.client(r.Context(), a.row.ClientID)
	if err != nil {
		writeJSON(w, http.StatusGone, map[string]string{"error": "invalid_request", "error_description": "relying party no longer registered"})
		return nil, nil, false
	}
	return a, &c, true
}

// walletRequest serves the request the QR / deep link points at: a signed
// request object (typ oauth-authz-req+jwt, x5c the provider's verifier
// certificate) whose DCQL query asks for the card paths of the claims the
// relying party asked and is entitled to, the optional ones left out of
// the second claim set.
func (p *Provider) walletRequest(w http.ResponseWriter, r *http.Request) {
	a, c, ok := p.walletTxn(w, r)
	if !ok {
		return
	}
	rk, err := p.cfg.RequestKey(r.Context())
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: sign-in request key", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "the sign-in key is not available"})
		return
	}
	optional := map[string]bool{}
	for _, cl := range a.d.Claims {
		if e, _ := c.entitlement(cl); e.Optional {
			for _, path := range cardPaths[cl] {
				optional[path] = true
			}
		}
	}
	for _, cl := range a.d.Claims { // a path also needed by a required claim is required
		if e, _ := c.entitlement(cl); !e.Optional {
			for _, path := range cardPaths[cl] {
				delete(optional, path)
			}
		}
	}
	delete(optional, "id_number")
	var claims []verifier.QueryClaim
	var all, required []string
	for _, path := range walletPaths(a.d.Claims) {
		id := strings.ReplaceAll(path, ".", "_") // DCQL ids are [A-Za-z0-9_-]
		claims = append(claims, verifier.QueryClaim{ID: id, Path: splitPath(path)})
		all = append(all, id)
		if !optional[path] {
			required = append(required, id)
		}
	}
	q := verifier.Query{ID: "pid", Format: "dc+sd-jwt", Meta: map[string]any{"vct_values": []string{credential.ProfileCN.VCT}}, Claims: claims}
	if len(required) < len(all) {
		q.ClaimSets = [][]string{all, required}
	}
	now := p.cfg.Now()
	wr := WalletRequest{
		ClientID: rk.ClientID, ResponseType: "vp_token", ResponseMode: "direct_post",
		ResponseURI: p.cfg.Issuer + "/wallet/response/" + a.row.Txn, Nonce: a.d.WalletNonce, State: a.row.Txn,
		Audience: verifier.StaticAudience, IssuedAt: now.Unix(), Expires: a.row.Expires.Unix(),
		DCQL:     verifier.DCQL{Credentials: []verifier.Query{q}},
		Metadata: clientMetadata(c),
	}
	jwt, err := verifier.Sign(rk.Signer, rk.Cert, wr)
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: sign wallet request", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "could not sign the request"})
		return
	}
	w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(jwt))
}

// clientMetadata is the request's client_metadata: the relying party's
// name (client_name "zh (en)", and each language as client_name#zh-CN and
// client_name#en, RFC 7591 section 2.2), its registered purpose if it has
// one (purpose#zh-CN and purpose#en, shenfen's own member, which the
// wallet shows in the citizen's language in place of the provider's
// generic sign-in purpose) and the formats the provider takes.
func clientMetadata(c *Client) map[string]any {
	m := map[string]any{"client_name": c.Name.String(), "vp_formats_supported": map[string]any{
		"dc+sd-jwt": map[string]any{"sd-jwt_alg_values": []string{"ES256"}, "kb-jwt_alg_values": []string{"ES256"}}}}
	if c.Name.Zh != "" {
		m["client_name#zh-CN"] = c.Name.Zh
	}
	if c.Name.En != "" {
		m["client_name#en"] = c.Name.En
	}
	if c.Purpose.Zh != "" {
		m["purpose#zh-CN"] = c.Purpose.Zh
	}
	if c.Purpose.En != "" {
		m["purpose#en"] = c.Purpose.En
	}
	return m
}

func splitPath(p string) []any {
	var out []any
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '.' {
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return out
}

// walletResponse receives the wallet's presentation (direct_post: form
// field vp_token), verifies it over this transaction's nonce and the
// provider's identifier, and moves the login on to its finish (the
// citizen consented in the wallet, which shared what the citizen chose).
// An error response (the citizen declined) ends the login instead.
func (p *Provider) walletResponse(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxPresentation+4096)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "unreadable form"})
		return
	}
	a, c, ok := p.walletTxn(w, r)
	if !ok {
		return
	}
	if e := r.PostForm.Get("error"); e != "" {
		p.walletDeclined(w, r, a, e)
		return
	}
	vp, ok := dcqlPresentation(r.PostForm.Get("vp_token"))
	if !ok {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request",
			"error_description": `vp_token must be the DCQL response {"pid": ["<SD-JWT VC presentation>"]} (at most 512 KiB)`})
		return
	}
	if st := r.PostForm.Get("state"); st != "" && subtle.ConstantTimeCompare([]byte(st), []byte(a.row.Txn)) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "state does not match the request"})
		return
	}
	rk, err := p.cfg.RequestKey(r.Context())
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: sign-in request key", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "the sign-in key is not available"})
		return
	}
	pres, err := p.cfg.Verifier.VerifyPresentation(r.Context(), vp, a.d.WalletNonce, rk.ClientID)
	if err != nil {
		p.cfg.Log.InfoContext(r.Context(), "oidc: presentation refused", "err", err)
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_presentation",
			"error_description": "the card presentation does not verify (issuer signature, device key, nonce, validity or status)"})
		return
	}
	if pres.CitizenKey == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_presentation", "error_description": "the card's id_number must be disclosed to the provider"})
		return
	}
	level, err := p.assurance(r.Context(), pres)
	if err != nil {
		p.cfg.Log.InfoContext(r.Context(), "oidc: card refused", "err", err)
		switch {
		case errors.Is(err, ErrCardRevoking):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_presentation", "error_description": "the card was revoked by the authority"})
			return
		case errors.Is(err, ErrNotApproved):
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_presentation", "error_description": "the card's enrollment was not approved"})
			return
		}
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "server_error", "error_description": "could not establish the card's assurance level"})
		return
	}
	acr, ok := meetACR(level, a.d.ACRValues)
	if !ok {
		// A failed authentication (OpenID Connect Core 5.5.1.1): the login
		// ends, the RP is told unmet_authentication_requirements.
		a.row.State = StateRefused
		a.d.ACR = level
		if err := p.cfg.Store.UpdateAuthRequest(r.Context(), a.encode(), StatePending); err != nil {
			writeJSON(w, http.StatusConflict, map[string]string{"error": "invalid_request", "error_description": "login transaction already answered"})
			return
		}
		e := errUnmetAuthentication(level, a.d.ACRValues)
		writeJSON(w, http.StatusForbidden, map[string]string{"error": string(e.ErrorType), "error_description": e.Description})
		return
	}
	values := fromCard(pres.Claims, a.d.Claims)
	for _, cl := range a.d.Claims {
		if e, _ := c.entitlement(cl); !e.Optional {
			if _, ok := values[cl]; !ok {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_presentation", "error_description": "required claim not disclosed: " + cl})
				return
			}
		}
	}
	plain, _ := json.Marshal(values)
	a.d.Sealed = p.cfg.Sealer.Seal(plain, []byte("oidc-claims|"+a.row.ID))
	a.d.Citizen = p.CitizenIndex(pres.CitizenKey)
	a.d.CitizenKey = p.cfg.Sealer.Seal([]byte(pres.CitizenKey), []byte("oidc-citizen|"+a.row.ID))
	a.d.Subject = p.PairwiseSubject(c.Sector, pres.CitizenKey)
	a.d.ACR, a.d.AMR, a.d.AuthTime = acr, pres.AMR, p.cfg.Now()
	a.row.State = StatePresented
	if err := p.cfg.Store.UpdateAuthRequest(r.Context(), a.encode(), StatePending); err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "invalid_request", "error_description": "login transaction already answered"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect_uri": p.cfg.Issuer + "/login?id=" + url.QueryEscape(a.row.ID)})
}

// dcqlPresentation reads the OpenID4VP 1.0 DCQL vp_token of the
// sign-in's one credential query: {"pid": ["<presentation>"]}.
func dcqlPresentation(vpToken string) (string, bool) {
	if vpToken == "" || len(vpToken) > maxPresentation+64 {
		return "", false
	}
	var tok map[string][]string
	if unmarshalRecord([]byte(vpToken), &tok) != nil || len(tok) != 1 || len(tok["pid"]) != 1 || tok["pid"][0] == "" {
		return "", false
	}
	return tok["pid"][0], true
}

// walletDeclined takes the wallet's OpenID4VP error response (form field
// error, access_denied when the citizen declined): the login ends, and the
// bound browser's next step tells the RP access_denied.
func (p *Provider) walletDeclined(w http.ResponseWriter, r *http.Request, a *authRequest, code string) {
	if code != "access_denied" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "the only error response taken is access_denied"})
		return
	}
	if st := r.PostForm.Get("state"); subtle.ConstantTimeCompare([]byte(st), []byte(a.row.Txn)) != 1 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "state does not match the request"})
		return
	}
	a.row.State = StateRefused
	a.d.Declined = true
	if err := p.cfg.Store.UpdateAuthRequest(r.Context(), a.encode(), StatePending); err != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "invalid_request", "error_description": "login transaction already answered"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{})
}

func (p *Provider) disclosed(a *authRequest) (map[string]any, error) {
	plain, err := p.cfg.Sealer.Open(a.d.Sealed, []byte("oidc-claims|"+a.row.ID))
	if err != nil {
		return nil, fmt.Errorf("oidc: open disclosed claims: %w", err)
	}
	var v map[string]any
	return v, json.Unmarshal(plain, &v)
}

// redirectCSP lets the answer's redirect reach the RP's redirect URI.
func redirectCSP(redirect string) string {
	u, err := url.Parse(redirect)
	if err != nil {
		return pageCSP
	}
	return pageCSP + " " + u.Scheme + "://" + u.Host
}

// finish is the bound browser's step after the wallet's presentation was
// accepted (the login page's next URL, the same-device return through the
// login page). The citizen's consent was the wallet's: it showed the
// relying party, its purpose and the exact values, and shared the
// required claims and the optional ones the citizen kept. finish grants
// those and answers the RP, once; a login still waiting for the wallet
// (or refused) goes back to the login page, which knows what to do.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request) {
	r = p.withIssuer(r)
	id := r.URL.Query().Get("id")
	a, err := p.session(r, id)
	if err != nil {
		p.errorPage(w, r, "", http.StatusForbidden, "session")
		return
	}
	switch {
	case a.row.State != StatePresented && a.row.State != StatePending && a.row.State != StateRefused:
		p.requestError(w, r, a, http.StatusConflict, "finished")
		return
	case p.expired(a):
		p.requestError(w, r, a, http.StatusGone, "request_expired")
		return
	case a.row.State != StatePresented:
		http.Redirect(w, r, p.path+"/login?id="+url.QueryEscape(id), http.StatusSeeOther)
		return
	}
	c, err := p.client(r.Context(), a.row.ClientID)
	if err != nil {
		p.requestError(w, r, a, http.StatusNotFound, "client_unknown")
		return
	}
	values, err := p.disclosed(a)
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: finish", "err", err)
		p.requestError(w, r, a, http.StatusInternalServerError, "unreadable")
		return
	}
	p.grantDisclosed(w, r, a, &c, values)
}

// grantDisclosed records the grant of the claims the RP asked and is entitled to
// (a.d.Claims) that the wallet disclosed (values), with the disclosure
// for the citizen's history, issues the code and redirects to the RP. A
// second call, or a request answered meanwhile, records nothing.
func (p *Provider) grantDisclosed(w http.ResponseWriter, r *http.Request, a *authRequest, c *Client, values map[string]any) {
	granted := map[string]any{}
	var names []string
	for _, cl := range a.d.Claims {
		if v, ok := values[cl]; ok {
			granted[cl] = v
			names = append(names, cl)
		}
	}
	sort.Strings(names)
	plain, _ := json.Marshal(granted)
	a.d.Sealed = p.cfg.Sealer.Seal(plain, []byte("oidc-grant|"+a.row.ClientID+"|"+a.d.Subject))
	a.d.Granted = names
	citizenKey, err := p.cfg.Sealer.Open(a.d.CitizenKey, []byte("oidc-citizen|"+a.row.ID))
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: open citizen key", "err", err)
		p.requestError(w, r, a, http.StatusInternalServerError, "unreadable")
		return
	}
	// The code is op's (its encrypted request id), recorded (its hash)
	// with the request done and the grant, in one transaction: a second
	// finish, or a request answered meanwhile, records nothing.
	code, err := op.BuildAuthRequestCode(a, p.op.Crypto())
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: authorization code", "err", err)
		p.requestError(w, r, a, http.StatusInternalServerError, "grant")
		return
	}
	now := p.cfg.Now()
	a.d.CitizenKey = nil
	a.row.State = StateDone
	a.row.CodeHash, a.row.Expires = hashHex(code), now.Add(p.cfg.CodeTTL)
	// The access token's data, for the code exchange to store with the
	// code's consumption (op issues a refresh token too for offline_access:
	// that one goes through CreateAccessAndRefreshTokens).
	a.row.Subject, a.row.Token = a.d.Subject, nil
	if !has(a.d.Scopes, oidc.ScopeOfflineAccess) {
		a.row.Token, _ = marshalRecord(a.grant())
	}
	err = p.cfg.Store.GrantAuthRequest(r.Context(), a.encode(), StatePresented,
		Grant{Citizen: a.d.Citizen, ClientID: c.ID, Subject: a.d.Subject, Claims: names, ACR: a.d.ACR, At: now})
	if errors.Is(err, ErrConflict) {
		p.requestError(w, r, a, http.StatusConflict, "finished")
		return
	}
	if err != nil {
		p.cfg.Log.ErrorContext(r.Context(), "oidc: record grant", "err", err)
		p.requestError(w, r, a, http.StatusInternalServerError, "grant")
		return
	}
	if p.cfg.Recorder != nil {
		if err := p.cfg.Recorder.RecordDisclosure(r.Context(), Disclosure{
			CitizenKey: string(citizenKey), ClientID: c.ID, ClientName: c.Name.String(),
			Subject: a.d.Subject, Claims: names, ACR: a.d.ACR, At: now,
		}); err != nil {
			p.cfg.Log.ErrorContext(r.Context(), "oidc: record disclosure", "err", err)
			p.requestError(w, r, a, http.StatusInternalServerError, "grant")
			return
		}
	}
	w.Header().Set("Content-Security-Policy", redirectCSP(a.d.RedirectURI))
	u, err := op.AuthResponseURL(a.GetRedirectURI(), a.GetResponseType(), a.GetResponseMode(),
		&op.CodeResponseType{Code: code, State: a.GetState()}, p.op.Encoder())
	if err != nil {
		op.AuthRequestError(w, r, a, err, p.op)
		return
	}
	http.Redirect(w, r, u, http.StatusFound)
}
