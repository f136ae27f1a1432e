package oidc_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

// rp is a relying party built on go-oidc + x/oauth2, as a developer would.
type rp struct {
	cfg      oauth2.Config
	verifier *gooidc.IDTokenVerifier
	provider *gooidc.Provider
}

func newRP(t testing.TB, e *oidctest.Env, id, secret, redirect string, scopes ...string) *rp {
	t.Helper()
	ctx := context.Background()
	prov, err := gooidc.NewProvider(ctx, e.Issuer)
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	return &rp{
		cfg: oauth2.Config{ClientID: id, ClientSecret: secret, RedirectURL: redirect, Endpoint: prov.Endpoint(),
			Scopes: append([]string{gooidc.ScopeOpenID}, scopes...)},
		verifier: prov.Verifier(&gooidc.Config{ClientID: id, SupportedSigningAlgs: []string{"ES256"}}),
		provider: prov,
	}
}

type session struct {
	tok     *oauth2.Token
	id      *gooidc.IDToken
	claims  map[string]any
	callURL *url.URL
}

// login runs a whole flow and returns the verified result.
func (r *rp) login(t testing.TB, e *oidctest.Env, w *oidctest.Wallet) session {
	t.Helper()
	ctx := context.Background()
	verifier := oauth2.GenerateVerifier()
	state, nonce := "st-"+oauth2.GenerateVerifier()[:8], "n-"+oauth2.GenerateVerifier()[:8]
	authURL := r.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce))
	cb, err := oidctest.NewBrowser().Login(ctx, authURL, w)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	q := cb.Query()
	if q.Get("error") != "" {
		t.Fatalf("login: RP got error %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state {
		t.Fatalf("state = %q, want %q", q.Get("state"), state)
	}
	tok, err := r.cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := r.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	return session{tok: tok, id: idt, claims: claims, callURL: cb}
}

