package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/shenfen/shenfen/keys/jws"
)

// loginData is the body of a stored authorization request (AuthRequest.Data).
type loginData struct {
	Scopes       []string  `json:"scopes"`
	ResponseType string    `json:"response_type"`
	ResponseMode string    `json:"response_mode,omitempty"`
	RedirectURI  string    `json:"redirect_uri"`
	State        string    `json:"state,omitempty"`
	Nonce        string    `json:"nonce,omitempty"`
	Challenge    string    `json:"code_challenge"`
	Prompt       []string  `json:"prompt,omitempty"`
	UILocales    string    `json:"ui_locales,omitempty"` // the request's ui_locales, space-separated
	MaxAge       *uint     `json:"max_age,omitempty"`
	ACRValues    []string  `json:"acr_values,omitempty"` // acr_values, or the claims parameter's id_token acr
	Claims       []string  `json:"claims"`               // asked and entitled
	Refused      []string  `json:"refused,omitempty"`    // asked, not entitled
	WalletNonce  string    `json:"wallet_nonce"`
	Browser      string    `json:"browser,omitempty"` // hash of the browser binding secret
	Subject      string    `json:"sub,omitempty"`
	ACR          string    `json:"acr,omitempty"`
	AMR          []string  `json:"amr,omitempty"`
	AuthTime     time.Time `json:"auth_time,omitzero"`
	Citizen      []byte    `json:"citizen,omitempty"`     // HMAC-derived, for grants
	CitizenKey   []byte    `json:"citizen_key,omitempty"` // sealed, for the disclosure recorder; dropped at the grant
	Sealed       []byte    `json:"sealed,omitempty"`      // disclosed (then granted) claim values
	Granted      []string  `json:"granted,omitempty"`
	Declined     bool      `json:"declined,omitempty"` // the wallet answered access_denied
	Created      time.Time `json:"created"`
}

// The provider's own records (a request's loginData, a token's grantData,
// a refresh token's sealed refreshClaims) are JSON read and written with
// the JSON v2 implementation, three times faster than encoding/json here
// (a login decodes its request five times); the options keep what
// encoding/json accepted and wrote: invalid UTF-8 replaced, duplicate
// names allowed, nil slices as null.
var recordJSON = jsonv2.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true),
	jsonv2.FormatNilSliceAsNull(true), jsonv2.FormatNilMapAsNull(true))

func marshalRecord(v any) ([]byte, error) { return jsonv2.Marshal(v, recordJSON) }

func unmarshalRecord(b []byte, v any) error { return jsonv2.Unmarshal(b, v, recordJSON) }

// authRequest is a stored request as op sees it.
type authRequest struct {
	row AuthRequest
	d   loginData
}

func decodeAR(row AuthRequest) (*authRequest, error) {
	a := &authRequest{row: row}
	if err := unmarshalRecord(row.Data, &a.d); err != nil {
		return nil, fmt.Errorf("oidc: auth request %s: %w", row.ID, err)
	}
	if a.d.Browser == "" { // bound by the column (a request bound before it existed keeps its own)
		a.d.Browser = row.Browser
	}
	return a, nil
}

func (a *authRequest) encode() AuthRequest {
	r := a.row
	r.Data, _ = marshalRecord(a.d)
	return r
}

func (a *authRequest) GetID() string          { return a.row.ID }
func (a *authRequest) GetACR() string         { return a.d.ACR }
func (a *authRequest) GetAMR() []string       { return a.d.AMR }
func (a *authRequest) GetAudience() []string  { return []string{a.row.ClientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.d.AuthTime }
func (a *authRequest) GetClientID() string    { return a.row.ClientID }
func (a *authRequest) GetNonce() string       { return a.d.Nonce }
func (a *authRequest) GetRedirectURI() string { return a.d.RedirectURI }
func (a *authRequest) GetScopes() []string    { return a.d.Scopes }
func (a *authRequest) GetState() string       { return a.d.State }
func (a *authRequest) GetSubject() string     { return a.d.Subject }
func (a *authRequest) Done() bool             { return a.row.State == StateDone }
func (a *authRequest) GetResponseMode() oidc.ResponseMode {
	return oidc.ResponseMode(a.d.ResponseMode)
}
func (a *authRequest) GetResponseType() oidc.ResponseType {
	return oidc.ResponseType(a.d.ResponseType)
}
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return &oidc.CodeChallenge{Challenge: a.d.Challenge, Method: oidc.CodeChallengeMethodS256}
}

