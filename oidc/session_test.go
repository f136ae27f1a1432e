package oidc_test

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/proofing"
	"github.com/shenfen/shenfen/store"
	"github.com/shenfen/shenfen/store/storetest"
)

// afterWallet calls fn once the wallet's answer to the provider has
// succeeded (a hook between wallet approval and consent).
type afterWallet struct {
	fn func()
}

func (a afterWallet) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	if err == nil && r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/wallet/response/") && res.StatusCode == http.StatusOK {
		a.fn()
	}
	return res, err
}

// TestAuthTimeAndMaxAge: auth_time is when the citizen approved in the
// wallet (not when the code was exchanged), and every login is a fresh
// wallet approval, so max_age and prompt=login are always met: the ID
// token carries auth_time, later than the request.
func TestAuthTimeAndMaxAge(t *testing.T) {
	h := newHostile(t)
	for _, tt := range []struct{ name, param, value string }{
		{"plain", "", ""},
		{"max_age=0", "max_age", "0"},
		{"max_age=60", "max_age", "60"},
		{"prompt=login", "prompt", "login"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// Authorize, login page and wallet approval happen two minutes
			// "ago" on the provider's clock; consent and token now.
			h.skew.Store(-120)
			defer h.skew.Store(0)
			requested := time.Now().Add(-120 * time.Second)
			v := oauth2.GenerateVerifier()
			opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
			if tt.param != "" {
				opts = append(opts, oauth2.SetAuthURLParam(tt.param, tt.value))
			}
			w := &oidctest.Wallet{Card: h.card, HTTP: &http.Client{Transport: afterWallet{func() { h.skew.Store(0) }}}}
			cb, err := oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("st", opts...), w)
			if err != nil {
				t.Fatal(err)
			}
			claims := h.idTokenClaims(t, cb, v)
			at, ok := claims["auth_time"].(float64)
			if !ok {
				t.Fatalf("no auth_time: %v", claims)
			}
			iat, _ := claims["iat"].(float64)
			approval := time.Unix(int64(at), 0)
			if d := approval.Sub(requested); d < -2*time.Second || d > 5*time.Second {
				t.Fatalf("auth_time %v is not the wallet approval (~%v)", approval, requested)
			}
			if math.Abs(float64(time.Now().Unix())-iat) > 5 {
				t.Fatalf("iat %v is not now", iat)
			}
			if iat-at < 110 {
				t.Fatalf("auth_time %v follows the token (iat %v), not the approval", at, iat)
			}
		})
	}
}