func startEnv(t *testing.T, db *store.DB) *oidctest.Env {
	t.Helper()
	e, err := oidctest.Start(db.OIDC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func keysOf(m map[string]any, skip ...string) []string {
	var out []string
	for k := range m {
		if !slices.Contains(skip, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

var protocolClaims = []string{"iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "c_hash", "azp", "client_id"}

func TestFullFlowGoOIDC(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := startEnv(t, db)
		hotelRedirect := "http://hotel.example/callback"
		secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", hotelRedirect, "name,id_number,picture?")
		if err != nil {
			t.Fatal(err)
		}
		barSecret, err := e.SecretClient(ctx, "bar", "Corner Bar", "http://bar.example/cb", "age_over_18")
		if err != nil {
			t.Fatal(err)
		}
		card, err := e.Authority.NewCard(nil)
		if err != nil {
			t.Fatal(err)
		}
		w := &oidctest.Wallet{Card: card}

		// The hotel asks for more than it is entitled to: age_over_18 is trimmed.
		hotel := newRP(t, e, "hotel", secret, hotelRedirect, "profile", "id_number", "picture", "age_over_18", "offline_access")
		s := hotel.login(t, e, w)
		got := keysOf(s.claims, protocolClaims...)
		want := []string{"family_name", "given_name", "id_number", "name"}
		if card.PID.Portrait != nil {
			want = []string{"family_name", "given_name", "id_number", "name", "picture"}
		}
		// family_name/given_name are not entitled: only name is.
		want = slices.DeleteFunc(want, func(c string) bool { return c == "family_name" || c == "given_name" })
		if !slices.Equal(got, want) {
			t.Fatalf("hotel ID token claims = %v, want %v", got, want)
		}
		if s.claims["id_number"] != card.PID.IDNumber || s.claims["name"] != "张三" {
			t.Fatalf("claims = %v", s.claims)
		}
		if s.claims["acr"] != oidc.ACRHigh {
			t.Fatalf("acr = %v", s.claims["acr"])
		}
		if s.id.Subject == card.PID.IDNumber || strings.Contains(s.id.Subject, card.PID.IDNumber) {
			t.Fatal("sub carries the ID number")
		}
		if at, ok := s.claims["auth_time"].(float64); !ok || time.Since(time.Unix(int64(at), 0)) > time.Minute {
			t.Fatalf("auth_time = %v", s.claims["auth_time"])
		}

		// userinfo returns the same granted claims.
		ui, err := hotel.provider.UserInfo(ctx, oauth2.StaticTokenSource(s.tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uiClaims map[string]any
		ui.Claims(&uiClaims)
		if ui.Subject != s.id.Subject || uiClaims["id_number"] != card.PID.IDNumber || uiClaims["age_over_18"] != nil {
			t.Fatalf("userinfo = %v", uiClaims)
		}

		// Refresh rotates; the old refresh token is then dead.
		if s.tok.RefreshToken == "" {
			t.Fatal("no refresh token for offline_access")
		}
		old := s.tok.RefreshToken
		expired := &oauth2.Token{RefreshToken: old, Expiry: time.Now().Add(-time.Hour)}
		nt, err := hotel.cfg.TokenSource(ctx, expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if nt.RefreshToken == "" || nt.RefreshToken == old {
			t.Fatal("refresh token not rotated")
		}
		if raw, _ := nt.Extra("id_token").(string); raw != "" {
			idt, err := hotel.verifier.Verify(ctx, raw)
			if err != nil || idt.Subject != s.id.Subject {
				t.Fatalf("refreshed ID token: %v", err)
			}
		}
		if _, err := hotel.cfg.TokenSource(ctx, expired).Token(); err == nil {
			t.Fatal("a used refresh token was accepted again")
		}

		// Same citizen, same hotel: same sub. The bar: a different sub, and
		// only age_over_18.
		// The citizen leaves the optional portrait out in the wallet: the
		// one approval finishes the login, and the portrait is neither in
		// the ID token nor at userinfo.
		s2 := hotel.login(t, e, &oidctest.Wallet{Card: card, Withhold: []string{"picture"}})
		if s2.id.Subject != s.id.Subject {
			t.Fatal("pairwise sub is not stable")
		}
		if _, ok := s2.claims["picture"]; ok {
			t.Fatal("an optional claim left out in the wallet was released in the ID token")
		}
		if s2.claims["name"] != "张三" {
			t.Fatalf("claims after leaving out the portrait = %v", s2.claims)
		}
		ui2, err := hotel.provider.UserInfo(ctx, oauth2.StaticTokenSource(s2.tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var ui2Claims map[string]any
		ui2.Claims(&ui2Claims)
		if _, ok := ui2Claims["picture"]; ok || ui2Claims["name"] != "张三" {
			t.Fatalf("userinfo after leaving out the portrait = %v", keysOf(ui2Claims))
		}
		bar := newRP(t, e, "bar", barSecret, "http://bar.example/cb", "age_over_18", "profile", "id_number")
		b := bar.login(t, e, w)
		if b.id.Subject == s.id.Subject {
			t.Fatal("two sectors see the same sub")
		}
		if got := keysOf(b.claims, protocolClaims...); !slices.Equal(got, []string{"age_over_18"}) {
			t.Fatalf("bar claims = %v", got)
		}
		if b.claims["age_over_18"] != true {
			t.Fatalf("age_over_18 = %v", b.claims["age_over_18"])
		}

		// Another citizen: another sub at the hotel.
		other, _ := e.Authority.NewCard(func(p *credential.PID) { p.IDNumber = "110101199003074578" })
		o := hotel.login(t, e, &oidctest.Wallet{Card: other})
		if o.id.Subject == s.id.Subject {
			t.Fatal("two citizens share a sub")
		}

		// Every grant is recorded for the citizen.
		grants, err := e.Provider.Grants(ctx, card.PID.IDNumber)
		if err != nil {
			t.Fatal(err)
		}
		if len(grants) != 3 || grants[0].ClientID != "hotel" || grants[2].ClientID != "bar" ||
			!slices.Equal(grants[2].Claims, []string{"age_over_18"}) || slices.Contains(grants[1].Claims, "picture") {
			t.Fatalf("grants = %+v", grants)
		}
		if len(e.Recorded) != 4 {
			t.Fatalf("recorder got %d disclosures, want 4", len(e.Recorded))
		}
		if d := <-e.Recorded; d.CitizenKey != card.PID.IDNumber || d.ClientName != "Grand Hotel" {
			t.Fatalf("disclosure = %+v", d)
		}

		// Logout (RP-initiated) revokes the RP's tokens.
		st, loc, _, err := oidctest.NewBrowser().Get(ctx, e.Issuer+"/end_session?id_token_hint="+url.QueryEscape(s2.tok.Extra("id_token").(string))+
			"&client_id=hotel&post_logout_redirect_uri="+url.QueryEscape(hotelRedirect))
		if err != nil || st != http.StatusFound || loc != hotelRedirect {
			t.Fatalf("end_session: %d %q %v", st, loc, err)
		}
		if _, err := hotel.provider.UserInfo(ctx, oauth2.StaticTokenSource(s2.tok)); err == nil {
			t.Fatal("access token still valid after logout")
		}
	})
}

func TestDiscovery(t *testing.T) {
	db := storetest.SQLite(t)
	e := startEnv(t, db)
	res, err := http.Get(e.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"issuer":                                e.Issuer,
		"pushed_authorization_request_endpoint": e.Issuer + "/par",
		"jwks_uri":                              e.Issuer + "/keys",
	}
	// Only PAR request URIs are expanded: request objects by reference are not supported.
	if d["request_uri_parameter_supported"] != false || d["request_parameter_supported"] != false {
		t.Errorf("request_uri_parameter_supported %v request_parameter_supported %v, want false (PAR only)",
			d["request_uri_parameter_supported"], d["request_parameter_supported"])
	}
	for k, v := range want {
		if d[k] != v {
			t.Errorf("%s = %v, want %v", k, d[k], v)
		}
	}
	lists := map[string][]string{
		"subject_types_supported":               {"pairwise"},
		"acr_values_supported":                  {oidc.ACRHigh, oidc.ACRSubstantial},
		"id_token_signing_alg_values_supported": {"ES256", "RS256"},
		"code_challenge_methods_supported":      {"S256"},
		"token_endpoint_auth_methods_supported": {"client_secret_basic", "private_key_jwt"},
		"response_types_supported":              {"code"},
	}
	for k, v := range lists {
		var got []string
		for _, x := range d[k].([]any) {
			got = append(got, x.(string))
		}
		if !slices.Equal(got, v) {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	// Cached: a conditional request gets 304.
	req, _ := http.NewRequest(http.MethodGet, e.Issuer+"/keys", nil)
	r1, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r1.Body.Close()
	req.Header.Set("If-None-Match", r1.Header.Get("ETag"))
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r1.Header.Get("ETag") == "" || r2.StatusCode != http.StatusNotModified {
		t.Fatalf("JWKS ETag %q, conditional status %d", r1.Header.Get("ETag"), r2.StatusCode)
	}
}

// TestConcurrentFlows runs 8 concurrent full flows, 4 each, on both
// drivers: none may fail or deadlock (SQLite queues writers with BEGIN
// IMMEDIATE and a busy timeout; every transaction is short).
func TestConcurrentFlows(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := startEnv(t, db)
		secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", "http://hotel.example/callback", "name,id_number")
		if err != nil {
			t.Fatal(err)
		}
		card, err := e.Authority.NewCard(nil)
		if err != nil {
			t.Fatal(err)
		}
		rp := &oidctest.RP{Issuer: e.Issuer, ClientID: "hotel", Secret: secret, Redirect: "http://hotel.example/callback",
			Scopes: []string{"openid", "profile", "id_number", "offline_access"}}
		errs := make(chan error, 32)
		for i := 0; i < 8; i++ {
			go func() {
				for j := 0; j < 4; j++ {
					tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: card})
					if err == nil && (tok["id_token"] == nil || tok["refresh_token"] == nil) {
						err = errors.New("token response without id_token or refresh_token")
					}
					errs <- err
				}
			}()
		}
		for i := 0; i < 32; i++ {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		grants, err := e.Provider.Grants(ctx, card.PID.IDNumber)
		if err != nil || len(grants) != 32 {
			t.Fatalf("%d grants recorded, want 32 (%v)", len(grants), err)
		}
	})
}

// TestIDTokenRS256: a relying party registered with
// id_token_signed_response_alg RS256 gets RS256 ID tokens, verified by
// go-oidc with the provider's published JWKS, at login and at refresh;
// another client keeps ES256 from the same provider, and neither gets the
// other's algorithm.
func TestIDTokenRS256(t *testing.T) {
	ctx := context.Background()
	e := startEnv(t, storetest.SQLite(t))
	const bankRedirect, hotelRedirect = "http://bank.example/cb", "http://hotel.example/cb"
	bankSecret, err := e.SecretClient(ctx, "bank", "Bank", bankRedirect, "name")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Store.Client(ctx, "bank")
	if err != nil {
		t.Fatal(err)
	}
	c.IDTokenAlg = oidc.AlgRS256
	if err := e.Store.PutClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	hotelSecret, err := e.SecretClient(ctx, "hotel", "Hotel", hotelRedirect, "name")
	if err != nil {
		t.Fatal(err)
	}
	card, err := e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &oidctest.Wallet{Card: card}
	alg := func(raw string) string {
		h, _, _ := strings.Cut(raw, ".")
		b, _ := base64.RawURLEncoding.DecodeString(h)
		var hdr struct{ Alg string }
		json.Unmarshal(b, &hdr)
		return hdr.Alg
	}

	bank := newRP(t, e, "bank", bankSecret, bankRedirect, "profile", "offline_access")
	bank.verifier = bank.provider.Verifier(&gooidc.Config{ClientID: "bank", SupportedSigningAlgs: []string{"RS256"}})
	s := bank.login(t, e, w)
	if got := alg(s.tok.Extra("id_token").(string)); got != "RS256" {
		t.Fatalf("bank's ID token is %s, want RS256", got)
	}
	// Refreshed: still RS256, still verified with the published keys.
	fresh, err := bank.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: s.tok.RefreshToken}).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := fresh.Extra("id_token").(string)
	if _, err := bank.verifier.Verify(ctx, raw); err != nil || alg(raw) != "RS256" {
		t.Fatalf("refreshed ID token (%s): %v", alg(raw), err)
	}
	// A verifier that accepts only ES256 refuses the bank's token: the
	// algorithm is the registered one, not a choice left to the token.
	es := bank.provider.Verifier(&gooidc.Config{ClientID: "bank", SupportedSigningAlgs: []string{"ES256"}})
	if _, err := es.Verify(ctx, raw); err == nil {
		t.Fatal("an RS256 token passed an ES256-only verifier")
	}

	hotel := newRP(t, e, "hotel", hotelSecret, hotelRedirect, "profile")
	hs := hotel.login(t, e, w)
	if got := alg(hs.tok.Extra("id_token").(string)); got != "ES256" {
		t.Fatalf("hotel's ID token is %s, want ES256 (the default)", got)
	}

	// Registration: RS256 and ES256 are accepted, anything else refused.
	for alg, ok := range map[string]bool{"": true, "ES256": true, "RS256": true, "none": false, "HS256": false, "PS256": false} {
		_, _, err := oidc.NewClient(oidc.ClientSpec{Name: verifier.Text{Zh: "某网站", En: "x"}, RedirectURIs: []string{"https://x.example/cb"}, Claims: "name", IDTokenAlg: alg}, time.Now())
		if (err == nil) != ok {
			t.Errorf("id_token_signed_response_alg %q: %v", alg, err)
		}
	}
}

// TestIDTokenRS256WithoutKey: a provider without an RSA key offers ES256
// only, and a client registered RS256 gets an error, not an ES256 token.
func TestIDTokenRS256WithoutKey(t *testing.T) {
	ctx := context.Background()
	e, err := oidctest.Start(storetest.SQLite(t).OIDC(), nil, func(c *oidc.Config) { c.RSASigner = nil })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if d := string(e.Provider.Discovery()); !strings.Contains(d, `"id_token_signing_alg_values_supported":["ES256"]`) {
		t.Fatalf("discovery without an RSA key: %s", d)
	}
	secret, err := e.SecretClient(ctx, "bank", "Bank", "http://bank.example/cb", "name")
	if err != nil {
		t.Fatal(err)
	}
	c, _ := e.Store.Client(ctx, "bank")
	c.IDTokenAlg = oidc.AlgRS256
	e.Store.PutClient(ctx, c)
	card, err := e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	bank := newRP(t, e, "bank", secret, "http://bank.example/cb")
	verifier := oauth2.GenerateVerifier()
	cb, err := oidctest.NewBrowser().Login(ctx, bank.cfg.AuthCodeURL("st-1", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n-1")), &oidctest.Wallet{Card: card})
	if err != nil {
		t.Fatal(err)
	}
	if tok, err := bank.cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatalf("an RS256 client got a token from a provider without an RSA key: %v", tok.Extra("id_token"))
	}
}

// TestRequestObjectsRefused: discovery says request_parameter_supported and
// request_uri_parameter_supported are false, and it is so: a request_uri
// that is not the PAR endpoint's is refused without being fetched, and a
// request object by value is refused, whatever it says.
func TestRequestObjectsRefused(t *testing.T) {
	ctx := context.Background()
	e := startEnv(t, storetest.SQLite(t))
	const redirect = "http://hotel.example/cb"
	if _, err := e.SecretClient(ctx, "hotel", "Hotel", redirect, "name"); err != nil {
		t.Fatal(err)
	}
	var fetched atomic.Int32
	ro := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.Header().Set("Content-Type", "application/oauth-authz-req+jwt")
		w.Write([]byte("e30.e30."))
	}))
	defer ro.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	q := url.Values{"client_id": {"hotel"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid"},
		"state": {"s1"}, "nonce": {"n1"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	// A plain request reaches the login page (the control).
	res, err := client.Get(e.Issuer + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.Contains(loc, "/login") {
		t.Fatalf("plain request: %d %q", res.StatusCode, loc)
	}
	byRef := url.Values{}
	for k, v := range q {
		byRef[k] = v
	}
	byRef.Set("request_uri", ro.URL+"/request.jwt")
	res, err = client.Get(e.Issuer + "/authorize?" + byRef.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || fetched.Load() != 0 {
		t.Fatalf("request object by reference: %d, fetched %d times", res.StatusCode, fetched.Load())
	}
	byValue := url.Values{}
	for k, v := range q {
		byValue[k] = v
	}
	byValue.Set("request", "eyJhbGciOiJub25lIn0.eyJjbGllbnRfaWQiOiJob3RlbCJ9.")
	res, err = client.Get(e.Issuer + "/authorize?" + byValue.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirect) || !strings.Contains(loc, "error=request_not_supported") {
		t.Fatalf("request object by value: %d %q", res.StatusCode, loc)
	}
}
