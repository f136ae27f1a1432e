package oid4vc_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/credential/credtest"
)

// TestWalletOnAnotherOrigin: a browser wallet served from another origin
// can read the request object, the answer to its response and the
// verifier's registration (CORS "*", never with credentials); the desk's
// own result endpoint stays closed to other origins.
func TestWalletOnAnotherOrigin(t *testing.T) {
	e := doubleEnv(t)
	resp, m := e.ask(t, map[string]any{"claims": []string{"family_name"}})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %v", resp.StatusCode, m)
	}
	qr, _ := url.Parse(m["qr"].(string))
	local := func(u string) string { return strings.Replace(u, credtest.IssuerURL, e.srv.URL, 1) }
	const wallet = "https://wallet.elsewhere.example"
	call := func(method, u, body string) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, u, strings.NewReader(body))
		r.Header.Set("Origin", wallet)
		if body != "" {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	reqObj := call("GET", local(qr.Query().Get("request_uri")), "")
	// The request object's certificate hash and response URI.
	r, err := http.Get(local(qr.Query().Get("request_uri")))
	if err != nil {
		t.Fatal(err)
	}
	jwt, _ := io.ReadAll(r.Body)
	r.Body.Close()
	seg := strings.Split(string(jwt), ".")
	var hdr struct{ X5c []string }
	var req struct {
		ResponseURI string `json:"response_uri"`
		State       string `json:"state"`
	}
	hb, _ := base64.RawURLEncoding.DecodeString(seg[0])
	pb, _ := base64.RawURLEncoding.DecodeString(seg[1])
	if len(seg) != 3 || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(pb, &req) != nil || len(hdr.X5c) == 0 {
		t.Fatalf("request object: %s", jwt)
	}
	der, _ := base64.StdEncoding.DecodeString(hdr.X5c[0])
	sum := sha256.Sum256(der)
	reg := call("GET", e.srv.URL+"/api/verifiers/"+base64.RawURLEncoding.EncodeToString(sum[:]), "")
	answer := call("POST", local(req.ResponseURI), "error=access_denied&state="+url.QueryEscape(req.State))
	result := call("GET", e.srv.URL+"/api/verifier/requests/"+m["id"].(string), "")
	tests := []struct {
		name string
		res  *http.Response
		want string
	}{
		{"request object", reqObj, "*"},
		{"registration", reg, "*"},
		{"response", answer, "*"},
		{"desk result", result, ""},
	}
	for _, tt := range tests {
		if got := tt.res.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("%s (%d): Access-Control-Allow-Origin %q, want %q", tt.name, tt.res.StatusCode, got, tt.want)
		}
		if c := tt.res.Header.Get("Access-Control-Allow-Credentials"); c != "" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q", tt.name, c)
		}
	}
	// The answer is a decline (access_denied: no presentation), taken with
	// 200, which the wallet must be able to read as well.
	if reqObj.StatusCode != 200 || reg.StatusCode != 200 || answer.StatusCode != 200 {
		t.Errorf("statuses: request object %d, registration %d, response %d", reqObj.StatusCode, reg.StatusCode, answer.StatusCode)
	}
}
