package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

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