// grantData is the body of a token (Token.Data).
type grantData struct {
	Scopes   []string  `json:"scopes"`
	AMR      []string  `json:"amr,omitempty"`
	ACR      string    `json:"acr,omitempty"`
	AuthTime time.Time `json:"auth_time"`
	Sealed   []byte    `json:"sealed,omitempty"`
}

// refreshRequest is a refresh token as op sees it.
type refreshRequest struct {
	tok Token
	g   grantData
}

func (r *refreshRequest) GetAMR() []string            { return r.g.AMR }
func (r *refreshRequest) GetAudience() []string       { return []string{r.tok.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time      { return r.g.AuthTime }
func (r *refreshRequest) GetClientID() string         { return r.tok.ClientID }
func (r *refreshRequest) GetScopes() []string         { return r.g.Scopes }
func (r *refreshRequest) GetSubject() string          { return r.tok.Subject }
func (r *refreshRequest) SetCurrentScopes(s []string) { r.g.Scopes = s }

// client is a registered RP as op sees it.
type client struct {
	c     Client
	login string
}

func (c *client) GetID() string                       { return c.c.ID }
func (c *client) RedirectURIs() []string              { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string    { return c.c.PostLogoutRedirectURIs }
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeWeb }
func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}
func (c *client) LoginURL(id string) string            { return c.login + "?id=" + id }
func (c *client) AccessTokenType() op.AccessTokenType  { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration       { return time.Hour }
func (c *client) DevMode() bool                        { return false }
func (c *client) IsScopeAllowed(s string) bool         { return slices.Contains(Scopes, s) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }
func (c *client) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
}
func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.AuthMethod == AuthPrivateKeyJWT {
		return oidc.AuthMethodPrivateKeyJWT
	}
	return oidc.AuthMethodBasic
}
func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}
func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

// signingKey is an ID-token key: the ES256 key, or the RS256 one for
// clients that registered RS256. A non-software signer (HSM) is wrapped as
// a go-jose OpaqueSigner.
type signingKey struct {
	id     string
	alg    jose.SignatureAlgorithm // ES256 or RS256
	signer crypto.Signer
	pub    crypto.PublicKey
}

// errNoRSAKey: a client registered RS256 and the provider has no RSA key.
var errNoRSAKey = errors.New("oidc: the client registered RS256 ID tokens and the provider has no RSA key")

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k signingKey) ID() string                                  { return k.id }
func (k signingKey) Key() any {
	switch priv := k.signer.(type) {
	case *ecdsa.PrivateKey:
		return priv
	case *rsa.PrivateKey:
		return priv
	}
	return opaque{k}
}

type opaque struct{ k signingKey }

func (o opaque) Public() *jose.JSONWebKey {
	return &jose.JSONWebKey{Key: o.k.pub, KeyID: o.k.id, Algorithm: string(o.k.alg), Use: "sig"}
}
func (o opaque) Algs() []jose.SignatureAlgorithm { return []jose.SignatureAlgorithm{o.k.alg} }
func (o opaque) SignPayload(payload []byte, alg jose.SignatureAlgorithm) ([]byte, error) {
	switch {
	case alg != o.k.alg:
		return nil, fmt.Errorf("oidc: unsupported alg %s", alg)
	case alg == jose.RS256:
		d := sha256.Sum256(payload)
		return o.k.signer.Sign(rand.Reader, d[:], crypto.SHA256)
	}
	return jws.SignES256(o.k.signer, payload)
}

type publicKey struct{ k signingKey }

