package oid4vc

import (
	"context"
	"crypto"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shenfen/shenfen/audit"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/problem"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/verifier"

	jose "github.com/go-jose/go-jose/v4"
)

// PresentationVerifier checks presentations with the credential library.
type PresentationVerifier interface {
	// VerifySDJWT checks an SD-JWT VC presentation made for nonce and
	// audience (the verifier's client_id).
	VerifySDJWT(ctx context.Context, presentation, nonce, audience string) (*credential.Verified, error)
	// VerifyMdoc checks a DeviceResponse whose device signature covers
	// sessionTranscript.
	VerifyMdoc(ctx context.Context, deviceResponse, sessionTranscript []byte) (*credential.Verified, error)
}

// Verifiers is the [PresentationVerifier] on shenfen's credential packages.
type Verifiers struct {
	SDJWT *sdjwt.Verifier
	Mdoc  *mdoc.Verifier
}

// VerifySDJWT implements [PresentationVerifier].
func (v Verifiers) VerifySDJWT(ctx context.Context, p, nonce, aud string) (*credential.Verified, error) {
	return v.SDJWT.Verify(ctx, p, sdjwt.Expect{Nonce: nonce, Audience: aud})
}

// VerifyMdoc implements [PresentationVerifier].
func (v Verifiers) VerifyMdoc(ctx context.Context, dr, st []byte) (*credential.Verified, error) {
	res, err := v.Mdoc.Verify(ctx, dr, mdoc.Expect{SessionTranscript: st})
	if err != nil {
		return nil, err
	}
	return &res.Verified, nil
}

const (
	requestTTL    = 5 * time.Minute
	maxClaims     = 32
	maxVPResponse = 1 << 20
)

var claimName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)

type vpQuery struct {
	Claims []string `json:"claims"`
	Format string   `json:"format"`
	// Desk is the registered desk that asks, ClientID its client
	// identifier and Name its registered name (kept with the request: the
	// answer is checked against them even if the desk is removed
	// meanwhile).
	Desk     string `json:"desk,omitempty"`
	ClientID string `json:"client_id,omitempty"`
	Name     string `json:"name,omitempty"`
	// Optional lists the claims the citizen may leave out (the desk's
	// registration marks them optional).
	Optional []string `json:"optional,omitempty"`
	// ResponseMode is direct_post (the default) or direct_post.jwt
	// (encrypted); ResponseKey is then the request's sealed ECDH-ES key.
	ResponseMode string `json:"response_mode,omitempty"`
	ResponseKey  []byte `json:"response_key,omitempty"`
}

// DeskRegistry finds the registered desk a verifier page signs in as, and
// the key its requests are signed with (*verifier.Registry).
type DeskRegistry interface {
	Desk(ctx context.Context, token string) (verifier.Verifier, error)
	Verifier(ctx context.Context, id string) (verifier.Verifier, error)
	ByCert(ctx context.Context, certHash string) (verifier.Verifier, error)
	Signer(ctx context.Context, v verifier.Verifier) (crypto.Signer, error)
}

type vpResult struct {
	Status     string         `json:"status"`
	Format     string         `json:"format,omitempty"`
	Claims     map[string]any `json:"claims,omitempty"`
	ValidUntil *time.Time     `json:"valid_until,omitempty"`
	VerifiedAt *time.Time     `json:"verified_at,omitempty"`
	Error      string         `json:"error,omitempty"`
}

