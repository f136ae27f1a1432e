package oidc_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

const (
	hotelCB = "http://hotel.example/callback"
	barCB   = "http://bar.example/cb"
)

type hostile struct {
	e       *oidctest.Env
	skew    *atomic.Int64 // clock offset in seconds
	secret  string
	bar     string
	key     *ecdsa.PrivateKey
	wallet  *oidctest.Wallet
	card    *oidctest.Card
	ctx     context.Context
	hotelRP oauth2.Config
}

func newHostile(t *testing.T) *hostile {
	t.Helper()
	ctx := context.Background()
	skew := new(atomic.Int64)
	e, err := oidctest.Start(storetest.SQLite(t).OIDC(), nil, func(c *oidc.Config) {
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load()) * time.Second) }
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	h := &hostile{e: e, skew: skew, ctx: ctx}
	if h.secret, err = e.SecretClient(ctx, "hotel", "Grand Hotel", hotelCB, "name,id_number,picture?"); err != nil {
		t.Fatal(err)
	}
	// The hotel has its name in both languages and a purpose; the bar and
	// the bank have an English name only (registered before names had two
	// languages).
	if _, _, err := oidc.Update(ctx, e.Store, "hotel", oidc.ClientUpdate{Name: &verifier.Text{Zh: "大酒店", En: "Grand Hotel"},
		Purpose: &verifier.Text{Zh: "在线办理入住", En: "Online check-in"}}); err != nil {
		t.Fatal(err)
	}
	if h.bar, err = e.SecretClient(ctx, "bar", "Corner Bar", barCB, "age_over_18"); err != nil {
		t.Fatal(err)
	}
	if h.key, err = e.KeyClient(ctx, "bank", "Bank", "https://bank.example/cb", "name,id_number"); err != nil {
		t.Fatal(err)
	}
	if h.card, err = e.Authority.NewCard(nil); err != nil {
		t.Fatal(err)
	}
	h.wallet = &oidctest.Wallet{Card: h.card}
	h.hotelRP = oauth2.Config{ClientID: "hotel", ClientSecret: h.secret, RedirectURL: hotelCB,
		Endpoint: oauth2.Endpoint{AuthURL: e.Issuer + "/authorize", TokenURL: e.Issuer + "/oauth/token", AuthStyle: oauth2.AuthStyleInHeader},
		Scopes:   []string{"openid", "profile", "id_number"}}
	return h
}

// code runs a login for the hotel and returns the code and PKCE verifier.
func (h *hostile) code(t *testing.T) (string, string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	cb, err := oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), h.wallet)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Query().Get("code") == "" {
		t.Fatalf("no code: %v", cb)
	}
	return cb.Query().Get("code"), v
}

// token posts to the token endpoint and returns status and JSON body.
func (h *hostile) token(t *testing.T, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.e.Issuer+"/oauth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body
}

func codeForm(code, verifier, redirect string) url.Values {
	return url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {verifier}, "redirect_uri": {redirect}}
}

