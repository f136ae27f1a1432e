package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestBrowserBinding: a login belongs to the browser that made the
// authorization request (its cookie is set on the redirect to the login
// page); another browser opening the login page is refused, before and
// after the owner did. A request stored unbound is bound by the first
// browser that opens its login page, and only that one.
func TestBrowserBinding(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	e, err := oidctest.Start(db.OIDC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", hotelCB, "name,id_number")
	if err != nil {
		t.Fatal(err)
	}
	rp := oauth2.Config{ClientID: "hotel", ClientSecret: secret, RedirectURL: hotelCB,
		Endpoint: oauth2.Endpoint{AuthURL: e.Issuer + "/authorize"}, Scopes: []string{"openid", "profile"}}
	authorize := func(b *oidctest.Browser) string {
		t.Helper()
		st, loc, body, err := b.Get(ctx, rp.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
		if err != nil || st != http.StatusFound {
			t.Fatalf("authorize: %d %v %.200s", st, err, body)
		}
		u, _ := url.Parse(e.Issuer)
		lu, _ := u.Parse(loc)
		return lu.String()
	}
	page := func(b *oidctest.Browser, u string) int {
		t.Helper()
		st, _, _, err := b.Get(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	owner, other := oidctest.NewBrowser(), oidctest.NewBrowser()
	login := authorize(owner)
	if st := page(other, login); st != http.StatusForbidden {
		t.Fatalf("another browser first: %d", st)
	}
	if st := page(owner, login); st != http.StatusOK {
		t.Fatalf("owner: %d", st)
	}
	if st := page(other, login); st != http.StatusForbidden {
		t.Fatalf("another browser after the owner: %d", st)
	}
	// The whole login goes through for the owner only.
	if _, err := owner.Login(ctx, rp.AuthCodeURL("s2", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), &oidctest.Wallet{Card: mustCard(t, e)}); err != nil {
		t.Fatalf("owner's login: %v", err)
	}

	// A request stored unbound: the first browser to open the page binds it.
	login = authorize(oidctest.NewBrowser())
	if _, err := db.Exec(ctx, `UPDATE oidc_auth_requests SET browser = NULL`); err != nil {
		t.Fatal(err)
	}
	first, second := oidctest.NewBrowser(), oidctest.NewBrowser()
	if st := page(first, login); st != http.StatusOK {
		t.Fatalf("first browser on an unbound request: %d", st)
	}
	if st := page(second, login); st != http.StatusForbidden {
		t.Fatalf("second browser on a bound request: %d", st)
	}
	if st := page(first, login); st != http.StatusOK {
		t.Fatalf("first browser again: %d", st)
	}
	u, _ := url.Parse(login)
	if c := first.HTTP.Jar.Cookies(u); len(c) != 1 || !strings.HasPrefix(c[0].Name, "sfo_") {
		t.Fatalf("binding cookies: %v", c)
	}
}

func mustCard(t *testing.T, e *oidctest.Env) *oidctest.Card {
	t.Helper()
	c, err := e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestOneStatementWritesEachDriver runs the writes that were merged into
// single statements (browser binding at authorize, consent, code exchange
// storing the access token, refresh rotation spending the assertion)
// through whole flows on each driver: the access token works, a replayed
// code revokes it, a refresh with private_key_jwt rotates once and its
// assertion is single use.
func TestOneStatementWritesEachDriver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e, err := oidctest.Start(db.OIDC(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		h := &hostile{e: e, ctx: ctx}
		if h.secret, err = e.SecretClient(ctx, "hotel", "Grand Hotel", hotelCB, "name,id_number"); err != nil {
			t.Fatal(err)
		}
		if h.key, err = e.KeyClient(ctx, "bank", "Bank", "https://bank.example/cb", "name,id_number"); err != nil {
			t.Fatal(err)
		}
		h.card = mustCard(t, e)
		h.wallet = &oidctest.Wallet{Card: h.card}
		h.hotelRP = oauth2.Config{ClientID: "hotel", ClientSecret: h.secret, RedirectURL: hotelCB,
			Endpoint: oauth2.Endpoint{AuthURL: e.Issuer + "/authorize"}, Scopes: []string{"openid", "profile", "id_number"}}

		code, v := h.code(t)
		st, body := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret)
		if st != http.StatusOK {
			t.Fatalf("exchange: %d %v", st, body)
		}
		at := body["access_token"].(string)
		if h.userinfo(t, at) != http.StatusOK {
			t.Fatal("access token refused")
		}
		if st, _ := h.token(t, codeForm(code, v, hotelCB), "hotel", h.secret); st == http.StatusOK {
			t.Fatal("code replay accepted")
		}
		if h.userinfo(t, at) == http.StatusOK {
			t.Fatal("access token of a replayed code still works")
		}
		grants, err := e.Provider.Grants(ctx, h.card.PID.IDNumber)
		if err != nil || len(grants) != 1 || grants[0].ClientID != "hotel" {
			t.Fatalf("grants %+v %v", grants, err)
		}

		rp := &oidctest.RP{Issuer: e.Issuer, ClientID: "bank", Key: h.key, KID: "bank-key", Redirect: "https://bank.example/cb",
			Scopes: []string{"openid", "profile", "offline_access"}}
		tok, err := rp.Flow(ctx, h.wallet)
		if err != nil {
			t.Fatal(err)
		}
		rt := tok["refresh_token"].(string)
		if h.userinfo(t, tok["access_token"].(string)) != http.StatusOK {
			t.Fatal("access token of the refresh grant refused")
		}
		a, err := oidctest.ClientAssertion(h.key, "bank-key", "bank", e.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		refresh := func(rt, a string) (int, map[string]any) {
			return h.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {a}}, "", "")
		}
		st, body = refresh(rt, a)
		if st != http.StatusOK || body["refresh_token"] == nil {
			t.Fatalf("refresh: %d %v", st, body)
		}
		next := body["refresh_token"].(string)
		if st, _ := refresh(next, a); st == http.StatusOK {
			t.Fatal("assertion replayed")
		}
		fresh, _ := oidctest.ClientAssertion(h.key, "bank-key", "bank", e.Issuer)
		if st, _ := refresh(rt, fresh); st == http.StatusOK {
			t.Fatal("rotated-away refresh token accepted")
		}
		fresh, _ = oidctest.ClientAssertion(h.key, "bank-key", "bank", e.Issuer)
		if st, body := refresh(next, fresh); st != http.StatusOK {
			t.Fatalf("refresh after the refused ones: %d %v", st, body)
		}
	})
}
