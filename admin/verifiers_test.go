package admin_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/keys"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store/storetest"
	"github.com/shenfen/shenfen/verifier"
)

func TestVerifierAPI(t *testing.T) {
	db := storetest.SQLite(t)
	s, _ := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{5}, 32)})
	dir := filepath.Join(t.TempDir(), "keys")
	ring, err := keys.Open(context.Background(), dir, keys.NewFileProvider(dir, s), keys.Config{Issuer: "https://id.example"})
	if err != nil {
		t.Fatal(err)
	}
	reg := &verifier.Registry{Store: db.Verifiers(), CA: ring, Claims: []string{"given_name", "family_name", "picture", "age_equal_or_over"}, Host: "id.example"}
	mux := http.NewServeMux()
	admin.NewVerifierAPI(reg, slog.New(slog.NewTextHandler(io.Discard, nil))).Mount(mux, "tok")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	desk := `{"id":"hotel-desk","kind":"desk","name":{"zh":"酒店前台","en":"Hotel front desk"},"purpose":{"zh":"入住登记","en":"Check-in"},"claims":"family_name,given_name,picture?"}`
	bar := `{"id":"bar","kind":"online","name":{"zh":"酒吧","en":"Bar"},"purpose":{"zh":"年龄核验","en":"Age check"},"claims":"age_equal_or_over","dns_name":"bar.example","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}}`
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		problem                         string
	}{
		{"no token", "POST", "/admin/api/verifiers", "", desk, 401, "unauthorized"},
		{"register desk", "POST", "/admin/api/verifiers", "tok", desk, 201, ""},
		{"register online", "POST", "/admin/api/verifiers", "tok", bar, 201, ""},
		{"taken id", "POST", "/admin/api/verifiers", "tok", desk, 409, "verifier-exists"},
		{"unknown claim", "POST", "/admin/api/verifiers", "tok", strings.Replace(desk, "hotel-desk", "d2", 1)[:0] + `{"kind":"desk","name":{"zh":"a","en":"a"},"purpose":{"zh":"a","en":"a"},"claims":"birth_date"}`, 422, "invalid-verifier"},
		{"unknown field", "POST", "/admin/api/verifiers", "tok", `{"kind":"desk","admin":true}`, 400, "bad-request"},
		{"get", "GET", "/admin/api/verifiers/hotel-desk", "tok", "", 200, ""},
		{"list", "GET", "/admin/api/verifiers", "tok", "", 200, ""},
		{"remove", "DELETE", "/admin/api/verifiers/hotel-desk", "tok", "", 204, ""},
		{"remove again", "DELETE", "/admin/api/verifiers/hotel-desk", "tok", "", 404, "not-found"},
	} {
		st, body := do(tc.method, tc.path, tc.token, tc.body)
		if st != tc.status || tc.problem != "" && !strings.HasSuffix(body["type"].(string), "/"+tc.problem) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, body, tc.status, tc.problem)
		}
		switch tc.name {
		case "register desk":
			if !strings.HasPrefix(body["desk_token"].(string), "sfd_") || !strings.HasPrefix(body["client_id"].(string), "x509_hash:") || len(body["x5c"].([]any)) != 2 {
				t.Errorf("desk registration: %v", body)
			}
		case "register online":
			if body["desk_token"] != nil || body["client_id"] != "x509_san_dns:bar.example" {
				t.Errorf("online registration: %v", body)
			}
		case "get", "list":
			if strings.Contains(strings.ToLower(jsonText(body)), "token") {
				t.Errorf("%s shows a token: %v", tc.name, body)
			}
		}
	}
}