func (h *hostile) userinfo(t *testing.T, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, h.e.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestHostileTokenEndpoint(t *testing.T) {
	h := newHostile(t)
	tests := []struct {
		name  string
		run   func(t *testing.T, code, verifier string) (int, map[string]any)
		error string
	}{
		{"PKCE mismatch", func(t *testing.T, code, _ string) (int, map[string]any) {
			return h.token(t, codeForm(code, oauth2.GenerateVerifier(), hotelCB), "hotel", h.secret)
		}, "invalid_grant"},
		{"PKCE verifier missing", func(t *testing.T, code, _ string) (int, map[string]any) {
			return h.token(t, codeForm(code, "", hotelCB), "hotel", h.secret)
		}, "invalid_request"},
		{"redirect_uri differs", func(t *testing.T, code, v string) (int, map[string]any) {
			return h.token(t, codeForm(code, v, hotelCB+"/x"), "hotel", h.secret)
		}, "invalid_grant"},
		{"wrong client secret", func(t *testing.T, code, v string) (int, map[string]any) {
			return h.token(t, codeForm(code, v, hotelCB), "hotel", "guess")
		}, "invalid_client"},
		{"no client authentication", func(t *testing.T, code, v string) (int, map[string]any) {
			f := codeForm(code, v, hotelCB)
			f.Set("client_id", "hotel")
			return h.token(t, f, "", "")
		}, "invalid_client"},
		{"code for another RP", func(t *testing.T, code, v string) (int, map[string]any) {
			return h.token(t, codeForm(code, v, hotelCB), "bar", h.bar)
		}, "invalid_grant"},
		{"expired code", func(t *testing.T, code, v string) (int, map[string]any) {
			h.skew.Store(120)
			defer h.skew.Store(0)
			return h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret)
		}, "invalid_grant"},
		{"private_key_jwt signed by another key", func(t *testing.T, code, v string) (int, map[string]any) {
			other, _ := h.e.Authority.NewCard(nil) // any fresh P-256 key
			a, _ := oidctest.ClientAssertion(other.Holder, "bank-key", "bank", h.e.Issuer)
			f := codeForm(code, v, hotelCB)
			f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
			f.Set("client_assertion", a)
			return h.token(t, f, "", "")
		}, "invalid_grant"}, // zitadel/oidc answers a bad client assertion with invalid_grant
		{"secret for a private_key_jwt client", func(t *testing.T, code, v string) (int, map[string]any) {
			return h.token(t, codeForm(code, v, hotelCB), "bank", "anything")
		}, "invalid_client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, v := h.code(t)
			st, body := tt.run(t, code, v)
			if st < 400 || body["error"] != tt.error {
				t.Fatalf("status %d body %v, want error %s", st, body, tt.error)
			}
			// A failed attempt burns the code: the right client cannot use it.
			if st, _ := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret); st == http.StatusOK {
				t.Fatal("code usable after a failed exchange")
			}
		})
	}
}

func TestCodeReplayRevokes(t *testing.T) {
	h := newHostile(t)
	code, v := h.code(t)
	st, body := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret)
	if st != http.StatusOK {
		t.Fatalf("first exchange: %d %v", st, body)
	}
	at := body["access_token"].(string)
	if h.userinfo(t, at) != http.StatusOK {
		t.Fatal("fresh access token refused")
	}
	if st, body := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret); st == http.StatusOK || body["error"] != "invalid_grant" {
		t.Fatalf("replay: %d %v", st, body)
	}
	if h.userinfo(t, at) == http.StatusOK {
		t.Fatal("token issued from a replayed code still works")
	}
}

func TestPrivateKeyJWT(t *testing.T) {
	h := newHostile(t)
	rp := oauth2.Config{ClientID: "bank", RedirectURL: "https://bank.example/cb", Scopes: []string{"openid", "profile", "id_number"},
		Endpoint: oauth2.Endpoint{AuthURL: h.e.Issuer + "/authorize"}}
	v := oauth2.GenerateVerifier()
	cb, err := oidctest.NewBrowser().Login(h.ctx, rp.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), h.wallet)
	if err != nil {
		t.Fatal(err)
	}
	a, err := oidctest.ClientAssertion(h.key, "bank-key", "bank", h.e.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	f := codeForm(cb.Query().Get("code"), v, "https://bank.example/cb")
	f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	f.Set("client_assertion", a)
	if st, body := h.token(t, f, "", ""); st != http.StatusOK || body["id_token"] == nil {
		t.Fatalf("private_key_jwt exchange: %d %v", st, body)
	}
}

