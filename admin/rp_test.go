package admin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/store/storetest"
)

func TestRPAPI(t *testing.T) {
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	admin.NewRPAPI(db.OIDC(), slog.New(slog.NewTextHandler(io.Discard, nil))).Mount(mux, "tok")
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
	hotel := `{"client_id":"hotel","name":{"zh":"大酒店","en":"Grand Hotel"},"purpose":{"zh":"在线办理入住","en":"Online check-in"},"redirect_uris":["https://hotel.example/cb"],"claims":"name,id_number,picture?"}`
	tests := []struct {
		name, method, path, token, body string
		status                          int
		problem                         string
	}{
		{"no token", "POST", "/admin/api/rps", "", hotel, 401, "unauthorized"},
		{"wrong token", "GET", "/admin/api/rps", "nope", "", 401, "unauthorized"},
		{"register", "POST", "/admin/api/rps", "tok", hotel, 201, ""},
		{"taken id", "POST", "/admin/api/rps", "tok", hotel, 409, "rp-exists"},
		{"unknown claim", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"酒吧","en":"Bar"},"redirect_uris":["https://bar.example/cb"],"claims":"password"}`, 422, "invalid-rp"},
		{"pattern redirect", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"酒吧","en":"Bar"},"redirect_uris":["https://*.example/cb"],"claims":"age_over_18"}`, 422, "invalid-rp"},
		{"private key without jwks", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"银行","en":"Bank"},"redirect_uris":["https://bank.example/cb"],"token_endpoint_auth_method":"private_key_jwt","claims":"name"}`, 422, "invalid-rp"},
		{"private jwk", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"银行","en":"Bank"},"redirect_uris":["https://bank.example/cb"],"token_endpoint_auth_method":"private_key_jwt","claims":"name","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLyOOmgzTcnsDK6IwJ9i8Q"}]}}`, 422, "invalid-rp"},
		{"unknown field", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"酒吧","en":"Bar"},"redirect_uris":["https://bar.example/cb"],"claims":"age_over_18","admin":true}`, 400, "bad-request"},
		{"name as one string", "POST", "/admin/api/rps", "tok", `{"name":"Bar","redirect_uris":["https://bar.example/cb"],"claims":"age_over_18"}`, 400, "bad-request"},
		{"name in one language", "POST", "/admin/api/rps", "tok", `{"name":{"en":"Bar"},"redirect_uris":["https://bar.example/cb"],"claims":"age_over_18"}`, 422, "invalid-rp"},
		{"purpose in one language", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"酒吧","en":"Bar"},"purpose":{"zh":"年龄核验"},"redirect_uris":["https://bar.example/cb"],"claims":"age_over_18"}`, 422, "invalid-rp"},
		{"name too long", "POST", "/admin/api/rps", "tok", `{"name":{"zh":"` + strings.Repeat("酒", 67) + `","en":"Bar"},"redirect_uris":["https://bar.example/cb"],"claims":"age_over_18"}`, 422, "invalid-rp"},
		{"not JSON", "POST", "/admin/api/rps", "tok", "", 415, "unsupported-media-type"},
		{"get", "GET", "/admin/api/rps/hotel", "tok", "", 200, ""},
		{"list", "GET", "/admin/api/rps", "tok", "", 200, ""},
		{"remove", "DELETE", "/admin/api/rps/hotel", "tok", "", 204, ""},
		{"gone", "GET", "/admin/api/rps/hotel", "tok", "", 404, "not-found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out := do(tt.method, tt.path, tt.token, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %v", st, tt.status, out)
			}
			if tt.problem != "" && !strings.HasSuffix(out["type"].(string), "/"+tt.problem) {
				t.Fatalf("problem %v, want %s", out["type"], tt.problem)
			}
			switch tt.name {
			case "register":
				if s, _ := out["client_secret"].(string); len(s) < 40 || out["claims"] != "name,id_number,picture?" || out["sector_identifier"] != "hotel.example" {
					t.Fatalf("registration answer %v", out)
				}
			case "get":
				if _, ok := out["client_secret"]; ok {
					t.Fatal("secret shown again")
				}
			}
		})
	}
}

