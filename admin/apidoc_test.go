package admin_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/internal/apidoc"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestAPIDocRPRegistry sends the registration and update bodies of
// docs/api.md §6 to the real relying-party API: the registration as
// written, then the update as written, which rotates the secret.
func TestAPIDocRPRegistry(t *testing.T) {
	ex, err := apidoc.Examples()
	if err != nil {
		t.Fatal(err)
	}
	db := storetest.SQLite(t)
	mux := http.NewServeMux()
	admin.NewRPAPI(db.OIDC(), slog.New(slog.NewTextHandler(io.Discard, nil))).Mount(mux, "tok")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	do := func(method, path, name string) (int, map[string]any) {
		t.Helper()
		if ex[name] == nil {
			t.Fatalf("docs/api.md has no example %q", name)
		}
		req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(ex[name]))
		req.Header.Set("Content-Type", "application/json")
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
	st, rp := do("POST", "/admin/api/rps", "rp-registration")
	if st != http.StatusCreated {
		t.Fatalf("documented registration: %d %v", st, rp)
	}
	st, up := do("PATCH", "/admin/api/rps/"+rp["client_id"].(string), "rp-update")
	if st != http.StatusOK {
		t.Fatalf("documented update: %d %v", st, up)
	}
	if name, _ := up["name"].(map[string]any); name["zh"] != "南沙大酒店" || name["en"] != "Grand Hotel Nansha" || up["claims"] != "name,id_number" || up["client_secret"] == rp["client_secret"] || up["client_secret"] == nil {
		t.Fatalf("update answer %v", up)
	}
}

// TestAPIDocCards holds the answers of docs/api.md §5.3 to the real card
// endpoints (over the card lifecycle's one-card double): the list of a
// citizen's cards and the answer to a status change.
func TestAPIDocCards(t *testing.T) {
	ex, err := apidoc.Examples()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	admin.NewCardsAPI(&fakeCards{status: "suspended"}, nil).Mount(mux, "tok")
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, tc := range []struct{ name, method, path, body string }{
		{"cards-list", "GET", "/admin/api/registry/11010519491231002X/cards", ""},
		{"card-status-changed", "POST", "/admin/api/cards/" + cardID + "/status", `{"status": "valid"}`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer tok")
		req.Header.Set("Shenfen-Reason", "purpose=counter-service")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d %s", tc.name, res.StatusCode, b)
		}
		if ex[tc.name] == nil {
			t.Fatalf("docs/api.md has no example %q", tc.name)
		}
		if err := apidoc.SameShape(ex[tc.name], b); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