// assertion signs a client assertion for the bank with the given claims.
func (h *hostile) assertion(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: h.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "bank-key"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	a, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestClientAssertionReplay: a private_key_jwt assertion is spent by its
// first use; one without jti, or living too long, is refused.
func TestClientAssertionReplay(t *testing.T) {
	h := newHostile(t)
	rp := oauth2.Config{ClientID: "bank", RedirectURL: "https://bank.example/cb", Scopes: []string{"openid", "profile", "offline_access"},
		Endpoint: oauth2.Endpoint{AuthURL: h.e.Issuer + "/authorize"}}
	v := oauth2.GenerateVerifier()
	cb, err := oidctest.NewBrowser().Login(h.ctx, rp.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), h.wallet)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims := func(jti string, exp time.Time) map[string]any {
		c := map[string]any{"iss": "bank", "sub": "bank", "aud": h.e.Issuer, "iat": now.Unix(), "exp": exp.Unix()}
		if jti != "" {
			c["jti"] = jti
		}
		return c
	}
	withAssertion := func(f url.Values, a string) url.Values {
		f.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		f.Set("client_assertion", a)
		return f
	}
	first := h.assertion(t, claims("jti-1", now.Add(time.Minute)))
	st, body := h.token(t, withAssertion(codeForm(cb.Query().Get("code"), v, "https://bank.example/cb"), first), "", "")
	if st != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", st, body)
	}
	rt := body["refresh_token"].(string)
	refresh := func(a string) (int, map[string]any) {
		return h.token(t, withAssertion(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, a), "", "")
	}
	// op reports every assertion failure on this grant as invalid_grant.
	if st, body := refresh(first); st == http.StatusOK || body["error"] == nil {
		t.Fatalf("replayed assertion accepted: %d %v", st, body)
	}
	if st, body := refresh(h.assertion(t, claims("", now.Add(time.Minute)))); st == http.StatusOK {
		t.Fatalf("assertion without jti accepted: %d %v", st, body)
	}
	if st, body := refresh(h.assertion(t, claims("jti-long", now.Add(3*time.Hour)))); st == http.StatusOK {
		t.Fatalf("assertion living 3 hours accepted: %d %v", st, body)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bankKey := h.key
	h.key = other
	forged := h.assertion(t, claims("jti-forged", now.Add(time.Minute)))
	h.key = bankKey
	if st, body := refresh(forged); st == http.StatusOK {
		t.Fatalf("assertion signed by another key accepted: %d %v", st, body)
	}
	// The refresh token was not spent by the refused requests.
	st, body = refresh(h.assertion(t, claims("jti-2", now.Add(time.Minute))))
	if st != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("refresh with a fresh assertion: %d %v", st, body)
	}
	// The same jti from another client is that client's business; the same
	// jti again from the bank is a replay even inside another grant.
	rt = body["refresh_token"].(string)
	if st, body := refresh(h.assertion(t, claims("jti-2", now.Add(2*time.Minute)))); st == http.StatusOK {
		t.Fatalf("reused jti accepted: %d %v", st, body)
	}
	// The rotated-away refresh token is dead.
	third := h.assertion(t, claims("jti-3", now.Add(time.Minute)))
	if st, body := h.token(t, withAssertion(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt + "x"}},
		third), "", ""); st == http.StatusOK {
		t.Fatalf("unknown refresh token accepted: %d %v", st, body)
	}
	// An assertion is spent by a refresh that fails before the rotation
	// (the rotation spends it otherwise): it does not work a second time
	// with the live token, which a fresh one still refreshes.
	if st, body := refresh(third); st == http.StatusOK {
		t.Fatalf("assertion of a refused refresh accepted again: %d %v", st, body)
	}
	if st, body := refresh(h.assertion(t, claims("jti-4", now.Add(time.Minute)))); st != http.StatusOK {
		t.Fatalf("refresh after the refused ones: %d %v", st, body)
	}
}

