package oidc_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
)

// TestAuthorizeFloodLimitedPerClient: authorization requests (each stores
// a login transaction) from one address stop at its burst; another
// address is not affected.
func TestAuthorizeFloodLimitedPerClient(t *testing.T) {
	db := storetest.SQLite(t)
	lim := db.RateLimiter("oidc-authorize", oidc.AuthorizeClientEvery, oidc.AuthorizeClientBurst, func(k string) []byte {
		m := hmac.New(sha256.New, []byte("oidc test limiter"))
		m.Write([]byte(k))
		return m.Sum(nil)
	})
	at := time.Now()
	e, err := oidctest.Start(db.OIDC(), nil, func(c *oidc.Config) {
		c.AuthorizeLimit = lim
		c.Now = func() time.Time { return at }
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	if _, err := e.SecretClient(context.Background(), "hotel", "Grand Hotel", hotelCB, "name"); err != nil {
		t.Fatal(err)
	}
	q := url.Values{"client_id": {"hotel"}, "redirect_uri": {hotelCB}, "response_type": {"code"}, "scope": {"openid"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	authorize := func(remote string, i int) int {
		q.Set("state", fmt.Sprint("s", i))
		r := httptest.NewRequest("GET", e.Issuer+"/authorize?"+q.Encode(), nil)
		r.RemoteAddr = remote
		rec := httptest.NewRecorder()
		e.Provider.Handler().ServeHTTP(rec, r)
		return rec.Code
	}
	codes := map[int]int{}
	for i := range 300 {
		codes[authorize("203.0.113.5:999", i)]++
	}
	if codes[429] != 300-oidc.AuthorizeClientBurst {
		t.Fatalf("flood answers %v: want %d refused", codes, 300-oidc.AuthorizeClientBurst)
	}
	for code, n := range codes {
		if code != 429 && code >= 400 {
			t.Fatalf("a valid authorization request failed: %d ×%d", code, n)
		}
	}
	if code := authorize("198.51.100.7:1", 0); code == 429 || code >= 400 {
		t.Fatalf("another citizen got %d after the flood", code)
	}
}
