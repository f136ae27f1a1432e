package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestCheckIn runs the hotel against an in-process provider: a guest checks
// in with a card and the page shows the name and ID number.
func TestCheckIn(t *testing.T) {
	ctx := context.Background()
	e, err := oidctest.Start(storetest.SQLite(t).OIDC(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	site := "http://" + ln.Addr().String()
	secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", site+"/callback", "name,id_number,picture?")
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(ctx, e.Issuer, "hotel", secret, site+"/callback")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, h.Handler())
	defer ln.Close()
	card, err := e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := oidctest.NewBrowser()
	_, authURL, _, err := b.Get(ctx, site+"/login")
	if err != nil || !strings.HasPrefix(authURL, e.Issuer+"/authorize?") {
		t.Fatalf("login: %q %v", authURL, err)
	}
	cb, err := b.Login(ctx, authURL, &oidctest.Wallet{Card: card, Withhold: []string{"picture"}}) // leave the portrait out in the wallet
	if err != nil {
		t.Fatal(err)
	}
	st, _, body, err := b.Get(ctx, cb.String())
	if err != nil || st != http.StatusOK {
		t.Fatalf("callback: %d %v %s", st, err, body)
	}
	for _, want := range []string{"Welcome, 张三", card.PID.IDNumber, "urn:shenfen:loa:high", "portrait not shared"} {
		if !strings.Contains(body, want) {
			t.Fatalf("page lacks %q:\n%s", want, body)
		}
	}
	// The callback cannot be replayed.
	if st, _, _, _ := b.Get(ctx, cb.String()); st == http.StatusOK {
		t.Fatal("replayed callback accepted")
	}
}