// TestPromptNone: shenfen keeps no login session (every sign-in is a
// wallet approval), so prompt=none ends at the RP with login_required.
func TestPromptNone(t *testing.T) {
	h := newHostile(t)
	v := oauth2.GenerateVerifier()
	b := oidctest.NewBrowser()
	authURL := h.hotelRP.AuthCodeURL("st-none", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none"))
	// Follow redirects by hand until the RP's callback.
	u := authURL
	for i := 0; i < 5 && !strings.HasPrefix(u, hotelCB); i++ {
		st, loc, body, err := b.Get(h.ctx, u)
		if err != nil || (st != http.StatusFound && st != http.StatusSeeOther) {
			t.Fatalf("%s: %d %v %.200s", u, st, err, body)
		}
		u = resolveURL(u, loc)
	}
	cb, err := url.Parse(u)
	if err != nil || !strings.HasPrefix(u, hotelCB) {
		t.Fatalf("never reached the RP: %s", u)
	}
	if cb.Query().Get("error") != "login_required" || cb.Query().Get("state") != "st-none" || cb.Query().Get("code") != "" {
		t.Fatalf("prompt=none answer: %s", u)
	}
	// none with another prompt is a malformed request.
	authURL = h.hotelRP.AuthCodeURL("st-bad", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("prompt", "none login"))
	st, loc, _, err := b.Get(h.ctx, authURL)
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := url.Parse(loc); st == http.StatusOK || l == nil || l.Query().Get("error") != "invalid_request" {
		t.Fatalf("prompt=none login: %d %s", st, loc)
	}
}

// TestACRFromStoreRecords runs the provider as serve does, with the store
// as the enrollment records: a card unknown to proofing is substantial, the
// same card once its enrollment is on record (face, liveness, spoken
// digits) is high.
func TestACRFromStoreRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e, err := oidctest.Start(db.OIDC(), nil, func(c *oidc.Config) { c.Enrollments = nil })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.Close)
		secret, err := e.SecretClient(ctx, "hotel", "Grand Hotel", hotelCB, "name")
		if err != nil {
			t.Fatal(err)
		}
		card, err := e.Authority.NewCard(nil)
		if err != nil {
			t.Fatal(err)
		}
		rp := &oidctest.RP{Issuer: e.Issuer, ClientID: "hotel", Secret: secret, Redirect: hotelCB, Scopes: []string{"openid", "profile"}}
		acr := func() any {
			t.Helper()
			tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: card})
			if err != nil {
				t.Fatal(err)
			}
			return jwtClaims(t, tok["id_token"].(string))["acr"]
		}
		if got := acr(); got != oidc.ACRSubstantial {
			t.Fatalf("card without enrollment record: acr %v", got)
		}
		p := db.Proofing()
		now := time.Now()
		sid := fmt.Sprintf("sess-%d", card.Status.Index)
		if err := p.CreateSession(ctx, proofing.Session{ID: sid, DeviceKey: []byte(`{}`), DeviceThumb: "th", Digits: "1234",
			State: proofing.StatePending, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}); err != nil {
			t.Fatal(err)
		}
		if err := p.Claim(ctx, sid, now, now.Add(time.Minute), []byte("e")); err != nil {
			t.Fatal(err)
		}
		if err := p.Finish(ctx, proofing.Finish{
			Decision: proofing.Decision{SessionID: sid, Approved: true, Reason: proofing.ReasonApproved, Subject: "subj",
				FaceDistance: 0.3, SpeechConfidence: 0.9, Liveness: 0.8, DecidedAt: now},
			Card: &proofing.Card{ID: "card-" + sid, SessionID: sid, Subject: "subj", IDNumber: []byte{1}, DeviceKey: []byte(`{}`),
				DeviceThumb: "th", StatusURI: card.Status.URI, StatusIndex: card.Status.Index, State: proofing.CardActive, CreatedAt: now},
		}); err != nil {
			t.Fatal(err)
		}
		if got := acr(); got != oidc.ACRHigh {
			t.Fatalf("card with a face + liveness enrollment: acr %v", got)
		}
		// Revocation recorded, status list not yet updated: refused.
		if err := p.SetCardState(ctx, "card-"+sid, proofing.CardRevoking); err != nil {
			t.Fatal(err)
		}
		if _, err := rp.Flow(ctx, &oidctest.Wallet{Card: card}); err == nil || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("card being revoked: %v", err)
		}
	})
}

// TestAssertionReplayAcrossProcesses: two providers (two processes behind
// one issuer) on one database: a client assertion spent at one is refused
// at the other.
func TestAssertionReplayAcrossProcesses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, err := oidctest.Start(db.OIDC(), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		b, err := oidctest.Start(db.OIDC(), nil, func(c *oidc.Config) { c.Issuer = a.Issuer })
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
		bURL := b.Server.URL + "/oidc"
		key, err := a.KeyClient(ctx, "bank", "Bank", "https://bank.example/cb", "name")
		if err != nil {
			t.Fatal(err)
		}
		card, err := a.Authority.NewCard(nil)
		if err != nil {
			t.Fatal(err)
		}
		rp := &oidctest.RP{Issuer: a.Issuer, ClientID: "bank", Key: key, KID: "bank-key", Redirect: "https://bank.example/cb",
			Scopes: []string{"openid", "profile", "offline_access"}}
		tok, err := rp.Flow(ctx, &oidctest.Wallet{Card: card})
		if err != nil {
			t.Fatal(err)
		}
		refresh := func(base, assertion string) (int, map[string]any) {
			f := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {assertion}}
			res, err := http.PostForm(base+"/oauth/token", f)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var out map[string]any
			decodeJSON(res, &out)
			return res.StatusCode, out
		}
		assertion, err := oidctest.ClientAssertion(key, "bank-key", "bank", a.Issuer)
		if err != nil {
			t.Fatal(err)
		}
		st, out := refresh(a.Issuer, assertion)
		if st != http.StatusOK {
			t.Fatalf("refresh at process A: %d %v", st, out)
		}
		tok["refresh_token"] = out["refresh_token"]
		if st, out := refresh(bURL, assertion); st == http.StatusOK {
			t.Fatalf("assertion replayed to process B accepted: %v", out)
		}
		fresh, _ := oidctest.ClientAssertion(key, "bank-key", "bank", a.Issuer)
		if st, out := refresh(bURL, fresh); st != http.StatusOK {
			t.Fatalf("fresh assertion at process B: %d %v", st, out)
		}
	})
}
