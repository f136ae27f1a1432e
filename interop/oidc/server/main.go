// Command server runs shenfen's OpenID Provider for the openid-client
// interop test: an in-process provider on a fresh SQLite database with two
// registered relying parties (client_secret_basic and private_key_jwt),
// and a test wallet endpoint that approves a login transaction with a real
// card (SD-JWT VC issued by a test authority, bound to a device key) the
// way the wallet page does. It writes the settings the Node script needs
// as JSON to -out and serves until killed.
//
// For the OpenID4VP interop (interop/oid4vp/run.mjs) it also serves the
// in-person verifier endpoints (package oid4vc) with a registered desk, the
// verifier registry with an online verifier whose key the Node side gets
// (the independent verifier signs its requests with it), and hands out the
// card and its device key so that an independent wallet can present it.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/sdjwt"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/oid4vc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/verifier"
)

func main() {
	out := flag.String("out", "", "file to write the settings JSON to")
	dir := flag.String("dir", "", "working directory for the database")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	db, err := store.Open(ctx, filepath.Join(*dir, "interop.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	e, err := oidctest.Start(db.OIDC(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	// Never contacted: the script reads the Location header.
	const redirect, bankRedirect = "http://127.0.0.1:9/callback", "http://localhost:9/callback"
	secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", redirect, "name,id_number,picture?")
	if err != nil {
		log.Fatal(err)
	}
	// Another host: another pairwise sector.
	key, err := e.KeyClient(ctx, "bank", "People's Bank", bankRedirect, "name,id_number")
	if err != nil {
		log.Fatal(err)
	}
	card, err := e.Authority.NewCard(nil)
	if err != nil {
		log.Fatal(err)
	}
	wallet := &oidctest.Wallet{Card: card}
	// The same card as an mdoc (IssuerSigned), for an independent wallet's
	// mso_mdoc answer to the desk.
	mdocCard, err := mdoc.Issue(ctx, mdoc.IssueParams{Profile: credential.ProfileCN, PID: card.PID, Holder: &card.Holder.PublicKey,
		Status: &card.Status, IssuedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(24 * time.Hour),
		Signer: e.Authority.Issuer.Signer(), Chain: e.Authority.Issuer.Chain})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	desk, err := serveDesk(ctx, mux, *dir, "http://"+ln.Addr().String(), e)
	if err != nil {
		log.Fatal(err)
	}
	mux.HandleFunc("POST /approve", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RequestURI string `json:"request_uri"`
			// Withhold lists the card paths the citizen leaves out in
			// the wallet's consent (optional claims).
			Withhold []string `json:"withhold"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w2 := *wallet
		w2.Withhold = req.Withhold
		redirect, err := w2.Approve(r.Context(), req.RequestURI)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"redirect_uri": redirect})
	})
	go http.Serve(ln, mux)
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		log.Fatal(err)
	}
	priv, err := key.Bytes()
	if err != nil {
		log.Fatal(err)
	}
	settings, _ := json.MarshalIndent(map[string]any{
		"issuer": e.Issuer, "redirect_uri": redirect, "bank_redirect_uri": bankRedirect, "wallet": "http://" + ln.Addr().String() + "/approve",
		"id_number": card.PID.IDNumber,
		"card":      card.Issued, "holder_jwk": privateJWK(card.Holder),
		"mdoc": base64.RawURLEncoding.EncodeToString(mdocCard), "doctype": credential.ProfileCN.DocType, "namespace": credential.ProfileCN.Namespace,
		"sign_in_root": pemOf(e.RequestRoot.Raw),
		"desk":         desk,
		"hotel":        map[string]string{"client_id": "hotel", "client_secret": secret},
		"bank": map[string]any{"client_id": "bank", "jwk": map[string]string{
			"kty": "EC", "crv": "P-256", "kid": "bank-key",
			"x": b64(pub[1:33]), "y": b64(pub[33:65]), "d": b64(priv),
		}},
	}, "", "  ")
	if err := os.WriteFile(*out+".tmp", settings, 0o600); err != nil {
		log.Fatal(err)
	}
	if err := os.Rename(*out+".tmp", *out); err != nil {
		log.Fatal(err)
	}
	<-ctx.Done()
}

func pemOf(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func privateJWK(k *ecdsa.PrivateKey) map[string]string {
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	pub, _ := k.PublicKey.Bytes()
	priv, _ := k.Bytes()
	return map[string]string{"kty": "EC", "crv": "P-256", "x": b64(pub[1:33]), "y": b64(pub[33:65]), "d": b64(priv)}
}

// serveDesk mounts the in-person verifier endpoints at base on mux: a key
// ring (the authority's root), the verifier registry with a desk entitled
// to the card's claims and an online verifier on this host, and the
// presentation verifier over the test authority's cards. It returns the
// settings the Node side needs.
func serveDesk(ctx context.Context, mux *http.ServeMux, dir, base string, e *oidctest.Env) (map[string]any, error) {
	sealer, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{6}, seal.KeySize)})
	if err != nil {
		return nil, err
	}
	kd := filepath.Join(dir, "keys")
	ring, err := keys.Open(ctx, kd, keys.NewFileProvider(kd, sealer), keys.Config{Issuer: base})
	if err != nil {
		return nil, err
	}
	db, err := store.Open(ctx, filepath.Join(dir, "desk.db"))
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(base)
	p := credential.ProfileCN
	var claims []string
	for _, c := range p.Claims() {
		if !slices.Contains(claims, c.JWT[0]) {
			claims = append(claims, c.JWT[0])
		}
	}
	reg := &verifier.Registry{Store: db.Verifiers(), CA: ring, Claims: claims, Host: u.Hostname()}
	_, token, err := reg.Register(ctx, verifier.Spec{ID: "front-desk", Kind: verifier.Desk,
		Name: verifier.Text{Zh: "南沙酒店前台", En: "Nansha Hotel front desk"}, Purpose: verifier.Text{Zh: "入住登记", En: "Guest check-in"},
		Claims: "family_name,given_name,birthdate,id_number,picture?"})
	if err != nil {
		return nil, err
	}
	onlineKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubJWK, _ := json.Marshal(keys.JWKOf(&onlineKey.PublicKey))
	online, _, err := reg.Register(ctx, verifier.Spec{ID: "bar", Kind: verifier.Online, Name: verifier.Text{Zh: "酒吧", En: "Bar"},
		Purpose: verifier.Text{Zh: "年龄核验", En: "Age check"}, Claims: "age_equal_or_over,given_name?", DNSName: u.Hostname(), JWK: pubJWK})
	if err != nil {
		return nil, err
	}
	api := &oid4vc.API{Issuer: base, VCT: p.VCT, DocType: p.DocType, Namespace: p.Namespace,
		Verifier: oid4vc.Verifiers{SDJWT: &sdjwt.Verifier{Anchors: e.Authority.Issuer.Anchors(), Status: e.Authority.Status},
			Mdoc: &mdoc.Verifier{Anchors: e.Authority.Issuer.Anchors(), Status: e.Authority.Status}},
		Requests: db.Proofing(), Sealer: sealer, Desks: reg}
	api.Mount(mux)
	return map[string]any{
		"url": base, "token": token, "root": pemOf(ring.Root().Raw), "vct": p.VCT,
		"online": map[string]any{"client_id": online.ClientID(), "x5c": []string{base64.StdEncoding.EncodeToString(online.Cert)},
			"jwk": privateJWK(onlineKey)},
	}, nil
}
