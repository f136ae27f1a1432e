package oidc_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
)

// idTokenClaims exchanges a callback's code and returns the ID token's
// claims (the signature is checked by the go-oidc tests; here the payload
// is what matters).
func (h *hostile) idTokenClaims(t *testing.T, cb *url.URL, verifier string) map[string]any {
	t.Helper()
	if e := cb.Query().Get("error"); e != "" {
		t.Fatalf("RP got error %s: %s", e, cb.Query().Get("error_description"))
	}
	st, body := h.token(t, codeForm(cb.Query().Get("code"), verifier, hotelCB), "hotel", h.secret)
	if st != http.StatusOK {
		t.Fatalf("exchange: %d %v", st, body)
	}
	raw, _ := body["id_token"].(string)
	return jwtClaims(t, raw)
}

// jwtClaims decodes a JWT's payload (no signature check).
func jwtClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("JWT %q", raw)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func decodeJSON(res *http.Response, v any) error { return json.NewDecoder(res.Body).Decode(v) }

// loginWith runs a hotel login with extra authorization parameters and
// the given card, returning the callback URL and the PKCE verifier.
func (h *hostile) loginWith(t *testing.T, card *oidctest.Card, params ...string) (*url.URL, string) {
	t.Helper()
	v := oauth2.GenerateVerifier()
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
	for i := 0; i+1 < len(params); i += 2 {
		opts = append(opts, oauth2.SetAuthURLParam(params[i], params[i+1]))
	}
	cb, err := oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("st-acr", opts...), &oidctest.Wallet{Card: card})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	return cb, v
}

// TestACRFromEnrollment: the acr is the level the card's enrollment
// reached, as recorded by the authority, not a constant.
func TestACRFromEnrollment(t *testing.T) {
	h := newHostile(t)
	partial, err := h.e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.e.Authority.SetProof(partial, oidc.EnrollmentProof{Approved: true, FaceMatched: true, Spoken: true, CardActive: true})
	unknown, err := h.e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.e.Authority.Forget(unknown)
	for _, tt := range []struct {
		name string
		card *oidctest.Card
		want string
	}{
		{"face, liveness and spoken digits", h.card, oidc.ACRHigh},
		{"no liveness on record", partial, oidc.ACRSubstantial},
		{"card not from an enrollment on record", unknown, oidc.ACRSubstantial},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cb, v := h.loginWith(t, tt.card)
			if got := h.idTokenClaims(t, cb, v)["acr"]; got != tt.want {
				t.Fatalf("acr = %v, want %s", got, tt.want)
			}
		})
	}
	// The grant history keeps the level too.
	grants, err := h.e.Provider.Grants(h.ctx, h.card.PID.IDNumber)
	if err != nil || len(grants) != 3 || grants[0].ACR != oidc.ACRHigh || grants[1].ACR != oidc.ACRSubstantial {
		t.Fatalf("grants = %+v, %v", grants, err)
	}

	t.Run("card being revoked", func(t *testing.T) {
		revoking, err := h.e.Authority.NewCard(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := oidctest.FullProof
		p.CardActive = false
		h.e.Authority.SetProof(revoking, p)
		v := oauth2.GenerateVerifier()
		_, err = oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("s", oauth2.S256ChallengeOption(v)), &oidctest.Wallet{Card: revoking})
		if !errors.Is(err, oidctest.ErrRefused) || !strings.Contains(err.Error(), "revoked") {
			t.Fatalf("card being revoked: %v", err)
		}
	})
}

