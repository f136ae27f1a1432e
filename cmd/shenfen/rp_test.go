package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/verifier"
)

// TestRPCommands registers relying parties and changes them with
// "rp update" end to end on SQLite.
func TestRPCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	jwks := func(kid string) string {
		p := filepath.Join(dir, kid+".json")
		os.WriteFile(p, []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"`+kid+`","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`), 0o600)
		return p
	}
	for _, args := range [][]string{
		{"add", "--data", data, "--id", "hotel", "--name-zh", "大酒店", "--name-en", "Grand Hotel", "--redirect", "https://hotel.example/cb", "--claims", "name,id_number"},
		{"add", "--data", data, "--id", "bank", "--name-zh", "银行", "--name-en", "Bank", "--redirect", "https://bank.example/cb", "--claims", "name", "--jwks", jwks("k1")},
		{"update", "hotel", "--data", data, "--name-zh", "南沙大酒店", "--name-en", "Grand Hotel Nansha", "--purpose-zh", "在线入住", "--purpose-en", "Online check-in", "--claims", "name,id_number,picture?"},
		{"update", "--data", data, "--redirect", "https://hotel.example/cb", "--redirect", "https://m.hotel.example/cb", "hotel"},
		{"update", "bank", "--data", data, "--jwks", jwks("k2")},
	} {
		if err := runRP(ctx, args); err != nil {
			t.Fatalf("rp %v: %v", args, err)
		}
	}
	st := func() *oidc.Client {
		t.Helper()
		a := openTestApp(t, data)
		defer a.Close()
		c, err := a.db.OIDC().Client(ctx, "hotel")
		if err != nil {
			t.Fatal(err)
		}
		b, err := a.db.OIDC().Client(ctx, "bank")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b.JWKS), `"k2"`) {
			t.Fatalf("bank keys not replaced: %s", b.JWKS)
		}
		return &c
	}
	c := st()
	if c.Name != (verifier.Text{Zh: "南沙大酒店", En: "Grand Hotel Nansha"}) || c.Purpose != (verifier.Text{Zh: "在线入住", En: "Online check-in"}) || oidc.FormatEntitlements(c.Entitlements) != "name,id_number,picture?" ||
		strings.Join(c.RedirectURIs, " ") != "https://hotel.example/cb https://m.hotel.example/cb" || c.Sector != "hotel.example" {
		t.Fatalf("hotel after updates: %+v", c)
	}
	before := string(c.SecretHash)
	if err := runRP(ctx, []string{"update", "hotel", "--data", data, "--rotate-secret"}); err != nil {
		t.Fatal(err)
	}
	if string(st().SecretHash) == before {
		t.Fatal("secret not rotated")
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"update", "--data", data, "--name-en", "X"}, "exactly one client_id"},
		{[]string{"update", "hotel", "--data", data}, "nothing to change"},
		{[]string{"update", "nope", "--data", data, "--name-zh", "某", "--name-en", "X"}, "not found"},
		{[]string{"update", "hotel", "--data", data, "--name-en", "X"}, "both zh and en"},
		{[]string{"update", "hotel", "--data", data, "--purpose-zh", "入住"}, "purpose: give both"},
		{[]string{"add", "--data", data, "--id", "bar", "--name-en", "Bar", "--redirect", "https://bar.example/cb", "--claims", "age_over_18"}, "both zh and en"},
		{[]string{"update", "hotel", "--data", data, "--claims", "password"}, "unknown claim"},
		{[]string{"update", "hotel", "--data", data, "--jwks", jwks("k3")}, "only for private_key_jwt"},
		{[]string{"update", "bank", "--data", data, "--rotate-secret"}, "only for client_secret_basic"},
		{[]string{"update", "hotel", "--data", data, "--redirect", "https://*.example/cb"}, "patterns"},
	} {
		err := runRP(ctx, tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("rp %v: %v, want an error with %q", tt.args, err, tt.want)
		}
	}
	if err := runRP(ctx, []string{"update", "nope", "--data", data, "--name-zh", "某", "--name-en", "X"}); !errors.Is(err, oidc.ErrNotFound) {
		t.Fatalf("unknown client: %v", err)
	}
}
