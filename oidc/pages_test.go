package oidc_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/oidc/oidctest"
)

// getLang fetches u with the browser's cookies and an Accept-Language.
func getLang(t *testing.T, b *oidctest.Browser, u, accept string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept-Language", accept)
	}
	res, err := b.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func wantAll(t *testing.T, what, body string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(body, p) {
			t.Errorf("%s: no %q in\n%.1500s", what, p, body)
		}
	}
}

// TestPagesLanguage runs the login page in each language, chosen by
// ui_locales first, then Accept-Language; the wallet's signed request (the
// one consent) carries the site's name and purpose in both languages and
// marks the optional claim optional, and the login page's next step
// finishes the login with no page of its own.
func TestPagesLanguage(t *testing.T) {
	h := newHostile(t)
	zhLogin := []string{`<html lang="zh-CN">`, `<title>使用虚拟身份证登录 · 大酒店</title>`, "在本设备上打开钱包", "姓名", "大酒店请求获取：", `<p class="purpose">用途：在线办理入住</p>`, "将不会得到：姓、名", `aria-label="钱包二维码"`}
	enLogin := []string{`<html lang="en">`, `<title>Sign in with your virtual ID · Grand Hotel</title>`, "Open the wallet on this device", "Full name", "Grand Hotel asks for:", `<p class="purpose">Purpose: Online check-in</p>`, "will not get it: Family name, Given name"}
	for _, tc := range []struct {
		name, ui, accept, lang string
		login                  []string
	}{
		{"accept-language zh", "", "zh-CN,zh;q=0.9,en;q=0.8", "zh-CN", zhLogin},
		{"accept-language en", "", "en-US,en;q=0.9", "en", enLogin},
		{"no accept-language", "", "", "en", enLogin},
		{"ui_locales en over zh browser", "en", "zh-CN", "en", enLogin},
		{"ui_locales zh over en browser", "zh-CN", "en-US", "zh-CN", zhLogin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := oidctest.NewBrowser()
			var opts []oauth2.AuthCodeOption
			opts = append(opts, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			if tc.ui != "" {
				opts = append(opts, oauth2.SetAuthURLParam("ui_locales", tc.ui))
			}
			res, _ := getLang(t, b, h.hotelRP.AuthCodeURL("s", opts...), tc.accept)
			login := res.Header.Get("Location")
			if !strings.Contains(login, "/login?id=") {
				t.Fatalf("authorize: %d %q", res.StatusCode, login)
			}
			res, body := getLang(t, b, login, tc.accept)
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Language") != tc.lang {
				t.Fatalf("login page: %d, Content-Language %q, want 200 %q", res.StatusCode, res.Header.Get("Content-Language"), tc.lang)
			}
			wantAll(t, "login page", body, tc.login...)
			ru, err := oidctest.RequestURI(body)
			if err != nil {
				t.Fatal(err)
			}
			wr, err := h.wallet.Request(h.ctx, ru)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"client_name#zh-CN": "大酒店", "client_name#en": "Grand Hotel",
				"purpose#zh-CN": "在线办理入住", "purpose#en": "Online check-in"} {
				if wr.Metadata[k] != want {
					t.Errorf("client_metadata %s = %v, want %q", k, wr.Metadata[k], want)
				}
			}
			vp, err := h.wallet.Present(h.ctx, wr)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.wallet.Respond(h.ctx, wr, vp); err != nil {
				t.Fatal(err)
			}
			res, body = getLang(t, b, strings.Replace(login, "/login?", "/finish?", 1), tc.accept)
			if loc := res.Header.Get("Location"); res.StatusCode != http.StatusFound || !strings.HasPrefix(loc, hotelCB) || !strings.Contains(loc, "code=") {
				t.Fatalf("finish: %d %q\n%.500s", res.StatusCode, loc, body)
			}
		})
	}
}

// TestRPNameFallback: a relying party with a name in one language only
// (registered before names had two) is named by it on the pages of both,
// with no purpose line; the wallet's request carries the name it has.
func TestRPNameFallback(t *testing.T) {
	h := newHostile(t)
	bar := oauth2.Config{ClientID: "bar", ClientSecret: "secret-bar", RedirectURL: barCB, Endpoint: h.hotelRP.Endpoint, Scopes: []string{"openid", "age_over_18"}}
	for _, accept := range []string{"zh-CN", "en"} {
		b := oidctest.NewBrowser()
		res, _ := getLang(t, b, bar.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), accept)
		res, body := getLang(t, b, res.Header.Get("Location"), accept)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: login page %d", accept, res.StatusCode)
		}
		// In a Chinese sentence, spaces set the Latin name apart.
		// The English name in a Chinese page is marked as English.
		wantAll(t, accept, body, map[string]string{"zh-CN": `使用虚拟身份证登录<span class="rp" lang="en"> Corner Bar </span>`, "en": `Sign in to <span class="rp">Corner Bar</span>`}[accept])
		if strings.Contains(body, `class="purpose"`) {
			t.Errorf("%s: a purpose line for an RP without a purpose", accept)
		}
		ru, err := oidctest.RequestURI(body)
		if err != nil {
			t.Fatal(err)
		}
		wr, err := h.wallet.Request(h.ctx, ru)
		if err != nil {
			t.Fatal(err)
		}
		if wr.Metadata["client_name"] != "Corner Bar" || wr.Metadata["client_name#en"] != "Corner Bar" || wr.Metadata["client_name#zh-CN"] != nil {
			t.Errorf("client_metadata %v", wr.Metadata)
		}
	}
}