// TestACRValues: acr_values are honoured: met requests get the requested
// level, unmet ones end with unmet_authentication_requirements at the RP.
func TestACRValues(t *testing.T) {
	h := newHostile(t)
	substantial, err := h.e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.e.Authority.SetProof(substantial, oidc.EnrollmentProof{Approved: true, FaceMatched: true, CardActive: true})
	met := []struct {
		name, acrValues string
		card            *oidctest.Card
		want            string
	}{
		{"high asked, high card", oidc.ACRHigh, h.card, oidc.ACRHigh},
		{"substantial asked, high card", oidc.ACRSubstantial, h.card, oidc.ACRSubstantial},
		{"high or substantial, substantial card", oidc.ACRHigh + " " + oidc.ACRSubstantial, substantial, oidc.ACRSubstantial},
		{"high or substantial, high card", oidc.ACRHigh + " " + oidc.ACRSubstantial, h.card, oidc.ACRHigh},
		{"unknown value only", "urn:example:loa:4", substantial, oidc.ACRSubstantial},
	}
	for _, tt := range met {
		t.Run("met/"+tt.name, func(t *testing.T) {
			cb, v := h.loginWith(t, tt.card, "acr_values", tt.acrValues, "max_age", "300")
			if got := h.idTokenClaims(t, cb, v)["acr"]; got != tt.want {
				t.Fatalf("acr = %v, want %s", got, tt.want)
			}
		})
	}

	t.Run("unmet", func(t *testing.T) {
		b := oidctest.NewBrowser()
		v := oauth2.GenerateVerifier()
		authURL := h.hotelRP.AuthCodeURL("st-unmet", oauth2.S256ChallengeOption(v), oauth2.SetAuthURLParam("acr_values", oidc.ACRHigh))
		st, loc, _, err := b.Get(h.ctx, authURL)
		if err != nil || (st != http.StatusFound && st != http.StatusSeeOther) {
			t.Fatalf("authorize: %d %v", st, err)
		}
		loginURL := resolveURL(authURL, loc)
		st, _, page, err := b.Get(h.ctx, loginURL)
		if err != nil || st != http.StatusOK {
			t.Fatalf("login page: %d %v", st, err)
		}
		ru, err := oidctest.RequestURI(page)
		if err != nil {
			t.Fatal(err)
		}
		_, err = (&oidctest.Wallet{Card: substantial}).Approve(h.ctx, ru)
		if !errors.Is(err, oidctest.ErrRefused) || !strings.Contains(err.Error(), "unmet_authentication_requirements") {
			t.Fatalf("wallet answer: %v", err)
		}
		// The login page's poll sees "refused" and reloads; the reload
		// sends the browser back to the RP with the error.
		id := mustQuery(t, loginURL, "id")
		_, _, status, _ := b.Get(h.ctx, h.e.Issuer+"/login/status?id="+url.QueryEscape(id))
		if !strings.Contains(status, `"refused"`) {
			t.Fatalf("status = %s", status)
		}
		st, loc, _, err = b.Get(h.ctx, loginURL)
		if err != nil || (st != http.StatusFound && st != http.StatusSeeOther) {
			t.Fatalf("login page after refusal: %d %v", st, err)
		}
		cb, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, hotelCB) || cb.Query().Get("error") != "unmet_authentication_requirements" || cb.Query().Get("state") != "st-unmet" {
			t.Fatalf("RP redirect = %s", loc)
		}
		if cb.Query().Get("code") != "" {
			t.Fatal("a code came with the error")
		}
		// Finished: the same request can neither be answered again nor
		// redirect twice.
		if _, err := (&oidctest.Wallet{Card: h.card}).Approve(h.ctx, ru); err == nil {
			t.Fatal("a second wallet answer was accepted")
		}
		if st, _, _, _ := b.Get(h.ctx, loginURL); st != http.StatusGone {
			t.Fatalf("login page a third time: %d", st)
		}
	})
}

func resolveURL(base, ref string) string {
	b, _ := url.Parse(base)
	r, _ := url.Parse(ref)
	return b.ResolveReference(r).String()
}

func mustQuery(t *testing.T, u, key string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Query().Get(key) == "" {
		t.Fatalf("no %s in %s", key, u)
	}
	return p.Query().Get(key)
}