func (p publicKey) ID() string                         { return p.k.id }
func (p publicKey) Algorithm() jose.SignatureAlgorithm { return p.k.alg }
func (p publicKey) Use() string                        { return "sig" }
func (p publicKey) Key() any                           { return p.k.pub }

// storage implements op.Storage over the provider's Store.
type storage struct{ p *Provider }

var _ op.Storage = (*storage)(nil)
var _ op.CanSetUserinfoFromRequest = (*storage)(nil)

func notFoundErr(err error) error {
	if errors.Is(err, ErrNotFound) {
		return oidc.ErrInvalidRequest().WithDescription("not found").WithParent(err)
	}
	return err
}

// CreateAuthRequest implements op.AuthStorage: it requires PKCE (S256),
// applies the RP's entitlements, and opens the wallet login transaction.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with S256 is required")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, oidc.ErrInvalidRequest().WithDescription("only the code flow is supported")
	}
	if req.ResponseMode != "" && req.ResponseMode != oidc.ResponseModeQuery {
		return nil, oidc.ErrInvalidRequest().WithDescription("only response_mode=query is supported")
	}
	c, err := s.p.client(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	acrValues := []string(req.ACRValues)
	if raw, _ := ctx.Value(claimsParamKey{}).(string); raw != "" {
		values, essential, err := acrFromClaims(raw)
		if err != nil {
			return nil, oidc.ErrInvalidRequest().WithDescription("the claims parameter is not a JSON claims request with at most 10 acr values").WithParent(err)
		}
		if essential && !knowsAny(values) {
			return nil, errUnmetAuthentication("", values)
		}
		if values != nil {
			acrValues = values
		}
	}
	kept, claims, refused := trimScopes(&c, req.Scopes)
	now := s.p.cfg.Now()
	a := &authRequest{
		row: AuthRequest{ID: randomID(16), ClientID: c.ID, Txn: randomID(16), State: StatePending, Expires: now.Add(s.p.cfg.LoginTTL)},
		d: loginData{
			Scopes: kept, ResponseType: string(req.ResponseType), ResponseMode: string(req.ResponseMode),
			RedirectURI: req.RedirectURI, State: req.State, Nonce: req.Nonce, Challenge: req.CodeChallenge,
			Prompt: req.Prompt, MaxAge: req.MaxAge, ACRValues: acrValues, UILocales: uiLocales(req.UILocales),
			Claims: claims, Refused: refused, WalletNonce: randomID(16), Created: now,
		},
	}
	slot, bind := ctx.Value(browserSlotKey{}).(browserSlot)
	secret := ""
	if bind {
		secret = randomID(24)
		a.row.Browser = hashHex(secret)
	}
	if err := s.p.cfg.Store.CreateAuthRequest(ctx, a.encode()); err != nil {
		return nil, err
	}
	if bind {
		http.SetCookie(slot.w, s.p.bindingCookie(a.row.ID, secret))
	}
	return a, nil
}

// browserSlotKey carries the authorization response's writer (a
// browserSlot) from the authorize handler to CreateAuthRequest.
type browserSlotKey struct{}

// browserSlot: the request stored is bound to the browser making the
// authorization request, in the INSERT that stores it, by a cookie set on
// the authorization response (the redirect to the login page), so that
// the login page only reads the request. A request stored without one is
// bound by the first browser that opens its login page.
type browserSlot struct{ w http.ResponseWriter }

// uiLocales keeps the request's ui_locales as the space-separated tags.
func uiLocales(l oidc.Locales) string {
	tags := make([]string, 0, len(l))
	for _, t := range l {
		tags = append(tags, t.String())
	}
	return strings.Join(tags, " ")
}

// AuthRequestByID implements op.AuthStorage.
func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	row, err := s.p.cfg.Store.AuthRequest(ctx, id)
	if err != nil {
		return nil, notFoundErr(err)
	}
	return decodeAR(row)
}