func jsonText(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestVerifierEditAndRenew: an edit changes what wallets are shown and
// keeps the certificate; a renewal issues a new certificate over the same
// key (desk, online) or a new one (online, with a jwk), after which only
// the new certificate is registered; the sign-in is neither edited nor
// renewed here.
func TestVerifierEditAndRenew(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	s, _ := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{5}, 32)})
	dir := filepath.Join(t.TempDir(), "keys")
	ring, err := keys.Open(ctx, dir, keys.NewFileProvider(dir, s), keys.Config{Issuer: "https://id.example"})
	if err != nil {
		t.Fatal(err)
	}
	reg := &verifier.Registry{Store: db.Verifiers(), CA: ring, Claims: []string{"given_name", "family_name", "picture", "age_equal_or_over"}, Host: "id.example"}
	mux := http.NewServeMux()
	admin.NewVerifierAPI(reg, slog.New(slog.NewTextHandler(io.Discard, nil))).Mount(mux, "tok")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer tok")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
	st, desk := do("POST", "/admin/api/verifiers", `{"id":"hotel-desk","kind":"desk","name":{"zh":"酒店前台","en":"Hotel front desk"},"purpose":{"zh":"入住登记","en":"Check-in"},"claims":"family_name,given_name,picture?"}`)
	if st != 201 {
		t.Fatalf("register desk: %d %v", st, desk)
	}
	token := desk["desk_token"].(string)
	key := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	if st, b := do("POST", "/admin/api/verifiers", `{"id":"bar","kind":"online","name":{"zh":"酒吧","en":"Bar"},"purpose":{"zh":"年龄核验","en":"Age check"},"claims":"age_equal_or_over","dns_name":"bar.example","jwk":`+key+`}`); st != 201 {
		t.Fatalf("register bar: %d %v", st, b)
	}
	if _, err := reg.EnsureSignIn(ctx, "sign-in", verifier.Text{Zh: "登录", En: "Sign-in"}, verifier.Text{Zh: "登录", En: "Sign in"}); err != nil {
		t.Fatal(err)
	}

	// Edits.
	edit := `{"name":{"zh":"南沙酒店前台","en":"Nansha front desk"},"purpose":{"zh":"入住","en":"Check-in and deposit"},"claims":"family_name,given_name"}`
	st, got := do("PUT", "/admin/api/verifiers/hotel-desk", edit)
	if st != 200 || got["name"].(map[string]any)["en"] != "Nansha front desk" || got["claim_list"] != "family_name,given_name" || got["cert_hash"] != desk["cert_hash"] {
		t.Fatalf("edit: %d %v", st, got)
	}
	if pub, err := reg.Lookup(ctx, desk["cert_hash"].(string)); err != nil || pub.Purpose.En != "Check-in and deposit" || len(pub.Claims) != 2 {
		t.Fatalf("the registry entry wallets read after the edit: %+v, %v", pub, err)
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
		problem          string
	}{
		{"edit: kind", "/admin/api/verifiers/hotel-desk", strings.Replace(edit, "{", `{"kind":"online",`, 1), 422, "invalid-verifier"},
		{"edit: host", "/admin/api/verifiers/bar", strings.Replace(edit, "{", `{"dns_name":"evil.example",`, 1), 422, "invalid-verifier"},
		{"edit: key", "/admin/api/verifiers/bar", strings.Replace(edit, "{", `{"jwk":`+key+`,`, 1), 422, "invalid-verifier"},
		{"edit: one language", "/admin/api/verifiers/hotel-desk", `{"name":{"zh":"","en":"x"},"purpose":{"zh":"a","en":"a"},"claims":"given_name"}`, 422, "invalid-verifier"},
		{"edit: unknown claim", "/admin/api/verifiers/hotel-desk", strings.Replace(edit, "family_name,given_name", "birth_date", 1), 422, "invalid-verifier"},
		{"edit: unknown verifier", "/admin/api/verifiers/nobody", edit, 404, "not-found"},
		{"edit: the sign-in", "/admin/api/verifiers/sign-in", edit, 409, "verifier-builtin"},
	} {
		st, b := do("PUT", tc.path, tc.body)
		if st != tc.status || !strings.HasSuffix(fmt.Sprint(b["type"]), "/"+tc.problem) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, b, tc.status, tc.problem)
		}
	}

	// Renewals.
	st, renewed := do("POST", "/admin/api/verifiers/hotel-desk/certificate", "")
	if st != 200 || renewed["cert_hash"] == desk["cert_hash"] || renewed["client_id"] == desk["client_id"] {
		t.Fatalf("renew desk: %d %v", st, renewed)
	}
	if _, err := reg.Lookup(ctx, desk["cert_hash"].(string)); !errors.Is(err, verifier.ErrNotFound) {
		t.Errorf("the desk's old certificate still resolves: %v", err)
	}
	if v, err := reg.Desk(ctx, token); err != nil || v.CertHash != renewed["cert_hash"] {
		t.Errorf("the desk's token after renewal: %+v, %v", v, err)
	}
	oldDesk, _ := x509.ParseCertificate(mustB64Std(t, desk["x5c"].([]any)[0].(string)))
	newDesk, _ := x509.ParseCertificate(mustB64Std(t, renewed["x5c"].([]any)[0].(string)))
	if !newDesk.PublicKey.(*ecdsa.PublicKey).Equal(oldDesk.PublicKey) || !newDesk.NotAfter.After(time.Now()) {
		t.Errorf("renewed desk certificate: another key or not valid")
	}
	_, bar := do("GET", "/admin/api/verifiers/bar", "")
	newKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := newKey.PublicKey.Bytes()
	b64 := base64.RawURLEncoding.EncodeToString
	st, barNew := do("POST", "/admin/api/verifiers/bar/certificate", `{"jwk":{"kty":"EC","crv":"P-256","x":"`+b64(pub[1:33])+`","y":"`+b64(pub[33:65])+`"}}`)
	if st != 200 || barNew["cert_hash"] == bar["cert_hash"] || barNew["client_id"] != "x509_san_dns:bar.example" {
		t.Fatalf("renew bar with a new key: %d %v", st, barNew)
	}
	c, _ := x509.ParseCertificate(mustB64Std(t, barNew["x5c"].([]any)[0].(string)))
	if !c.PublicKey.(*ecdsa.PublicKey).Equal(&newKey.PublicKey) || c.DNSNames[0] != "bar.example" {
		t.Errorf("bar's new certificate: key or host wrong")
	}
	for _, tc := range []struct {
		name, path, body string
		status           int
		problem          string
	}{
		{"renew: same key", "/admin/api/verifiers/bar/certificate", `{}`, 200, ""},
		{"renew: bad key", "/admin/api/verifiers/bar/certificate", `{"jwk":{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}}`, 422, "invalid-verifier"},
		{"renew: a desk's jwk", "/admin/api/verifiers/hotel-desk/certificate", `{"jwk":` + key + `}`, 422, "invalid-verifier"},
		{"renew: unknown", "/admin/api/verifiers/nobody/certificate", "", 404, "not-found"},
		{"renew: the sign-in", "/admin/api/verifiers/sign-in/certificate", "", 409, "verifier-builtin"},
	} {
		st, b := do("POST", tc.path, tc.body)
		if st != tc.status || tc.problem != "" && !strings.HasSuffix(fmt.Sprint(b["type"]), "/"+tc.problem) {
			t.Errorf("%s: %d %v, want %d %s", tc.name, st, b, tc.status, tc.problem)
		}
	}
}

func mustB64Std(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
