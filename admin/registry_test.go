package admin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/seal"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

const token = "test-admin-token-0123456789"

func newServer(t *testing.T) (*httptest.Server, *bytes.Buffer) {
	db := storetest.SQLite(t)
	sl, err := seal.New(map[byte][]byte{1: bytes.Repeat([]byte{1}, seal.KeySize)})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	mux := http.NewServeMux()
	admin.NewRegistryAPI(registry.NewService(store.NewRegistry(db), sl), slog.New(slog.NewJSONHandler(&logs, nil))).Mount(mux, token)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, &logs
}

func call(t *testing.T, srv *httptest.Server, method, path, tok, ctype, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, b)
		}
	}
	return resp.StatusCode, m, resp.Header
}

const record = `{"id_number":"440115199003071238","name":"王伟","address":"广东省广州市南沙区进港大道1号","authority":"广州市公安局南沙分局","valid_from":"2015-01-02","valid_until":"2035-01-02","ethnicity":"汉"}`

func TestRegistryAPI(t *testing.T) {
	srv, logs := newServer(t)
	const js = "application/json"

	code, body, h := call(t, srv, "POST", "/admin/api/registry", token, js, record)
	if code != 201 || body["outcome"] != "inserted" || h.Get("Location") != "/admin/api/registry/440115199003071238" {
		t.Fatalf("add: %d %v", code, body)
	}
	if rec := body["record"].(map[string]any); rec["sex"] != "male" || rec["birth_date"] != "1990-03-07" || rec["status"] != "valid" {
		t.Fatalf("added record %v", rec)
	}
	if code, body, _ = call(t, srv, "POST", "/admin/api/registry", token, "application/json; charset=utf-8", record); code != 200 || body["outcome"] != "unchanged" {
		t.Fatalf("re-add: %d %v", code, body)
	}
	code, body, h = call(t, srv, "GET", "/admin/api/registry/440115199003071238", token, "", "")
	if code != 200 || body["name"] != "王伟" || h.Get("Cache-Control") != "no-store" {
		t.Fatalf("get: %d %v", code, body)
	}
	if code, body, _ = call(t, srv, "POST", "/admin/api/registry/440115199003071238/status", token, js, `{"status":"cancelled"}`); code != 200 || body["status"] != "cancelled" {
		t.Fatalf("status: %d %v", code, body)
	}
	if _, body, _ = call(t, srv, "GET", "/admin/api/registry/440115199003071238", token, "", ""); body["status"] != "cancelled" {
		t.Fatalf("status not kept: %v", body)
	}

	problems := []struct {
		name, method, path, tok, ctype, body string
		code                                 int
		typ, says                            string
	}{
		{"no token", "GET", "/admin/api/registry/440115199003071238", "", "", "", 401, "unauthorized", ""},
		{"wrong token", "GET", "/admin/api/registry/440115199003071238", token + "x", "", "", 401, "unauthorized", ""},
		{"short token", "GET", "/admin/api/registry/440115199003071238", "t", "", "", 401, "unauthorized", ""},
		{"bad id", "GET", "/admin/api/registry/440115199003071232", token, "", "", 400, "invalid-id-number", "check character"},
		{"missing", "GET", "/admin/api/registry/11010519491231002X", token, "", "", 404, "not-found", ""},
		{"not json", "POST", "/admin/api/registry", token, "text/plain", record, 415, "unsupported-media-type", ""},
		{"malformed", "POST", "/admin/api/registry", token, js, `{"id_number":`, 422, "invalid-record", "JSON"},
		{"unknown field", "POST", "/admin/api/registry", token, js, `{"id_number":"x","ssn":"1"}`, 422, "invalid-record", "unknown field"},
		{"invalid fields", "POST", "/admin/api/registry", token, js,
			`{"id_number":"440115199003071238","name":"","address":"a","authority":"b","valid_from":"2015-01-01","sex":"female"}`,
			422, "invalid-record", "name: missing"},
		{"bad status", "POST", "/admin/api/registry/440115199003071238/status", token, js, `{"status":"dead"}`, 422, "invalid-record", "status"},
		{"status body", "POST", "/admin/api/registry/440115199003071238/status", token, js, `[]`, 400, "bad-request", ""},
		{"status missing", "POST", "/admin/api/registry/11010519491231002X/status", token, js, `{"status":"valid"}`, 404, "not-found", ""},
	}
	for _, tc := range problems {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := call(t, srv, tc.method, tc.path, tc.tok, tc.ctype, tc.body)
			if code != tc.code || body["type"] != "https://shenfen.dev/problems/"+tc.typ {
				t.Fatalf("%d %v, want %d %s", code, body, tc.code, tc.typ)
			}
			if h.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("content type %q", h.Get("Content-Type"))
			}
			if tc.code == 401 && h.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			b, _ := json.Marshal(body)
			if !strings.Contains(string(b), tc.says) {
				t.Fatalf("problem %s does not say %q", b, tc.says)
			}
		})
	}
	if strings.Contains(logs.String(), "440115199003071238") || strings.Contains(logs.String(), "王伟") {
		t.Fatalf("PII in logs: %s", logs)
	}
}

func TestRequireTokenEmptyRefusesAll(t *testing.T) {
	h := admin.RequireToken("", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	for _, auth := range []string{"", "Bearer ", "Bearer x", "Basic eDp5"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		h.ServeHTTP(rec, req)
		if rec.Code != 401 {
			t.Fatalf("%q: %d", auth, rec.Code)
		}
	}
	ok := admin.RequireToken("s3cret-token-value", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "bearer s3cret-token-value")
	ok.ServeHTTP(rec, req)
	if rec.Code != 204 {
		t.Fatalf("right token refused: %d", rec.Code)
	}
}

// failingRegistry answers every call with an internal error.
type failingRegistry struct{}

var errDB = errors.New("db down: secret detail")

func (failingRegistry) Put(context.Context, registry.Record) (registry.Outcome, error) {
	return "", errDB
}
func (failingRegistry) Get(context.Context, registry.IDNumber) (registry.Record, error) {
	return registry.Record{}, errDB
}
func (failingRegistry) SetStatus(context.Context, registry.IDNumber, registry.Status) error {
	return errDB
}

func TestInternalErrorsHideDetails(t *testing.T) {
	var logs bytes.Buffer
	mux := http.NewServeMux()
	admin.NewRegistryAPI(failingRegistry{}, slog.New(slog.NewJSONHandler(&logs, nil))).Mount(mux, token)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/admin/api/registry/440115199003071238", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	mux.ServeHTTP(rec, req)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "secret detail") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "secret detail") || strings.Contains(logs.String(), "440115199003071238") {
		t.Fatalf("log %s", logs.String())
	}
}