// AuthRequestByCode implements op.AuthStorage. The code is consumed here,
// atomically: a second use fails and revokes every token the first issued
// (RFC 6749 section 4.1.2).
//
// The access token of a grant without a refresh token is stored by the
// statement that spends the code (its data prepared at consent:
// AuthRequest.Token); CreateAccessToken then hands it to op.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	now := s.p.cfg.Now()
	slot, _ := ctx.Value(tokenAlgKey{}).(*tokenAlg)
	var access *Token
	if slot != nil {
		access = &Token{ID: randomID(16), Expires: now.Add(s.p.cfg.AccessTTL)}
	}
	row, err := s.p.cfg.Store.ConsumeCode(ctx, hashHex(code), now, access)
	if errors.Is(err, ErrConflict) {
		if derr := s.p.cfg.Store.DeleteTokens(ctx, "", "", row.ID); derr != nil {
			s.p.cfg.Log.ErrorContext(ctx, "oidc: revoke tokens of replayed code", "err", derr)
		}
		return nil, oidc.ErrInvalidGrant().WithDescription("authorization code already used")
	}
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("invalid or expired authorization code")
	}
	a, err := decodeAR(row)
	if err != nil {
		return nil, err
	}
	if err := s.p.setTokenAlg(ctx, a.GetClientID()); err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	if access != nil && row.Token != nil && row.Subject != "" {
		access.ClientID, access.Subject, access.AuthRequestID = row.ClientID, row.Subject, row.ID
		slot.access = access
	}
	return a, nil
}

// SaveAuthCode implements op.AuthStorage (once per request: the store's
// conditional update refuses a second code).
func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	err := s.p.cfg.Store.SetCode(ctx, id, hashHex(code), s.p.cfg.Now().Add(s.p.cfg.CodeTTL))
	if errors.Is(err, ErrConflict) {
		return oidc.ErrInvalidRequest().WithDescription("a code was already issued for this request")
	}
	return err
}

// DeleteAuthRequest implements op.AuthStorage. The request stays (state
// used) until it expires, so that a replayed code is recognised.
func (s *storage) DeleteAuthRequest(context.Context, string) error { return nil }

// grant is what an access or refresh token issued for a carries.
func (a *authRequest) grant() grantData {
	return grantData{Scopes: a.d.Scopes, AMR: a.d.AMR, ACR: a.d.ACR, AuthTime: a.d.AuthTime, Sealed: a.d.Sealed}
}

func (s *storage) grantOf(req op.TokenRequest) (grantData, string, error) {
	switch r := req.(type) {
	case *authRequest:
		return r.grant(), r.row.ID, nil
	case *refreshRequest:
		return r.g, r.tok.AuthRequestID, nil
	}
	return grantData{}, "", fmt.Errorf("oidc: unexpected token request %T", req)
}

func (s *storage) newTokens(ctx context.Context, req op.TokenRequest, refresh bool) (Token, Token, string, error) {
	g, arID, err := s.grantOf(req)
	if err != nil {
		return Token{}, Token{}, "", err
	}
	clientID := ""
	if a, ok := req.(interface{ GetClientID() string }); ok {
		clientID = a.GetClientID()
	}
	data, _ := marshalRecord(g)
	now := s.p.cfg.Now()
	at := Token{ID: randomID(16), ClientID: clientID, Subject: req.GetSubject(), AuthRequestID: arID, Expires: now.Add(s.p.cfg.AccessTTL), Data: data}
	var rt Token
	var rtValue string
	if refresh {
		rt = at
		rt.Refresh, rt.Expires = true, now.Add(s.p.cfg.RefreshTTL)
		random := randomID(32)
		plain, err := marshalRecord(refreshClaims{ClientID: rt.ClientID, Subject: rt.Subject,
			AuthRequestID: rt.AuthRequestID, Expires: rt.Expires, Data: rt.Data})
		if err != nil {
			return Token{}, Token{}, "", fmt.Errorf("oidc: refresh token: %w", err)
		}
		rtValue = random + "." + base64.RawURLEncoding.EncodeToString(s.p.cfg.Sealer.Seal(plain, refreshAD(random)))
		rt.ID = hashHex(rtValue)
	}
	return at, rt, rtValue, nil
}

