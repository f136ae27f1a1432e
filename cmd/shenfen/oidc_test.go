package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/shenfen/shenfen/config"
	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/status"
	"github.com/shenfen/shenfen/verifier"
)

// TestOIDCWiring runs the provider as serve wires it: a card issued with
// the authority's own document signer and status list signs a citizen in
// (real verifier, local status, audit disclosure history), and the same
// card is refused once revoked.
func TestOIDCWiring(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg, _, err := config.Load("serve", []string{"--data", t.TempDir(), "--public-url", base, "--admin-token", "test-admin-token-0123"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := server.New(a.log, a.db)
	if err := mountTrust(ctx, a, srv); err != nil {
		t.Fatal(err)
	}
	if err := mountOIDC(ctx, a, srv); err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, srv.Handler())
	defer ln.Close()

	c, secret, err := oidc.Register(ctx, a.db.OIDC(), oidc.ClientSpec{ID: "hotel", Name: verifier.Text{Zh: "大酒店", En: "Grand Hotel"},
		RedirectURIs: []string{"http://hotel.example/cb"}, Claims: "name,id_number"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// A card from the authority's own keys and status list.
	signer, chain, err := a.trust.ring.Chain(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := a.trust.status.Allocate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credential.NewPID(credential.PID{FamilyName: "张", GivenName: "三", Sex: credential.SexMale,
		BirthDate: "1990-03-07", Address: "广州", IDNumber: "440115199003070016", Authority: "广州市公安局南沙分局",
		Country: "CN", IssuedOn: "2020-01-01", ExpiresOn: "2040-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	holder := oidctestKey(t)
	now := time.Now()
	issued, err := sdjwt.Issue(ctx, sdjwt.IssueParams{Issuer: base, Profile: credential.ProfileCN, PID: pid,
		Holder: &holder.PublicKey, Status: &credential.StatusRef{URI: ref.URI, Index: ref.Index},
		IssuedAt: now.Add(-time.Minute), ExpiresAt: now.AddDate(1, 0, 0), Signer: signer, Chain: chain})
	if err != nil {
		t.Fatal(err)
	}
	card := &oidctest.Card{Issued: issued, Holder: holder, PID: pid}
	rp := &oidctest.RP{Issuer: base + "/oidc", ClientID: c.ID, Secret: secret, Redirect: "http://hotel.example/cb", Scopes: []string{"openid", "profile", "id_number"}}
	tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: card})
	if err != nil {
		t.Fatalf("login with the authority's card: %v", err)
	}
	if tok["id_token"] == nil {
		t.Fatal("no ID token")
	}
	// The grant is in the citizen's audit history, under the registry index.
	id, _ := registry.ParseIDNumber(pid.IDNumber, now)
	h, err := a.trust.audit.History(ctx, base64.RawURLEncoding.EncodeToString(a.registry.Index(id)), 0)
	if err != nil || len(h) != 1 || h[0].RP != "hotel" || h[0].Channel != "oidc" {
		t.Fatalf("history = %+v, %v", h, err)
	}
	// Revoked: refused.
	if err := a.trust.status.Revoke(ctx, status.Ref{URI: ref.URI, Index: ref.Index}); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.Flow(ctx, &oidctest.Wallet{Card: card}); !errors.Is(err, oidctest.ErrRefused) {
		t.Fatalf("revoked card: %v", err)
	}
}

func oidctestKey(t *testing.T) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