func TestHostileAuthorize(t *testing.T) {
	h := newHostile(t)
	b := oidctest.NewBrowser()
	base := url.Values{"client_id": {"hotel"}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	with := func(k, v string) string {
		q := url.Values{}
		for kk, vv := range base {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return h.e.Issuer + "/authorize?" + q.Encode()
	}
	base.Set("redirect_uri", hotelCB)
	// Unregistered redirect URIs are never redirected to.
	for _, evil := range []string{"https://evil.example/cb", hotelCB + "/../evil", hotelCB + "?x=1", "http://hotel.example.evil.example/callback", "//evil.example"} {
		st, loc, _, err := b.Get(h.ctx, with("redirect_uri", evil))
		if err != nil {
			t.Fatal(err)
		}
		if st >= 300 && st < 400 && (strings.Contains(loc, "evil") || strings.HasPrefix(loc, hotelCB)) {
			t.Fatalf("redirect_uri %q: redirected to %q", evil, loc)
		}
	}
	// Missing PKCE or plain PKCE: an error to the (registered) RP.
	for _, u := range []string{with("code_challenge", ""), with("code_challenge_method", "plain")} {
		st, loc, _, _ := b.Get(h.ctx, u)
		if st != http.StatusFound || !strings.HasPrefix(loc, hotelCB) || !strings.Contains(loc, "error=invalid_request") {
			t.Fatalf("no PKCE: %d %q", st, loc)
		}
	}
	// Unknown client: no redirect at all.
	if st, loc, _, _ := b.Get(h.ctx, with("client_id", "nobody")); st >= 300 && st < 400 {
		t.Fatalf("unknown client redirected to %q", loc)
	}
	// prompt=none: shenfen has no session, so login_required.
	st, loc, _, _ := b.Get(h.ctx, with("prompt", "none"))
	if st == http.StatusFound && strings.Contains(loc, "/login?") {
		st, loc, _, _ = b.Get(h.ctx, loc)
	}
	if !strings.Contains(loc, "error=login_required") {
		t.Fatalf("prompt=none: %d %q", st, loc)
	}
	// op's public callback is closed: a request id alone yields nothing.
	if st, _, _, _ := b.Get(h.ctx, h.e.Issuer+"/authorize/callback?id=x"); st != http.StatusNotFound {
		t.Fatalf("callback: %d", st)
	}
	// Logout never redirects to an unregistered URI.
	st, loc, _, _ = b.Get(h.ctx, h.e.Issuer+"/end_session?client_id=hotel&post_logout_redirect_uri="+url.QueryEscape("https://evil.example/"))
	if strings.Contains(loc, "evil") {
		t.Fatalf("logout open redirect: %d %q", st, loc)
	}
}

// startLogin runs authorize and the login page; it returns the login URL
// and the wallet request URI.
func (h *hostile) startLogin(t *testing.T, b *oidctest.Browser, rp oauth2.Config) (string, string) {
	t.Helper()
	_, loc, _, err := b.Get(h.ctx, rp.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil || !strings.Contains(loc, "/login?id=") {
		t.Fatalf("authorize: %q %v", loc, err)
	}
	login := loc
	st, _, body, _ := b.Get(h.ctx, login)
	if st != http.StatusOK {
		t.Fatalf("login page %d", st)
	}
	ru, err := oidctest.RequestURI(body)
	if err != nil {
		t.Fatal(err)
	}
	return login, ru
}

func TestHostileWallet(t *testing.T) {
	h := newHostile(t)
	revoked, _ := h.e.Authority.NewCard(nil)
	h.e.Authority.Status.Set(revoked.Status.URI, revoked.Status.Index, credential.StatusInvalid)
	other, _ := oidctest.NewAuthority()
	foreign, _ := other.NewCard(nil)
	tests := []struct {
		name   string
		wallet *oidctest.Wallet
	}{
		{"wrong audience", &oidctest.Wallet{Card: h.card, Audience: "https://other-verifier.example"}},
		{"wrong nonce", &oidctest.Wallet{Card: h.card, Nonce: "stale"}},
		{"revoked card", &oidctest.Wallet{Card: revoked}},
		{"card of an untrusted issuer", &oidctest.Wallet{Card: foreign}},
		{"required claim withheld", &oidctest.Wallet{Card: h.card, Withhold: []string{"id_number"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := oidctest.NewBrowser()
			_, ru := h.startLogin(t, b, h.hotelRP)
			if _, err := tt.wallet.Approve(h.ctx, ru); !errors.Is(err, oidctest.ErrRefused) {
				t.Fatalf("err = %v, want refusal", err)
			}
		})
	}
	t.Run("second answer and replay into another login", func(t *testing.T) {
		b := oidctest.NewBrowser()
		_, ru := h.startLogin(t, b, h.hotelRP)
		wr, err := h.wallet.Request(h.ctx, ru)
		if err != nil {
			t.Fatal(err)
		}
		vp, _ := h.wallet.Present(h.ctx, wr)
		if _, err := h.wallet.Respond(h.ctx, wr, vp); err != nil {
			t.Fatal(err)
		}
		if _, err := h.wallet.Respond(h.ctx, wr, vp); err == nil {
			t.Fatal("second answer accepted")
		}
		_, ru2 := h.startLogin(t, oidctest.NewBrowser(), h.hotelRP)
		wr2, _ := h.wallet.Request(h.ctx, ru2)
		if _, err := h.wallet.Respond(h.ctx, wr2, vp); !errors.Is(err, oidctest.ErrRefused) {
			t.Fatalf("replayed presentation: %v", err)
		}
	})
}

func TestHostileConsent(t *testing.T) {
	h := newHostile(t)
	b := oidctest.NewBrowser()
	// The bar asks for everything: only age_over_18 may be granted.
	barRP := h.hotelRP
	barRP.ClientID, barRP.RedirectURL, barRP.Scopes = "bar", barCB, []string{"openid", "profile", "id_number", "age_over_18", "picture"}
	login, ru := h.startLogin(t, b, barRP)
	wr, err := h.wallet.Request(h.ctx, ru)
	if err != nil {
		t.Fatal(err)
	}
	// Only the entitled claim and id_number (for the pairwise subject).
	if got := oidctest.Paths(wr); !slices.Equal(got, []string{"id_number", "age_equal_or_over.18"}) {
		t.Fatalf("wallet asked for %v", got)
	}
	// The wallet over-discloses (a hostile or buggy wallet).
	over := *h.wallet
	over.Extra = []string{"family_name", "given_name", "birthdate", "picture"}
	vp, _ := over.Present(h.ctx, wr)
	if _, err := h.wallet.Respond(h.ctx, wr, vp); err != nil {
		t.Fatal(err)
	}
	finish := strings.Replace(login, "/login?", "/finish?", 1)
	// Another browser cannot finish it (the binding cookie).
	if st, loc, _, _ := oidctest.NewBrowser().Get(h.ctx, finish); st != http.StatusForbidden || loc != "" {
		t.Fatalf("finish from another browser: status %d location %q", st, loc)
	}
	if g, _ := h.e.Provider.Grants(h.ctx, h.card.PID.IDNumber); len(g) != 0 {
		t.Fatalf("another browser's finish recorded %+v", g)
	}
	// The bound browser finishes: only the entitled claim is granted, not
	// what the wallet disclosed beyond the request.
	st, loc, _, _ := b.Get(h.ctx, finish)
	if st != http.StatusFound || !strings.HasPrefix(loc, barCB) {
		t.Fatalf("finish: %d %q", st, loc)
	}
	grants, _ := h.e.Provider.Grants(h.ctx, h.card.PID.IDNumber)
	if len(grants) != 1 || len(grants[0].Claims) != 1 || grants[0].Claims[0] != "age_over_18" {
		t.Fatalf("grant = %+v", grants)
	}
	// A second finish records nothing and issues no code.
	if st, loc, page, _ := b.Get(h.ctx, finish); st != http.StatusConflict || loc != "" || !strings.Contains(page, "finished") {
		t.Fatalf("second finish: status %d location %q", st, loc)
	}
	if g, _ := h.e.Provider.Grants(h.ctx, h.card.PID.IDNumber); len(g) != 1 {
		t.Fatalf("second finish recorded a grant: %+v", g)
	}
}

func TestDecline(t *testing.T) {
	h := newHostile(t)
	b := oidctest.NewBrowser()
	login, ru := h.startLogin(t, b, h.hotelRP)
	// The citizen declines in the wallet: the login page's next step
	// tells the RP access_denied, and nothing is granted.
	if err := h.wallet.Decline(h.ctx, ru); err != nil {
		t.Fatal(err)
	}
	if err := h.wallet.Decline(h.ctx, ru); err == nil {
		t.Fatal("a second answer to a declined request was taken")
	}
	st, loc, _, _ := b.Get(h.ctx, strings.Replace(login, "/login?", "/finish?", 1))
	if st != http.StatusSeeOther || !strings.Contains(loc, "/login?") {
		t.Fatalf("finish of a declined login: %d %q", st, loc)
	}
	st, loc, _, _ = b.Get(h.ctx, login)
	if st != http.StatusFound || !strings.HasPrefix(loc, hotelCB) || !strings.Contains(loc, "error=access_denied") {
		t.Fatalf("deny: %d %q", st, loc)
	}
	if g, _ := h.e.Provider.Grants(h.ctx, h.card.PID.IDNumber); len(g) != 0 {
		t.Fatal("declined login recorded as a grant")
	}
}

func TestPAR(t *testing.T) {
	h := newHostile(t)
	v := oauth2.GenerateVerifier()
	push := func(user, pass string, f url.Values) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, h.e.Issuer+"/par", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(user, pass)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(res.Body)
		json.Unmarshal(b, &out)
		return res.StatusCode, out
	}
	f := url.Values{"client_id": {"hotel"}, "response_type": {"code"}, "scope": {"openid profile"}, "redirect_uri": {hotelCB},
		"state": {"par-state"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"}}
	if st, _ := push("hotel", "wrong", f); st != http.StatusUnauthorized {
		t.Fatalf("bad secret: %d", st)
	}
	bad := url.Values{}
	for k, vv := range f {
		bad[k] = vv
	}
	bad.Set("redirect_uri", "https://evil.example/")
	if st, _ := push("hotel", h.secret, bad); st != http.StatusBadRequest {
		t.Fatalf("evil redirect pushed: %d", st)
	}
	st, out := push("hotel", h.secret, f)
	if st != http.StatusCreated {
		t.Fatalf("push: %d %v", st, out)
	}
	ru := out["request_uri"].(string)
	// Another client cannot use it.
	if st, loc, _, _ := oidctest.NewBrowser().Get(h.ctx, h.e.Issuer+"/authorize?client_id=bar&request_uri="+url.QueryEscape(ru)); st != http.StatusBadRequest {
		t.Fatalf("foreign client: %d %q", st, loc)
	}
	// It was burnt by that attempt (single use): push again.
	_, out = push("hotel", h.secret, f)
	authURL := h.e.Issuer + "/authorize?client_id=hotel&request_uri=" + url.QueryEscape(out["request_uri"].(string))
	cb, err := oidctest.NewBrowser().Login(h.ctx, authURL, h.wallet)
	if err != nil {
		t.Fatal(err)
	}
	if cb.Query().Get("state") != "par-state" || cb.Query().Get("code") == "" {
		t.Fatalf("PAR login callback %v", cb)
	}
	if st, body := h.token(t, codeForm(cb.Query().Get("code"), v, hotelCB), "hotel", h.secret); st != http.StatusOK {
		t.Fatalf("PAR exchange %d %v", st, body)
	}
	if st, _, _, _ := oidctest.NewBrowser().Get(h.ctx, authURL); st != http.StatusBadRequest {
		t.Fatalf("request_uri reused: %d", st)
	}
}

func TestTokenForAnotherRP(t *testing.T) {
	h := newHostile(t)
	h.hotelRP.Scopes = append(h.hotelRP.Scopes, "offline_access")
	code, v := h.code(t)
	st, body := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret)
	if st != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", st, body)
	}
	rt, at := body["refresh_token"].(string), body["access_token"].(string)
	// The bar cannot refresh the hotel's token...
	if st, body := h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "bar", h.bar); st == http.StatusOK {
		t.Fatalf("bar refreshed the hotel's token: %v", body)
	}
	// ...nor revoke it...
	req, _ := http.NewRequest(http.MethodPost, h.e.Issuer+"/revoke", strings.NewReader(url.Values{"token": {rt}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bar", h.bar)
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	// ...nor learn about its access token by introspection.
	req, _ = http.NewRequest(http.MethodPost, h.e.Issuer+"/oauth/introspect", strings.NewReader(url.Values{"token": {at}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("bar", h.bar)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var intro map[string]any
	json.NewDecoder(res.Body).Decode(&intro)
	res.Body.Close()
	if intro["active"] == true {
		t.Fatalf("bar introspected the hotel's token: %v", intro)
	}
	// The hotel's refresh token still works for the hotel.
	if st, body := h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "hotel", h.secret); st != http.StatusOK {
		t.Fatalf("hotel refresh after the bar's attempts: %d %v", st, body)
	}
}

// TestBoundAccessToken: the access token issued with a refresh token lives
// in the refresh token's row: it works until its own expiry, and ends when
// the refresh token is rotated or revoked; a tampered refresh token fails.
func TestBoundAccessToken(t *testing.T) {
	h := newHostile(t)
	h.hotelRP.Scopes = append(h.hotelRP.Scopes, "offline_access")
	code, v := h.code(t)
	st, body := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret)
	if st != http.StatusOK || body["refresh_token"] == nil {
		t.Fatalf("exchange: %d %v", st, body)
	}
	rt, at := body["refresh_token"].(string), body["access_token"].(string)
	if st := h.userinfo(t, at); st != http.StatusOK {
		t.Fatalf("userinfo with a fresh access token: %d", st)
	}
	// A refresh token whose sealed part was altered is refused.
	random, sealed, _ := strings.Cut(rt, ".")
	for _, bad := range []string{random + ".x" + sealed[1:], random + "x." + sealed, random} {
		if st, body := h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bad}}, "hotel", h.secret); st == http.StatusOK {
			t.Fatalf("altered refresh token %q accepted: %v", bad, body)
		}
	}
	st, body = h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "hotel", h.secret)
	if st != http.StatusOK {
		t.Fatalf("refresh: %d %v", st, body)
	}
	rt2, at2 := body["refresh_token"].(string), body["access_token"].(string)
	if st := h.userinfo(t, at); st == http.StatusOK {
		t.Fatal("access token of a rotated refresh token still works")
	}
	if st := h.userinfo(t, at2); st != http.StatusOK {
		t.Fatalf("userinfo with the new access token: %d", st)
	}
	// The access token expires on its own clock, not the refresh token's.
	h.skew.Store(int64((16 * time.Minute).Seconds()))
	if st := h.userinfo(t, at2); st == http.StatusOK {
		t.Fatal("expired access token still works")
	}
	h.skew.Store(0)
	// Revoking the access token ends its refresh token.
	req, _ := http.NewRequest(http.MethodPost, h.e.Issuer+"/revoke", strings.NewReader(url.Values{"token": {at2}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("hotel", h.secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if st := h.userinfo(t, at2); st == http.StatusOK {
		t.Fatal("revoked access token still works")
	}
	if st, body := h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt2}}, "hotel", h.secret); st == http.StatusOK {
		t.Fatalf("refresh token of a revoked access token still works: %v", body)
	}
}
