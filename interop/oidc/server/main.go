// Command server runs shenfen's OpenID Provider for the openid-client
// interop test: an in-process provider on a fresh SQLite database with two
// registered relying parties (client_secret_basic and private_key_jwt),
// and a test wallet endpoint that approves a login transaction with a real
// card (SD-JWT VC issued by a test authority, bound to a device key) the
// way the wallet page does. It writes the settings the Node script needs
// as JSON to -out and serves until killed.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /approve", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			RequestURI string `json:"request_uri"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		redirect, err := wallet.Approve(r.Context(), req.RequestURI)
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
		"hotel":     map[string]string{"client_id": "hotel", "client_secret": secret},
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
