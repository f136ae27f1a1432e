package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc"
	"github.com/shenfen/shenfen/oidc/oidctest"
	"github.com/shenfen/shenfen/store/storetest"
)

// Accept headers of real clients.
const (
	acceptChrome = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
	acceptSafari = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
)

// fetch sends a request with the given headers (name, value pairs) and
// returns the response and its body.
func fetch(t *testing.T, b *oidctest.Browser, method, u string, form url.Values, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := b.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b2, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b2)
}

// limiter answers every Take with its fixed verdict.
type limiter struct {
	ok    bool
	after time.Duration
	err   error
}

func (l limiter) Take(context.Context, string, time.Time) (bool, time.Duration, error) {
	return l.ok, l.after, l.err
}

// TestRefusedAuthorizeNegotiated: an authorization request refused before
// any redirect is safe (rate limit, limiter down) is a page in the
// citizen's language for a browser navigation and problem+json for an API
// client, with the same status and Retry-After.
func TestRefusedAuthorizeNegotiated(t *testing.T) {
	for _, tc := range []struct {
		name   string
		lim    limiter
		status int
		code   string
		typ    string
		retry  string
		zh, en string
	}{
		{"rate limited", limiter{after: 7 * time.Second}, http.StatusTooManyRequests, "rate_limited", "rate-limited", "7",
			"您所在网络目前的登录尝试过多。请在 7 秒后重试。", "Too many sign-in attempts come from your network right now. Try again in 7 seconds."},
		{"limiter down", limiter{err: errors.New("database gone")}, http.StatusInternalServerError, "unavailable", "internal", "",
			"登录服务暂时不可用。", "The sign-in is not available right now."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := oidctest.Start(storetest.SQLite(t).OIDC(), nil, func(c *oidc.Config) { c.AuthorizeLimit = tc.lim })
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			q := url.Values{"client_id": {"hotel"}, "redirect_uri": {hotelCB}, "response_type": {"code"}, "scope": {"openid"},
				"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
			get := func(q url.Values, headers ...string) (*http.Response, string) {
				return fetch(t, oidctest.NewBrowser(), http.MethodGet, e.Issuer+"/authorize?"+q.Encode(), nil, headers...)
			}
			check := func(what string, res *http.Response, ct string) {
				t.Helper()
				if res.StatusCode != tc.status || res.Header.Get("Retry-After") != tc.retry || !strings.HasPrefix(res.Header.Get("Content-Type"), ct) {
					t.Errorf("%s: %d, Retry-After %q, %q; want %d %q %s", what, res.StatusCode, res.Header.Get("Retry-After"),
						res.Header.Get("Content-Type"), tc.status, tc.retry, ct)
				}
				if !slices.Contains(res.Header.Values("Vary"), "Accept") {
					t.Errorf("%s: Vary %q lacks Accept", what, res.Header.Values("Vary"))
				}
			}
			for _, accept := range []string{acceptChrome, acceptSafari, "text/html"} {
				res, body := get(q, "Accept", accept, "Accept-Language", "zh-CN,zh;q=0.9")
				check("browser zh", res, "text/html")
				wantAll(t, "browser zh", body, `<html lang="zh-CN">`, `class="problem"`, tc.zh, "<code>"+tc.code+"</code>")
				// Waiting helps: the page offers the same request again.
				if retry := `<a class="button primary" href="/oidc/authorize?`; strings.Contains(body, retry) != (tc.retry != "") {
					t.Errorf("browser zh: retry link %q shown %v, want %v", retry, !(tc.retry != ""), tc.retry != "")
				}
			}
			ui := url.Values{}
			for k, v := range q {
				ui[k] = v
			}
			ui.Set("ui_locales", "en")
			res, body := get(ui, "Accept", acceptChrome, "Accept-Language", "zh-CN")
			check("browser, ui_locales en", res, "text/html")
			wantAll(t, "browser, ui_locales en", body, `<html lang="en">`, tc.en)
			for _, accept := range []string{"", "*/*", "application/json", "application/problem+json", "text/html;q=0.5, application/json"} {
				res, body := get(q, "Accept", accept)
				check("API client "+accept, res, "application/problem+json")
				var pd struct {
					Type   string `json:"type"`
					Status int    `json:"status"`
				}
				if err := json.Unmarshal([]byte(body), &pd); err != nil || pd.Type != "https://shenfen.dev/problems/"+tc.typ || pd.Status != tc.status {
					t.Errorf("API client %q: %v %+v\n%s", accept, err, pd, body)
				}
				if strings.Contains(body, "database gone") {
					t.Errorf("API client %q: the cause was sent: %s", accept, body)
				}
			}
		})
	}
}

// TestEndSessionNegotiated: a logout op refuses is a page for a browser,
// in the language the site asked for, and op's JSON error otherwise.
func TestEndSessionNegotiated(t *testing.T) {
	h := newHostile(t)
	u := h.e.Issuer + "/end_session?client_id=hotel&ui_locales=zh-CN&post_logout_redirect_uri=" + url.QueryEscape("https://evil.example/")
	res, body := fetch(t, oidctest.NewBrowser(), http.MethodGet, u, nil, "Accept", acceptChrome, "Accept-Language", "en")
	if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || res.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("browser: %d %q %q", res.StatusCode, res.Header.Get("Location"), res.Header.Get("Content-Type"))
	}
	wantAll(t, "browser", body, `<html lang="zh-CN">`, "<code>logout</code>", "退出登录请求无法受理", `class="detail" lang="en"`)
	res, body = fetch(t, oidctest.NewBrowser(), http.MethodGet, u, nil, "Accept", "application/json")
	var e struct {
		Error string `json:"error"`
	}
	if res.StatusCode != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Error != "invalid_request" {
		t.Fatalf("API client: %d %s", res.StatusCode, body)
	}
}