// TestACRClaimsParameter: the claims parameter's id_token acr member, on
// the authorization request or pushed (PAR), replaces acr_values; essential
// values the provider does not offer fail at once.
func TestACRClaimsParameter(t *testing.T) {
	h := newHostile(t)
	substantial, err := h.e.Authority.NewCard(nil)
	if err != nil {
		t.Fatal(err)
	}
	h.e.Authority.SetProof(substantial, oidc.EnrollmentProof{Approved: true, FaceMatched: true, CardActive: true})
	acr := func(essential bool, values ...string) string {
		b, _ := json.Marshal(map[string]any{"id_token": map[string]any{"acr": map[string]any{"essential": essential, "values": values}}})
		return string(b)
	}
	t.Run("essential substantial replaces acr_values", func(t *testing.T) {
		cb, v := h.loginWith(t, h.card, "acr_values", oidc.ACRHigh, "claims", acr(true, oidc.ACRSubstantial))
		if got := h.idTokenClaims(t, cb, v)["acr"]; got != oidc.ACRSubstantial {
			t.Fatalf("acr = %v", got)
		}
	})
	t.Run("single value", func(t *testing.T) {
		cb, v := h.loginWith(t, h.card, "claims", `{"id_token":{"acr":{"essential":true,"value":"`+oidc.ACRHigh+`"}},"userinfo":{"name":null}}`)
		if got := h.idTokenClaims(t, cb, v)["acr"]; got != oidc.ACRHigh {
			t.Fatalf("acr = %v", got)
		}
	})
	t.Run("voluntary unknown value", func(t *testing.T) {
		cb, v := h.loginWith(t, substantial, "claims", acr(false, "urn:example:loa:4"))
		if got := h.idTokenClaims(t, cb, v)["acr"]; got != oidc.ACRSubstantial {
			t.Fatalf("acr = %v", got)
		}
	})
	t.Run("essential high, substantial card", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		_, err := oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("s", oauth2.S256ChallengeOption(v),
			oauth2.SetAuthURLParam("claims", acr(true, oidc.ACRHigh))), &oidctest.Wallet{Card: substantial})
		if !errors.Is(err, oidctest.ErrRefused) || !strings.Contains(err.Error(), "unmet_authentication_requirements") {
			t.Fatalf("wallet answer: %v", err)
		}
	})
	for _, tt := range []struct{ name, claims, want string }{
		{"essential unknown value", acr(true, "urn:example:loa:4"), "unmet_authentication_requirements"},
		{"malformed", `{"id_token":{"acr":`, "invalid_request"},
		{"acr not an object", `{"id_token":{"acr":"high"}}`, "invalid_request"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := oauth2.GenerateVerifier()
			cb, err := oidctest.NewBrowser().Login(h.ctx, h.hotelRP.AuthCodeURL("st-c", oauth2.S256ChallengeOption(v),
				oauth2.SetAuthURLParam("claims", tt.claims)), h.wallet)
			if err != nil {
				t.Fatal(err)
			}
			if cb.Query().Get("error") != tt.want || cb.Query().Get("state") != "st-c" || cb.Query().Get("code") != "" {
				t.Fatalf("callback %v, want error %s", cb, tt.want)
			}
		})
	}
	t.Run("pushed", func(t *testing.T) {
		v := oauth2.GenerateVerifier()
		f := url.Values{"client_id": {"hotel"}, "response_type": {"code"}, "scope": {"openid profile"}, "redirect_uri": {hotelCB},
			"state": {"par-acr"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(v)}, "code_challenge_method": {"S256"},
			"claims": {acr(true, oidc.ACRHigh)}}
		req, _ := http.NewRequest(http.MethodPost, h.e.Issuer+"/par", strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("hotel", h.secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		decodeJSON(res, &out)
		res.Body.Close()
		ru, _ := out["request_uri"].(string)
		if res.StatusCode != http.StatusCreated || ru == "" {
			t.Fatalf("push: %d %v", res.StatusCode, out)
		}
		_, err = oidctest.NewBrowser().Login(h.ctx, h.e.Issuer+"/authorize?client_id=hotel&request_uri="+url.QueryEscape(ru),
			&oidctest.Wallet{Card: substantial})
		if !errors.Is(err, oidctest.ErrRefused) || !strings.Contains(err.Error(), "unmet_authentication_requirements") {
			t.Fatalf("pushed essential high, substantial card: %v", err)
		}
	})
}