// TestErrorPages: errors no site can be told of are a styled page in the
// citizen's language with a stable code and the HTTP status kept.
func TestErrorPages(t *testing.T) {
	h := newHostile(t)
	auth := func(client, redirect, ui string) string {
		q := url.Values{"client_id": {client}, "response_type": {"code"}, "scope": {"openid"}, "redirect_uri": {redirect},
			"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
		if ui != "" {
			q.Set("ui_locales", ui)
		}
		return h.e.Issuer + "/authorize?" + q.Encode()
	}
	for _, tc := range []struct {
		name, url, accept string
		status            int
		want              []string
	}{
		{"unknown client zh", auth("nobody", hotelCB, ""), "zh-CN", http.StatusBadRequest,
			[]string{`<html lang="zh-CN">`, "<title>登录出现问题</title>", "发出请求的网站未在本登录服务注册。", "错误代码： <code>client_unknown</code>"}},
		{"unknown client en", auth("nobody", hotelCB, ""), "en", http.StatusBadRequest,
			[]string{`<html lang="en">`, "<title>Sign-in problem</title>", "The site asking is not registered", "Error code: <code>client_unknown</code>"}},
		{"unknown client, ui_locales zh", auth("nobody", hotelCB, "zh"), "en", http.StatusBadRequest,
			[]string{`<html lang="zh-CN">`, "<code>client_unknown</code>"}},
		{"unregistered redirect_uri", auth("hotel", "https://evil.example/cb", ""), "zh", http.StatusBadRequest,
			[]string{`<html lang="zh-CN">`, "<code>invalid_request</code>", `class="detail" lang="en"`}},
		{"unknown login", h.e.Issuer + "/login?id=nope", "en", http.StatusNotFound,
			[]string{"<code>request_unknown</code>", "This sign-in request is unknown or has expired."}},
		{"unknown pushed request", h.e.Issuer + "/authorize?client_id=hotel&request_uri=" + url.QueryEscape("urn:ietf:params:oauth:request_uri:nope"), "zh", http.StatusBadRequest,
			[]string{`<html lang="zh-CN">`, "<code>invalid_request_uri</code>"}},
		{"finish without session", h.e.Issuer + "/finish?id=nope", "zh-TW", http.StatusForbidden,
			[]string{`<html lang="zh-CN">`, "<code>session</code>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, body := getLang(t, oidctest.NewBrowser(), tc.url, tc.accept)
			if res.StatusCode != tc.status {
				t.Errorf("status %d, want %d", res.StatusCode, tc.status)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe-inline") {
				t.Errorf("CSP %q", csp)
			}
			if loc := res.Header.Get("Location"); loc != "" {
				t.Errorf("redirected to %q", loc)
			}
			wantAll(t, tc.name, body, append(tc.want, `class="problem"`, "/static/oidc.css")...)
		})
	}
}

// TestErrorPageWayBack: an error on a sign-in whose request is known (an
// expired login, a login opened in another browser, the finish of an
// expired login) links back to the site, named in the page's language; an
// unknown request has no site to link to.
func TestErrorPageWayBack(t *testing.T) {
	h := newHostile(t)
	b := oidctest.NewBrowser()
	ui := oauth2.SetAuthURLParam("ui_locales", "zh-CN")
	res, _ := getLang(t, b, h.hotelRP.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), ui), "en")
	login := res.Header.Get("Location")
	if res, _ := getLang(t, b, login, "en"); res.StatusCode != http.StatusOK {
		t.Fatalf("login page: %d", res.StatusCode)
	}
	back := `<a class="button primary" href="http://hotel.example/">返回大酒店</a>`
	res, body := getLang(t, oidctest.NewBrowser(), login, "en")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("another browser: %d", res.StatusCode)
	}
	wantAll(t, "another browser", body, "<code>other_browser</code>", back, "请返回该网站，重新开始登录。")
	h.skew.Store(int64((11 * time.Minute).Seconds()))
	defer h.skew.Store(0)
	res, body = getLang(t, b, login, "en")
	if res.StatusCode != http.StatusGone {
		t.Fatalf("expired login: %d", res.StatusCode)
	}
	wantAll(t, "expired login", body, "<code>request_expired</code>", back)
	res, body = getLang(t, b, strings.Replace(login, "/login?", "/finish?", 1), "en")
	if res.StatusCode != http.StatusGone || res.Header.Get("Location") != "" {
		t.Fatalf("finish of an expired login: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	wantAll(t, "finish of an expired login", body, "<code>request_expired</code>", back)
	_, body = getLang(t, b, h.e.Issuer+"/login?id=nope", "zh-CN")
	if strings.Contains(body, "<a ") || !strings.Contains(body, "请返回您来自的网站，重新开始。") {
		t.Errorf("unknown login: a link to a site, or no advice:\n%s", body)
	}
}
