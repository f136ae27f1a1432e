package oidc_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
)

// FuzzWalletResponse posts arbitrary vp_token values to a pending login
// transaction: every one is refused with a 4xx and the server never fails
// (a refusal leaves the transaction pending for the next try).
func FuzzWalletResponse(f *testing.F) {
	for _, s := range []string{"", "~", "a.b.c~", "eyJhbGciOiJFUzI1NiJ9.e30.AA~d~kb", strings.Repeat("~", 300), "\x00\xff"} {
		f.Add(s)
	}
	e, err := oidctest.Start(storetest.SQLite(f).OIDC(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(e.Close)
	ctx := context.Background()
	if _, err := e.SecretClient(ctx, "hotel", "Grand Hotel", hotelCB, "name,id_number"); err != nil {
		f.Fatal(err)
	}
	b := oidctest.NewBrowser()
	rp := oauth2.Config{ClientID: "hotel", RedirectURL: hotelCB, Scopes: []string{"openid", "profile"}, Endpoint: oauth2.Endpoint{AuthURL: e.Issuer + "/authorize"}}
	_, loc, _, err := b.Get(ctx, rp.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())))
	if err != nil {
		f.Fatal(err)
	}
	_, _, page, err := b.Get(ctx, loc)
	if err != nil {
		f.Fatal(err)
	}
	ru, err := oidctest.RequestURI(page)
	if err != nil {
		f.Fatal(err)
	}
	resp := strings.Replace(ru, "/wallet/request/", "/wallet/response/", 1)
	f.Fuzz(func(t *testing.T, vp string) {
		res, err := http.PostForm(resp, url.Values{"vp_token": {vp}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 {
			t.Fatalf("vp_token %q: status %d", vp, res.StatusCode)
		}
	})
}