// claimNames lists the names a request may ask for in format: the card's
// top-level SD-JWT VC claims (a nested claim is asked for by its container,
// e.g. "address"), or its mdoc element identifiers.
func (a *API) claimNames(format string) []string {
	var out []string
	for _, c := range a.profile().Claims() {
		n := c.JWT[0]
		if format == "mso_mdoc" {
			n = c.Mdoc
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func (a *API) responseURI(id string) string { return a.Issuer + "/oid4vp/responses/" + id }

func (a *API) verifierReady(w http.ResponseWriter, r *http.Request) bool {
	if a.Verifier == nil || a.Requests == nil || a.Sealer == nil || a.Desks == nil {
		problem.Write(w, r, problem.New(http.StatusServiceUnavailable, "verifier-unavailable", "Verifier unavailable", "the verifier is not configured"))
		return false
	}
	return true
}

func (a *API) createRequest(w http.ResponseWriter, r *http.Request) {
	if !a.verifierReady(w, r) {
		return
	}
	if !a.limit(w, r, a.VerifierLimit, clientAddr(r)) {
		return
	}
	desk, err := a.Desks.Desk(r.Context(), bearer(r))
	if errors.Is(err, verifier.ErrNotFound) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="shenfen-desk"`)
		problem.Write(w, r, problem.New(http.StatusUnauthorized, "unregistered-verifier", "Unregistered verifier",
			"only a desk registered with the authority may ask for a card: send its desk token as a bearer token"))
		return
	}
	if err != nil {
		a.log().Error("oid4vp: desk", "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	var q vpQuery
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4<<10))
	if err != nil || json.Unmarshal(body, &q) != nil {
		problem.Write(w, r, problem.BadRequest(`body must be {"claims": [...], "format": "dc+sd-jwt"|"mso_mdoc"}`))
		return
	}
	q.Desk, q.ClientID, q.Name, q.Optional, q.ResponseKey = desk.ID, desk.ClientID(), desk.Name.String(), nil, nil
	switch q.ResponseMode {
	case "":
		q.ResponseMode = ResponseModePost
	case ResponseModePost, ResponseModeJWT:
	default:
		problem.Write(w, r, problem.BadRequest("response_mode must be direct_post or direct_post.jwt"))
		return
	}
	if q.Format == "" {
		q.Format = "dc+sd-jwt"
	}
	if q.Format != "dc+sd-jwt" && q.Format != "mso_mdoc" {
		problem.Write(w, r, problem.BadRequest("format must be dc+sd-jwt or mso_mdoc"))
		return
	}
	if len(q.Claims) == 0 {
		// No list: everything the desk is entitled to.
		for _, c := range desk.Claims {
			q.Claims = append(q.Claims, a.formatName(q.Format, c.Name))
		}
	}
	if len(q.Claims) == 0 || len(q.Claims) > maxClaims {
		problem.Write(w, r, problem.BadRequest("claims: 1 to 32 claim names (or none: every claim the desk is entitled to)"))
		return
	}
	known := a.claimNames(q.Format)
	for _, c := range q.Claims {
		if !claimName.MatchString(c) {
			problem.Write(w, r, problem.BadRequest("claims: names are lower-case letters, digits and _"))
			return
		}
		if !slices.Contains(known, c) {
			problem.Write(w, r, problem.BadRequest("claims: the card has no "+q.Format+" claim "+strconv.Quote(c)+
				"; its claims are "+strings.Join(known, ", ")))
			return
		}
	}
	slices.Sort(q.Claims)
	q.Claims = slices.Compact(q.Claims)
	var over []string
	for _, c := range q.Claims {
		name := a.jwtName(q.Format, c)
		ok, optional := desk.Entitled(name)
		if !ok {
			over = append(over, c)
		} else if optional {
			q.Optional = append(q.Optional, c)
		}
	}
	if len(over) > 0 {
		problem.Write(w, r, problem.New(http.StatusForbidden, "over-asking", "Claims not entitled",
			desk.Name.En+" is registered for "+verifier.FormatClaims(desk.Claims)+"; it may not ask for "+strings.Join(over, ", ")))
		return
	}
	now := a.now()
	req := proofing.VerifierRequest{ID: proofing.RandomID(16), Nonce: proofing.RandomID(16),
		State: proofing.VerifierPending, CreatedAt: now, ExpiresAt: now.Add(requestTTL)}
	if q.ResponseMode == ResponseModeJWT {
		if q.ResponseKey, err = a.newResponseKey(req.ID); err != nil {
			a.log().Error("oid4vp: create request", "err", err)
			problem.Write(w, r, problem.Internal())
			return
		}
	}
	req.Query, _ = json.Marshal(q)
	token := proofing.RandomID(32)
	req.TokenHash = proofing.Hash(token)
	if err := a.Requests.PutVerifierRequest(r.Context(), req); err != nil {
		a.log().Error("oid4vp: create request", "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	requestURI := a.Issuer + "/oid4vp/requests/" + req.ID
	qr := "openid4vp://?client_id=" + url.QueryEscape(q.ClientID) + "&request_uri=" + url.QueryEscape(requestURI)
	writeJSON(w, http.StatusCreated, map[string]any{"id": req.ID, "result_token": token, "request_uri": requestURI,
		"qr": qr, "expires_at": req.ExpiresAt})
}

// pendingRequest loads an unexpired pending request.
func (a *API) pendingRequest(ctx context.Context, id string) (proofing.VerifierRequest, vpQuery, bool) {
	req, err := a.Requests.VerifierRequest(ctx, id)
	if err != nil || req.State != proofing.VerifierPending || !a.now().Before(req.ExpiresAt) {
		return req, vpQuery{}, false
	}
	var q vpQuery
	if json.Unmarshal(req.Query, &q) != nil {
		return req, q, false
	}
	return req, q, true
}

func (a *API) requestObject(w http.ResponseWriter, r *http.Request) {
	if !a.verifierReady(w, r) {
		return
	}
	req, q, ok := a.pendingRequest(r.Context(), r.PathValue("id"))
	if !ok {
		problem.Write(w, r, problem.NotFound("no pending presentation request with this id"))
		return
	}
	desk, err := a.Desks.Verifier(r.Context(), q.Desk)
	if err != nil || desk.ClientID() != q.ClientID {
		problem.Write(w, r, problem.NotFound("the desk that made this request is no longer registered"))
		return
	}
	key, err := a.Desks.Signer(r.Context(), desk)
	if err != nil {
		a.log().Error("oid4vp: desk key", "desk", desk.ID, "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	var encKey map[string]any
	if q.ResponseMode == ResponseModeJWT {
		k, err := a.responseKey(req.ID, q.ResponseKey)
		if err == nil {
			encKey, err = responseJWK(k, responseKID(req.ID))
		}
		if err != nil {
			a.log().Error("oid4vp: response key", "err", err)
			problem.Write(w, r, problem.Internal())
			return
		}
	}
	jwt, err := verifier.Sign(key, desk.Cert, a.requestPayload(req, q, encKey))
	if err != nil {
		a.log().Error("oid4vp: sign request", "desk", desk.ID, "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
	w.Header().Set("Cache-Control", "no-store")
	io.WriteString(w, jwt)
}

// requestPayload is the request object of a desk's request: DCQL with one
// credential query, the claims the registration marks optional left out
// of the second claim set, direct_post to this server (direct_post.jwt
// with encKey, the request's public encryption key, in client_metadata).
func (a *API) requestPayload(req proofing.VerifierRequest, q vpQuery, encKey map[string]any) map[string]any {
	entry := map[string]any{"id": "pid", "format": q.Format}
	var claims []map[string]any
	var all, required []string
	for _, c := range q.Claims {
		path := []string{c}
		if q.Format == "mso_mdoc" {
			path = []string{a.Namespace, c}
		}
		claims = append(claims, map[string]any{"id": c, "path": path})
		all = append(all, c)
		if !slices.Contains(q.Optional, c) {
			required = append(required, c)
		}
	}
	entry["claims"] = claims
	if len(required) < len(all) {
		entry["claim_sets"] = [][]string{all, required}
	}
	formats := map[string]any{}
	if q.Format == "mso_mdoc" {
		entry["meta"] = map[string]any{"doctype_value": a.DocType}
		formats["mso_mdoc"] = map[string]any{"issuerauth_alg_values": []int{-7}, "deviceauth_alg_values": []int{-7}}
	} else {
		entry["meta"] = map[string]any{"vct_values": []string{a.VCT}}
		formats["dc+sd-jwt"] = map[string]any{"sd-jwt_alg_values": []string{"ES256"}, "kb-jwt_alg_values": []string{"ES256"}}
	}
	meta := map[string]any{"vp_formats_supported": formats}
	mode := ResponseModePost
	if encKey != nil {
		mode = ResponseModeJWT
		meta["jwks"] = map[string]any{"keys": []any{encKey}}
		meta["encrypted_response_enc_values_supported"] = []string{string(jose.A128GCM), string(jose.A256GCM)}
	}
	return map[string]any{
		"client_id":       q.ClientID,
		"response_type":   "vp_token",
		"response_mode":   mode,
		"response_uri":    a.responseURI(req.ID),
		"nonce":           req.Nonce,
		"state":           req.ID,
		"aud":             verifier.StaticAudience,
		"dcql_query":      map[string]any{"credentials": []any{entry}},
		"client_metadata": meta,
		"iat":             req.CreatedAt.Unix(),
		"exp":             req.ExpiresAt.Unix(),
	}
}

// formatName is the name in format of the SD-JWT VC claim c.
func (a *API) formatName(format, c string) string {
	if format != "mso_mdoc" {
		return c
	}
	for _, pc := range a.profile().Claims() {
		if pc.JWT[0] == c {
			return pc.Mdoc
		}
	}
	return c
}

// jwtName is the SD-JWT VC name of claim c of format (entitlements are
// registered in those names).
func (a *API) jwtName(format, c string) string {
	if format != "mso_mdoc" {
		return c
	}
	for _, pc := range a.profile().Claims() {
		if pc.Mdoc == c {
			return pc.JWT[0]
		}
	}
	return c
}

func (a *API) response(w http.ResponseWriter, r *http.Request) {
	if !a.verifierReady(w, r) {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	r.Body = http.MaxBytesReader(w, r.Body, maxVPResponse)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "form body expected")
		return
	}
	req, q, ok := a.pendingRequest(ctx, id)
	if !ok {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown, expired or answered request")
		return
	}
	vpToken, state := r.PostForm.Get("vp_token"), r.PostForm.Get("state")
	var thumb []byte
	if q.ResponseMode == ResponseModeJWT && r.PostForm.Get("error") == "" {
		// An error (the citizen declined) may come in the clear; a
		// presentation must come encrypted to this request's key.
		jwe := r.PostForm.Get("response")
		if jwe == "" || vpToken != "" {
			oauthError(w, http.StatusBadRequest, "invalid_request", "this request's response must be encrypted (direct_post.jwt: response=<JWE>)")
			return
		}
		k, err := a.responseKey(req.ID, q.ResponseKey)
		if err == nil {
			thumb, err = jwkThumbprint(k)
		}
		if err != nil {
			a.log().ErrorContext(ctx, "oid4vp: response key", "err", err)
			oauthError(w, http.StatusInternalServerError, "server_error", "")
			return
		}
		if vpToken, state, err = decryptResponse(k, responseKID(req.ID), jwe); err != nil {
			oauthError(w, http.StatusBadRequest, "invalid_request", "the response does not decrypt with this request's key")
			return
		}
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(req.ID)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown, expired or answered request")
		return
	}
	if e := r.PostForm.Get("error"); e != "" && vpToken == "" {
		a.walletError(w, r, req, e)
		return
	}
	res := a.verify(ctx, req, q, vpToken, thumb)
	if err := a.answer(ctx, req.ID, res); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown, expired or answered request")
		return
	}
	if res.Status != proofing.VerifierVerified {
		a.log().InfoContext(ctx, "oid4vp: presentation refused", "reason", res.Error)
		oauthError(w, http.StatusBadRequest, "invalid_request", "the presentation was not accepted")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// walletError records the wallet's OpenID4VP error response (OpenID4VP
// 1.0 §8.5: error and state posted to the response URI): access_denied,
// the holder declined, ends the request as declined; any other error as
// failed with the word "wallet-refused". The page waiting on the request
// learns it at its next poll instead of waiting until it expires. The
// wallet gets 200 {} either way.
func (a *API) walletError(w http.ResponseWriter, r *http.Request, req proofing.VerifierRequest, code string) {
	res := vpResult{Status: proofing.VerifierDeclined}
	if code != "access_denied" {
		res = vpResult{Status: proofing.VerifierFailed, Error: "wallet-refused"}
	}
	if err := a.answer(r.Context(), req.ID, res); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "unknown, expired or answered request")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{})
}

// answer seals a request's outcome and records it (proofing.ErrConflict
// when the request is no longer pending).
func (a *API) answer(ctx context.Context, id string, res vpResult) error {
	sealed, _ := json.Marshal(res)
	return a.Requests.AnswerVerifierRequest(ctx, id, res.Status, a.Sealer.Seal(sealed, []byte("oid4vp/result "+id)), a.now())
}

// ownRequest loads the request {id} for the page that made it: the caller
// must present the request's result token (Authorization: Bearer),
// compared in constant time. It writes the problem (404, 401, 500) and
// returns false otherwise; op names the operation in the log.
func (a *API) ownRequest(w http.ResponseWriter, r *http.Request, op string) (proofing.VerifierRequest, bool) {
	if !a.verifierReady(w, r) {
		return proofing.VerifierRequest{}, false
	}
	req, err := a.Requests.VerifierRequest(r.Context(), r.PathValue("id"))
	if errors.Is(err, proofing.ErrNotFound) {
		problem.Write(w, r, problem.NotFound("no such presentation request"))
		return req, false
	}
	if err != nil {
		a.log().Error("oid4vp: "+op, "err", err)
		problem.Write(w, r, problem.Internal())
		return req, false
	}
	tok := bearer(r)
	if tok == "" || subtle.ConstantTimeCompare(proofing.Hash(tok), req.TokenHash) != 1 {
		problem.Write(w, r, problem.Unauthorized("the result token of this request is required"))
		return req, false
	}
	return req, true
}

// cancelRequest is DELETE /api/verifier/requests/{id} with the request's
// result token: the page that made the request gives it up. The request
// object is then gone (404) and a wallet's answer is refused; the result
// reads {"status": "cancelled"}. 204 on success, 409 when the request was
// answered, declined or cancelled already, or has expired.
func (a *API) cancelRequest(w http.ResponseWriter, r *http.Request) {
	req, ok := a.ownRequest(w, r, "cancel")
	if !ok {
		return
	}
	err := a.answer(r.Context(), req.ID, vpResult{Status: proofing.VerifierCancelled})
	if errors.Is(err, proofing.ErrConflict) {
		problem.Write(w, r, problem.New(http.StatusConflict, "request-closed", "Request closed",
			"the request was answered, declined, cancelled or has expired"))
		return
	}
	if err != nil {
		a.log().Error("oid4vp: cancel", "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// verify checks one vp_token against a request and records the disclosure.
// thumb is the JWK thumbprint of the request's encryption key when the
// response came encrypted (the mdoc session transcript binds it).
func (a *API) verify(ctx context.Context, req proofing.VerifierRequest, q vpQuery, vpToken string, thumb []byte) vpResult {
	failed := func(word string) vpResult { return vpResult{Status: proofing.VerifierFailed, Error: word} }
	var tok map[string]json.RawMessage
	if json.Unmarshal([]byte(vpToken), &tok) != nil || len(tok) != 1 || tok["pid"] == nil {
		return failed("malformed")
	}
	var list []string
	if json.Unmarshal(tok["pid"], &list) != nil {
		var one string
		if json.Unmarshal(tok["pid"], &one) != nil {
			return failed("malformed")
		}
		list = []string{one}
	}
	if len(list) != 1 {
		return failed("malformed")
	}
	var v *credential.Verified
	var err error
	claims := map[string]any{}
	if q.Format == "mso_mdoc" {
		dr, derr := base64.RawURLEncoding.DecodeString(list[0])
		if derr != nil {
			return failed("malformed")
		}
		st, terr := mdoc.OID4VPSessionTranscript(q.ClientID, req.Nonce, thumb, a.responseURI(req.ID))
		if terr != nil {
			return failed("malformed")
		}
		if v, err = a.Verifier.VerifyMdoc(ctx, dr, st); err == nil {
			ns, _ := v.Claims[a.Namespace].(map[string]any)
			for k, val := range ns {
				claims[k] = val
			}
		}
	} else if v, err = a.Verifier.VerifySDJWT(ctx, list[0], req.Nonce, q.ClientID); err == nil {
		claims = v.Claims
	}
	if err != nil {
		return failed(credential.Reason(err))
	}
	out := map[string]any{}
	for _, c := range q.Claims {
		val, ok := claims[c]
		if !ok && slices.Contains(q.Optional, c) {
			continue
		}
		if !ok {
			return failed("missing-claims")
		}
		if b, isBytes := val.([]byte); isBytes {
			val = base64.StdEncoding.EncodeToString(b)
		}
		out[c] = val
	}
	now := a.now()
	res := vpResult{Status: proofing.VerifierVerified, Format: q.Format, Claims: out, VerifiedAt: &now}
	if !v.ValidUntil.IsZero() {
		vu := v.ValidUntil.UTC()
		res.ValidUntil = &vu
	}
	a.recordDisclosure(ctx, q, v, out, now)
	return res
}

// recordDisclosure puts the disclosure in the citizen's history; the card
// is found by its status entry. A failure is logged, not fatal: the
// presentation itself was valid.
func (a *API) recordDisclosure(ctx context.Context, q vpQuery, v *credential.Verified, disclosed map[string]any, at time.Time) {
	if a.Disclosures == nil || v.Status == nil {
		return
	}
	card, err := a.Proofing.Store().CardByStatus(ctx, v.Status.URI, v.Status.Index)
	if err != nil {
		a.log().Warn("oid4vp: disclosure: card not found by status entry", "err", err)
		return
	}
	var shared []string
	for _, c := range q.Claims {
		if _, ok := disclosed[c]; ok {
			shared = append(shared, c)
		}
	}
	if _, err := a.Disclosures.Record(ctx, audit.Disclosure{Subject: card.Subject, RP: q.ClientID, RPName: q.Name,
		Claims: shared, Channel: audit.ChannelOID4VP, At: at}); err != nil {
		a.log().Error("oid4vp: record disclosure", "err", err)
	}
}

func (a *API) result(w http.ResponseWriter, r *http.Request) {
	req, ok := a.ownRequest(w, r, "result")
	if !ok {
		return
	}
	if req.State == proofing.VerifierPending {
		st := "pending"
		if !a.now().Before(req.ExpiresAt) {
			st = "expired"
		}
		writeJSON(w, http.StatusOK, vpResult{Status: st})
		return
	}
	plain, err := a.Sealer.Open(req.Result, []byte("oid4vp/result "+req.ID))
	if err != nil {
		a.log().Error("oid4vp: open result", "err", err)
		problem.Write(w, r, problem.Internal())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(plain)
}