// CreateAccessToken implements op.AuthStorage: the token stored with the
// code's consumption (AuthRequestByCode), or a new one.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if slot, ok := ctx.Value(tokenAlgKey{}).(*tokenAlg); ok && slot.access != nil {
		if a, ok := req.(*authRequest); ok && a.row.ID == slot.access.AuthRequestID {
			at := slot.access
			slot.access = nil
			return at.ID, at.Expires, nil
		}
	}
	at, _, _, err := s.newTokens(ctx, req, false)
	if err != nil {
		return "", time.Time{}, err
	}
	if err := s.p.cfg.Store.PutTokens(ctx, "", at); err != nil {
		return "", time.Time{}, err
	}
	return at.ID, at.Expires, nil
}

// CreateAccessAndRefreshTokens implements op.AuthStorage, rotating the
// refresh token: the old one is deleted in the same transaction, and a
// second use of it (or of a revoked one) fails before anything is issued.
//
// Only the refresh token has a row: the access token issued with it is
// bound to that row (boundAccessID), so one insert fewer per token
// request. Revoking or rotating the refresh token, logout and code replay
// therefore end that access token too, as in Ory Hydra (fosite).
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	at, rt, rtValue, err := s.newTokens(ctx, req, true)
	if err != nil {
		return "", "", time.Time{}, err
	}
	replaces := ""
	if current != "" {
		replaces = hashHex(current)
	}
	if slot := takeAssertion(ctx); slot != nil && replaces != "" {
		// The client assertion of this refresh is spent by the rotation.
		err = s.p.cfg.Store.RotateRefreshToken(ctx, slot.pending, replaces, rt)
		slot.spent = err == nil || errors.Is(err, ErrConflict)
	} else {
		err = s.p.cfg.Store.PutTokens(ctx, replaces, rt)
	}
	if err != nil {
		if errors.Is(err, ErrAssertionSpent) {
			s.p.cfg.Log.InfoContext(ctx, "oidc: client assertion refused", "client", rt.ClientID, "err", errAssertionReplayed)
			return "", "", time.Time{}, oidc.ErrInvalidClient().WithDescription("client assertion already used")
		}
		if errors.Is(err, ErrConflict) {
			return "", "", time.Time{}, op.ErrInvalidRefreshToken
		}
		return "", "", time.Time{}, err
	}
	return boundAccessID(rt.ID, at.Expires), rtValue, at.Expires, nil
}

// An access token bound to a refresh token row is named, inside op's
// encrypted access token, "<row id>~<expiry, Unix seconds>".
const boundSep = "~"

func boundAccessID(rowID string, exp time.Time) string {
	return rowID + boundSep + strconv.FormatInt(exp.Unix(), 10)
}

// splitBoundAccessID parses an access token id made by boundAccessID.
func splitBoundAccessID(id string) (string, time.Time, bool) {
	row, e, ok := strings.Cut(id, boundSep)
	if !ok {
		return "", time.Time{}, false
	}
	exp, err := strconv.ParseInt(e, 10, 64)
	if err != nil {
		return "", time.Time{}, false
	}
	return row, time.Unix(exp, 0), true
}

// accessToken loads the record behind an access token id (op decrypted it
// from the bearer token, so it was made here): its own row, or for a bound
// access token its refresh token's row with the access token's expiry.
func (s *storage) accessToken(ctx context.Context, id string) (Token, error) {
	if row, exp, ok := splitBoundAccessID(id); ok {
		t, err := s.p.cfg.Store.Token(ctx, row)
		if err != nil {
			return t, err
		}
		if !t.Refresh {
			return t, ErrNotFound
		}
		t.ID, t.Refresh, t.Expires = id, false, exp
		return t, nil
	}
	t, err := s.p.cfg.Store.Token(ctx, id)
	if err == nil && t.Refresh {
		return t, ErrNotFound
	}
	return t, err
}