func TestRPUpdate(t *testing.T) {
	db := storetest.SQLite(t)
	st := db.OIDC()
	mux := http.NewServeMux()
	admin.NewRPAPI(st, slog.New(slog.NewTextHandler(io.Discard, nil))).Mount(mux, "tok")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
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
	const bankKey = `{"kty":"EC","crv":"P-256","kid":"k1","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	const bankKey2 = `{"kty":"EC","crv":"P-256","kid":"k2","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	if st, out := do("POST", "/admin/api/rps", "tok", `{"client_id":"hotel","name":{"zh":"大酒店","en":"Grand Hotel"},"redirect_uris":["https://hotel.example/cb"],"claims":"name,id_number"}`); st != 201 {
		t.Fatalf("register hotel: %d %v", st, out)
	}
	if st, out := do("POST", "/admin/api/rps", "tok", `{"client_id":"bank","name":{"zh":"银行","en":"Bank"},"redirect_uris":["https://bank.example/cb"],"token_endpoint_auth_method":"private_key_jwt","claims":"name","jwks":{"keys":[`+bankKey+`]}}`); st != 201 {
		t.Fatalf("register bank: %d %v", st, out)
	}
	ctx := context.Background()
	hotel, _ := st.Client(ctx, "hotel")
	token := func() {
		t.Helper()
		if err := st.PutTokens(ctx, "", oidc.Token{ID: "rt-hotel", Refresh: true, ClientID: "hotel", Subject: "s", AuthRequestID: "ar",
			Expires: time.Now().Add(time.Hour), Data: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	hasToken := func() bool {
		_, err := st.Token(ctx, "rt-hotel")
		return err == nil
	}
	token()

	tests := []struct {
		name, id, token, body string
		status                int
		problem               string
		check                 func(t *testing.T, out map[string]any)
	}{
		{"no token", "hotel", "", `{"name":{"zh":"某","en":"X"}}`, 401, "unauthorized", nil},
		{"not JSON", "hotel", "tok", "", 415, "unsupported-media-type", nil},
		{"unknown RP", "nope", "tok", `{"name":{"zh":"某","en":"X"}}`, 404, "not-found", nil},
		{"sector is not changeable", "hotel", "tok", `{"sector_identifier":"evil.example"}`, 400, "bad-request", nil},
		{"client_id is not changeable", "hotel", "tok", `{"client_id":"other"}`, 400, "bad-request", nil},
		{"two JSON values", "hotel", "tok", `{"claims":"name"}{"claims":"name"}`, 400, "bad-request", nil},
		{"too large", "hotel", "tok", `{"name":{"zh":"某","en":"` + strings.Repeat("a", 70<<10) + `"}}`, 413, "too-large", nil},
		{"unknown claim", "hotel", "tok", `{"claims":"name,password"}`, 422, "invalid-rp", nil},
		{"pattern redirect", "hotel", "tok", `{"redirect_uris":["https://*.hotel.example/cb"]}`, 422, "invalid-rp", nil},
		{"no redirect left", "hotel", "tok", `{"redirect_uris":[]}`, 422, "invalid-rp", nil},
		{"empty name", "hotel", "tok", `{"name":{"zh":"  ","en":"  "}}`, 422, "invalid-rp", nil},
		{"name in one language", "hotel", "tok", `{"name":{"zh":"","en":"Grand Hotel"}}`, 422, "invalid-rp", nil},
		{"purpose in one language", "hotel", "tok", `{"purpose":{"zh":"","en":"Check-in"}}`, 422, "invalid-rp", nil},
		{"jwks for a secret client", "hotel", "tok", `{"jwks":{"keys":[` + bankKey + `]}}`, 422, "invalid-rp", nil},
		{"rotate secret of a key client", "bank", "tok", `{"rotate_secret":true}`, 422, "invalid-rp", nil},
		{"private jwk", "bank", "tok", `{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLyOOmgzTcnsDK6IwJ9i8Q"}]}}`, 422, "invalid-rp", nil},
		{"rename and new redirects", "hotel", "tok", `{"name":{"zh":" 南沙大酒店 ","en":"Grand Hotel Nansha"},"purpose":{"zh":"在线入住","en":"Online check-in"},"redirect_uris":["https://hotel.example/cb","https://m.hotel.example/cb"]}`, 200, "",
			func(t *testing.T, out map[string]any) {
				if fmt.Sprint(out["name"]) != "map[en:Grand Hotel Nansha zh:南沙大酒店]" || fmt.Sprint(out["purpose"]) != "map[en:Online check-in zh:在线入住]" || len(out["redirect_uris"].([]any)) != 2 || out["claims"] != "name,id_number" {
					t.Fatalf("answer %v", out)
				}
				if out["sector_identifier"] != "hotel.example" {
					t.Fatalf("sector changed: %v", out["sector_identifier"])
				}
				if _, ok := out["client_secret"]; ok {
					t.Fatal("secret shown without rotation")
				}
				if !hasToken() {
					t.Fatal("tokens revoked by a rename")
				}
			}},
		{"purpose removed", "hotel", "tok", `{"purpose":{"zh":"","en":""}}`, 200, "",
			func(t *testing.T, out map[string]any) {
				if _, ok := out["purpose"]; ok || fmt.Sprint(out["name"]) != "map[en:Grand Hotel Nansha zh:南沙大酒店]" {
					t.Fatalf("answer %v", out)
				}
			}},
		{"more entitlements keep tokens", "hotel", "tok", `{"claims":"name,id_number,picture?"}`, 200, "",
			func(t *testing.T, out map[string]any) {
				if out["claims"] != "name,id_number,picture?" || !hasToken() {
					t.Fatalf("answer %v, token kept %v", out, hasToken())
				}
			}},
		{"fewer entitlements revoke tokens", "hotel", "tok", `{"claims":"name,picture?"}`, 200, "",
			func(t *testing.T, out map[string]any) {
				if out["claims"] != "name,picture?" || hasToken() {
					t.Fatalf("answer %v, token kept %v", out, hasToken())
				}
			}},
		{"rotate secret", "hotel", "tok", `{"rotate_secret":true}`, 200, "",
			func(t *testing.T, out map[string]any) {
				s, _ := out["client_secret"].(string)
				c, _ := st.Client(ctx, "hotel")
				if len(s) < 40 || string(c.SecretHash) == string(hotel.SecretHash) {
					t.Fatalf("secret not rotated: %v", out)
				}
			}},
		{"new keys", "bank", "tok", `{"jwks":{"keys":[` + bankKey2 + `]}}`, 200, "",
			func(t *testing.T, out map[string]any) {
				c, _ := st.Client(ctx, "bank")
				if !strings.Contains(string(c.JWKS), `"k2"`) || strings.Contains(string(c.JWKS), `"k1"`) {
					t.Fatalf("jwks = %s", c.JWKS)
				}
			}},
		{"empty update changes nothing", "bank", "tok", `{}`, 200, "",
			func(t *testing.T, out map[string]any) {
				if fmt.Sprint(out["name"]) != "map[en:Bank zh:银行]" || out["claims"] != "name" {
					t.Fatalf("answer %v", out)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, out := do("PATCH", "/admin/api/rps/"+tt.id, tt.token, tt.body)
			if st != tt.status {
				t.Fatalf("status %d, want %d: %v", st, tt.status, out)
			}
			if tt.problem != "" {
				if typ, _ := out["type"].(string); !strings.HasSuffix(typ, "/"+tt.problem) {
					t.Fatalf("problem %v, want %s", out["type"], tt.problem)
				}
			}
			if tt.check != nil {
				tt.check(t, out)
			}
		})
	}
	// Refused updates changed nothing.
	if c, _ := st.Client(ctx, "hotel"); c.Sector != "hotel.example" || c.ID != "hotel" {
		t.Fatalf("hotel after refused updates: %+v", c)
	}
}