// TestUILocales: discovery lists the pages' languages, and each listed tag
// as ui_locales (directly or in a pushed request) chooses that language
// over the browser's; the first supported tag of a list wins.
func TestUILocales(t *testing.T) {
	h := newHostile(t)
	res, body := fetch(t, oidctest.NewBrowser(), http.MethodGet, h.e.Issuer+"/.well-known/openid-configuration", nil)
	var d struct {
		UILocales []string `json:"ui_locales_supported"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil || res.StatusCode != http.StatusOK {
		t.Fatal(res.StatusCode, err)
	}
	if !slices.Equal(d.UILocales, []string{"zh-CN", "en"}) {
		t.Fatalf("ui_locales_supported %q", d.UILocales)
	}
	login := func(t *testing.T, authURL, accept string) string {
		t.Helper()
		b := oidctest.NewBrowser()
		res, _ := fetch(t, b, http.MethodGet, authURL, nil, "Accept", acceptChrome, "Accept-Language", accept)
		loc := res.Header.Get("Location")
		if !strings.Contains(loc, "/login?id=") {
			t.Fatalf("authorize: %d %q", res.StatusCode, loc)
		}
		res, _ = fetch(t, b, http.MethodGet, loc, nil, "Accept", acceptChrome, "Accept-Language", accept)
		return res.Header.Get("Content-Language")
	}
	// Each supported tag is the page's language tag (Content-Language).
	other := map[string]string{"zh-CN": "en-US", "en": "zh-CN"}
	cases := map[string]string{"fr zh-TW en": "zh-CN", "de en-GB": "en", "ja": ""}
	for _, tag := range d.UILocales {
		cases[tag] = tag
	}
	for ui, want := range cases {
		t.Run(ui, func(t *testing.T) {
			accept := other[want]
			if want == "" {
				accept, want = "zh-CN", "zh-CN" // no page language: the browser's
			}
			u := h.hotelRP.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("ui_locales", ui))
			if got := login(t, u, accept); got != want {
				t.Errorf("ui_locales %q, Accept-Language %q: page in %q, want %q", ui, accept, got, want)
			}
		})
	}
	t.Run("pushed", func(t *testing.T) {
		f := url.Values{"client_id": {"hotel"}, "response_type": {"code"}, "scope": {"openid profile"}, "redirect_uri": {hotelCB},
			"state": {"par-ui"}, "code_challenge": {oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())}, "code_challenge_method": {"S256"},
			"ui_locales": {"zh-CN"}}
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
		if got := login(t, h.e.Issuer+"/authorize?client_id=hotel&request_uri="+url.QueryEscape(ru), "en-US"); got != "zh-CN" {
			t.Errorf("pushed ui_locales zh-CN, browser en: page in %q", got)
		}
	})
}

// TestLogoutEndsOnAPage: a logout without post_logout_redirect_uri ends on
// the provider's own page, in the browser's language, not on the server's
// root.
func TestLogoutEndsOnAPage(t *testing.T) {
	h := newHostile(t)
	b := oidctest.NewBrowser()
	res, _ := fetch(t, b, http.MethodGet, h.e.Issuer+"/end_session?client_id=hotel", nil, "Accept", acceptChrome)
	loc, err := res.Location()
	if res.StatusCode != http.StatusFound || err != nil || loc.Path != "/oidc/logged-out" {
		t.Fatalf("logout: %d %v %v", res.StatusCode, loc, err)
	}
	res, body := fetch(t, b, http.MethodGet, loc.String(), nil, "Accept", acceptChrome, "Accept-Language", "zh-CN")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("logged-out page: %d", res.StatusCode)
	}
	wantAll(t, "logged-out page", body, `<html lang="zh-CN">`, "<title>退出登录</title>", "下次登录仍需在钱包中确认")
}

// TestNotFoundNegotiated: a browser that opens an address under the issuer
// that is no page (a mistyped link, op's closed callback) sees the error
// page; API clients keep the plain 404, and op's API endpoints their JSON.
func TestNotFoundNegotiated(t *testing.T) {
	h := newHostile(t)
	for _, path := range []string{"/nothing-here", "/authorize/callback?id=x"} {
		res, body := fetch(t, oidctest.NewBrowser(), http.MethodGet, h.e.Issuer+path, nil, "Accept", acceptChrome, "Accept-Language", "zh-CN")
		if res.StatusCode != http.StatusNotFound || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("browser %s: %d %q", path, res.StatusCode, res.Header.Get("Content-Type"))
		}
		wantAll(t, "browser "+path, body, `<html lang="zh-CN">`, "<code>not_found</code>", "此地址没有登录页面。")
		res, body = fetch(t, oidctest.NewBrowser(), http.MethodGet, h.e.Issuer+path, nil)
		if res.StatusCode != http.StatusNotFound || strings.Contains(body, "<html") {
			t.Errorf("API client %s: %d %.100s", path, res.StatusCode, body)
		}
	}
	res, body := fetch(t, oidctest.NewBrowser(), http.MethodGet, h.e.Issuer+"/userinfo", nil, "Accept", "application/json")
	if res.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<html") {
		t.Errorf("userinfo without a token: %d %.100s", res.StatusCode, body)
	}
}