// refreshClaims is what a refresh token carries, sealed: its own record, so
// that a refresh needs no read before the rotating delete (which is what
// proves the token is still live: not used, revoked or logged out).
type refreshClaims struct {
	ClientID      string    `json:"c"`
	Subject       string    `json:"s"`
	AuthRequestID string    `json:"r"`
	Expires       time.Time `json:"e"`
	Data          []byte    `json:"d"`
}

func refreshAD(random string) []byte { return []byte("oidc-refresh|" + random) }

// TokenRequestByRefreshToken implements op.AuthStorage. A refresh token is
// "<random>.<sealed refreshClaims>"; one without the sealed part (issued
// before it existed) is looked up in the store.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, refreshToken string) (op.RefreshTokenRequest, error) {
	var t Token
	if random, sealed, ok := strings.Cut(refreshToken, "."); ok {
		raw, err := base64.RawURLEncoding.DecodeString(sealed)
		if err != nil {
			return nil, op.ErrInvalidRefreshToken
		}
		plain, err := s.p.cfg.Sealer.Open(raw, refreshAD(random))
		if err != nil {
			return nil, op.ErrInvalidRefreshToken
		}
		var c refreshClaims
		if err := unmarshalRecord(plain, &c); err != nil {
			return nil, op.ErrInvalidRefreshToken
		}
		t = Token{ID: hashHex(refreshToken), Refresh: true, ClientID: c.ClientID, Subject: c.Subject,
			AuthRequestID: c.AuthRequestID, Expires: c.Expires, Data: c.Data}
	} else {
		var err error
		if t, err = s.p.cfg.Store.Token(ctx, hashHex(refreshToken)); err != nil || !t.Refresh {
			return nil, op.ErrInvalidRefreshToken
		}
	}
	if !t.Expires.After(s.p.cfg.Now()) {
		return nil, op.ErrInvalidRefreshToken
	}
	r := &refreshRequest{tok: t}
	if err := unmarshalRecord(t.Data, &r.g); err != nil {
		return nil, err
	}
	if err := s.p.setTokenAlg(ctx, t.ClientID); err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	return r, nil
}

// TerminateSession implements op.AuthStorage (logout): the RP's tokens for
// the subject are revoked. shenfen keeps no login session of its own: every
// login is a fresh wallet approval.
func (s *storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.p.cfg.Store.DeleteTokens(ctx, userID, clientID, "")
}

// RevokeToken implements op.AuthStorage.
func (s *storage) RevokeToken(ctx context.Context, tokenOrID, userID, clientID string) *oidc.Error {
	ids := []string{tokenOrID, hashHex(tokenOrID)}
	if row, _, ok := splitBoundAccessID(tokenOrID); ok {
		ids = []string{row} // a bound access token ends with its refresh token
	}
	for _, id := range ids {
		t, err := s.p.cfg.Store.Token(ctx, id)
		if err != nil {
			continue
		}
		if t.ClientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		if err := s.p.cfg.Store.DeleteToken(ctx, id); err != nil {
			return oidc.ErrServerError().WithParent(err)
		}
	}
	return nil // unknown tokens: success (RFC 7009)
}

// GetRefreshTokenInfo implements op.AuthStorage.
func (s *storage) GetRefreshTokenInfo(ctx context.Context, clientID, token string) (string, string, error) {
	t, err := s.p.cfg.Store.Token(ctx, hashHex(token))
	if err != nil || !t.Refresh || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.Subject, t.ID, nil
}

// SigningKey implements op.AuthStorage: the key of the algorithm the
// client of the grant being exchanged registered (idtokenalg.go).
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	k, err := s.p.signingKeyFor(ctx)
	if err != nil {
		return nil, oidc.ErrServerError().WithParent(err)
	}
	return k, nil
}

// SignatureAlgorithms implements op.AuthStorage (discovery's
// id_token_signing_alg_values_supported).
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	if s.p.rsaKey != nil {
		return []jose.SignatureAlgorithm{jose.ES256, jose.RS256}, nil
	}
	return []jose.SignatureAlgorithm{jose.ES256}, nil
}

