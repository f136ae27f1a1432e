package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shenfen/shenfen/internal/apidoc"
	"github.com/shenfen/shenfen/oidc/oidctest"
)

// TestAPIDocSignInRequest: the sign-in's request object is the shape
// docs/api.md §4.1 documents, and passes the wallet's checks
// (verifier.Checker) with the optional portrait left out of a claim set.
func TestAPIDocSignInRequest(t *testing.T) {
	ex, err := apidoc.Examples()
	if err != nil {
		t.Fatal(err)
	}
	h := newHostile(t)
	b := oidctest.NewBrowser()
	rp := h.hotelRP
	rp.Scopes = []string{"openid", "profile", "id_number", "picture"}
	_, ru := h.startLogin(t, b, rp)
	res, err := http.Get(ru)
	if err != nil {
		t.Fatal(err)
	}
	obj, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || ct != "application/oauth-authz-req+jwt" {
		t.Fatalf("request object: %d %q", res.StatusCode, ct)
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(string(obj), ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := apidoc.SameShape(ex["sign-in-request-object"], payload); err != nil {
		t.Error(err)
	}
	c, err := h.e.NewChecker().Check(h.ctx, string(obj), "")
	if err != nil {
		t.Fatalf("the wallet refuses the sign-in request: %v", err)
	}
	if c.Request.Metadata["client_name"] != "大酒店 (Grand Hotel)" || c.Request.Metadata["client_name#zh-CN"] != "大酒店" || len(c.Optional) != 1 || c.Optional[0] != "picture" {
		t.Fatalf("sign-in request: client_name %v, optional %v", c.Request.Metadata["client_name"], c.Optional)
	}
	var p map[string]any
	json.Unmarshal(payload, &p)
	if !strings.HasPrefix(p["client_id"].(string), "x509_san_dns:") {
		t.Fatalf("client_id %v", p["client_id"])
	}
}

// TestAPIDocSignInResponse holds the answers of docs/api.md §4.2 to the
// real response endpoint: a presentation under the wrong nonce is refused
// with the documented error, then the right one is accepted with the
// documented redirect_uri, which leads to the login.
func TestAPIDocSignInResponse(t *testing.T) {
	ex, err := apidoc.Examples()
	if err != nil {
		t.Fatal(err)
	}
	h := newHostile(t)
	_, ru := h.startLogin(t, oidctest.NewBrowser(), h.hotelRP)
	post := func(w *oidctest.Wallet, name string, want int) map[string]any {
		t.Helper()
		wr, err := w.Request(h.ctx, ru)
		if err != nil {
			t.Fatal(err)
		}
		vp, err := w.Present(h.ctx, wr)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.PostForm(wr.ResponseURI, url.Values{"vp_token": {oidctest.VPToken(vp)}, "state": {wr.State}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Fatalf("%s: %d %s", name, res.StatusCode, b)
		}
		if ex[name] == nil {
			t.Fatalf("docs/api.md has no example %q", name)
		}
		if err := apidoc.SameShape(ex[name], b); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		var m map[string]any
		json.Unmarshal(b, &m)
		return m
	}
	post(&oidctest.Wallet{Card: h.card, Nonce: "not-the-request-nonce"}, "sign-in-refused", http.StatusBadRequest)
	ok := post(&oidctest.Wallet{Card: h.card}, "sign-in-accepted", http.StatusOK)
	if r, _ := ok["redirect_uri"].(string); !strings.HasPrefix(r, h.e.Issuer+"/login?id=") {
		t.Fatalf("redirect_uri %q", r)
	}
}