// KeySet implements op.AuthStorage.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	if s.p.rsaKey != nil {
		return []op.Key{publicKey{s.p.key}, publicKey{*s.p.rsaKey}}, nil
	}
	return []op.Key{publicKey{s.p.key}}, nil
}

// GetClientByClientID implements op.OPStorage.
func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.p.client(ctx, id)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithParent(err)
	}
	return &client{c: c, login: s.p.cfg.Issuer + "/login"}, nil
}

// AuthorizeClientIDSecret implements op.OPStorage (constant-time compare of
// SHA-256 digests; only for client_secret_basic clients).
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.p.client(ctx, id)
	if err != nil || c.AuthMethod != AuthSecretBasic || len(c.SecretHash) != sha256.Size {
		return oidc.ErrInvalidClient()
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], c.SecretHash) != 1 {
		return oidc.ErrInvalidClient()
	}
	return nil
}

// SetUserinfoFromScopes implements op.OPStorage; claims come from the
// request (SetUserinfoFromRequest), not from scopes alone.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) setClaims(ui *oidc.UserInfo, subject, clientID string, sealed []byte) error {
	ui.Subject = subject
	if len(sealed) == 0 {
		return nil
	}
	plain, err := s.p.cfg.Sealer.Open(sealed, []byte("oidc-grant|"+clientID+"|"+subject))
	if err != nil {
		return fmt.Errorf("oidc: open granted claims: %w", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(plain, &claims); err != nil {
		return err
	}
	for k, v := range claims {
		ui.AppendClaims(k, v)
	}
	return nil
}

// SetUserinfoFromRequest implements op.CanSetUserinfoFromRequest: the ID
// token carries exactly the granted claims.
func (s *storage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	g, _, err := s.grantOf(req)
	if err != nil {
		return err
	}
	return s.setClaims(ui, req.GetSubject(), req.GetClientID(), g.Sealed)
}

// SetUserinfoFromToken implements op.OPStorage (the userinfo endpoint).
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.accessToken(ctx, tokenID)
	if err != nil || t.Subject != subject || !t.Expires.After(s.p.cfg.Now()) {
		return oidc.ErrAccessDenied().WithDescription("invalid or expired access token")
	}
	var g grantData
	if err := unmarshalRecord(t.Data, &g); err != nil {
		return err
	}
	return s.setClaims(ui, t.Subject, t.ClientID, g.Sealed)
}

// SetIntrospectionFromToken implements op.OPStorage.
func (s *storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.accessToken(ctx, tokenID)
	if err != nil || t.ClientID != clientID || t.Subject != subject || !t.Expires.After(s.p.cfg.Now()) {
		return oidc.ErrAccessDenied()
	}
	var g grantData
	if err := unmarshalRecord(t.Data, &g); err != nil {
		return err
	}
	resp.Active = true
	resp.Subject = t.Subject
	resp.ClientID = t.ClientID
	resp.Scope = g.Scopes
	resp.Expiration = oidc.FromTime(t.Expires)
	return nil
}

// GetPrivateClaimsFromScopes implements op.OPStorage (none).
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// GetKeyByIDAndClientID implements op.OPStorage: the RP's registered key
// for private_key_jwt (by kid, or its only key when the JWT names none),
// wrapped so that verifying an assertion spends its jti (replay.go).
func (s *storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	set, err := s.p.clientKeys(ctx, clientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient()
	}
	if keyID == "" && len(set.Keys) == 1 {
		return s.p.assertionKeyFor(ctx, &set.Keys[0], clientID), nil
	}
	for i := range set.Keys {
		if set.Keys[i].KeyID == keyID {
			return s.p.assertionKeyFor(ctx, &set.Keys[i], clientID), nil
		}
	}
	return nil, oidc.ErrInvalidClient().WithDescription("unknown key")
}

// ValidateJWTProfileScopes implements op.OPStorage; the JWT bearer grant is
// not offered to relying parties.
func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnauthorizedClient()
}

// Health implements op.Storage.
func (s *storage) Health(context.Context) error { return nil }

func has(list []string, v string) bool { return slices.Contains(list, v) }
