package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestPagesServed(t *testing.T) {
	mux := http.NewServeMux()
	Mount(mux, Options{AdminToken: "0123456789abcdef0123"})
	tests := []struct {
		path, wantType string
		wantCode       int
		wantBody       string
	}{
		{"/wallet/", "text/html; charset=utf-8", 200, `src="/wallet/wallet.js"`},
		{"/wallet/wallet.js", "text/javascript; charset=utf-8", 200, "OpenID4VCI"},
		{"/wallet/manifest.webmanifest", "application/manifest+json", 200, `"start_url"`},
		{"/verifier/", "text/html; charset=utf-8", 200, "verifier.js"},
		{"/admin/", "text/html; charset=utf-8", 200, "admin.js"},
		{"/admin/console/admin.js", "text/javascript; charset=utf-8", 200, "X-CSRF-Token"},
		{"/web/vendor/jsQR.js", "text/javascript; charset=utf-8", 200, "Apache License 2.0"},
		{"/", "text/html; charset=utf-8", 200, `href="/wallet/"`},
		{"/web/vendor/zxing/reader/zxing_reader.wasm", "application/wasm", 200, "\x00asm"},
		{"/web/nope.js", "", 404, ""},
		{"/web/../web.go", "", 307, ""}, // the mux cleans the path: a redirect to /web.go, not served
		{"/wallet/%2e%2e/web.go", "", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.wantCode {
				t.Fatalf("code %d, want %d", rec.Code, tc.wantCode)
			}
			if tc.wantCode != 200 {
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != tc.wantType {
				t.Errorf("Content-Type %q, want %q", ct, tc.wantType)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
			if rec.Header().Get("ETag") == "" {
				t.Error("no ETag")
			}
		})
	}
}

// TestNoInlineCode keeps every page within server.DefaultCSP: no inline
// script, no inline style, no event-handler attributes, no javascript: URLs.
func TestNoInlineCode(t *testing.T) {
	bad := []*regexp.Regexp{
		regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]`), // a script element with a body
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)<style`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
	}
	srcRE := regexp.MustCompile(`(?i)<script[^>]*>`)
	n := 0
	err := fs.WalkDir(Assets(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".html") {
			return err
		}
		n++
		b, _ := fs.ReadFile(Assets(), p)
		for _, re := range bad {
			if m := re.Find(b); m != nil {
				t.Errorf("%s: inline code %q", p, m)
			}
		}
		for _, tag := range srcRE.FindAll(b, -1) {
			if !strings.Contains(string(tag), "src=") {
				t.Errorf("%s: script without src: %s", p, tag)
			}
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walked %d pages: %v", n, err)
	}
}

// TestLabels checks that every form control has a label (accessibility).
func TestLabels(t *testing.T) {
	idRE := regexp.MustCompile(`<(?:input|select|textarea)[^>]*\sid="([^"]+)"`)
	for _, p := range []string{"wallet/index.html", "verifier/index.html", "admin/index.html"} {
		b, err := fs.ReadFile(Assets(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range idRE.FindAllSubmatch(b, -1) {
			if !strings.Contains(string(b), `for="`+string(m[1])+`"`) {
				t.Errorf("%s: control #%s has no label", p, m[1])
			}
		}
	}
}

type apiSpy struct {
	auth, path, cookie, method string
}

func (s *apiSpy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.auth, s.path, s.cookie, s.method = r.Header.Get("Authorization"), r.URL.Path, r.Header.Get("Cookie"), r.Method
	w.Write([]byte(`{"ok":true}`))
}

func cookieOf(rec *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestConsoleSession(t *testing.T) {
	const token = "0123456789abcdef0123"
	spy := &apiSpy{}
	mux := http.NewServeMux()
	Mount(mux, Options{AdminToken: token, API: spy})
	do := func(method, path, body string, h map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://shenfen.test"+path, strings.NewReader(body))
		for k, v := range h {
			r.Header.Set(k, v)
		}
		for _, c := range cookies {
			if c != nil {
				r.AddCookie(c)
			}
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		return rec
	}
	// Before sign-in: a pre-session CSRF cookie and its token.
	st := do("GET", "/admin/session", "", nil)
	pre := cookieOf(st, preCookie)
	if pre == nil || !pre.HttpOnly || pre.SameSite != http.SameSiteStrictMode || !strings.Contains(st.Body.String(), pre.Value) {
		t.Fatalf("pre-session cookie %+v body %s", pre, st.Body)
	}
	origin := map[string]string{"Origin": "http://shenfen.test", csrfHeader: pre.Value, "Content-Type": "application/json"}
	form := map[string]string{"Origin": "http://shenfen.test", csrfHeader: pre.Value, "Content-Type": "application/x-www-form-urlencoded"}
	tests := []struct {
		name   string
		hdr    map[string]string
		cookie *http.Cookie
		body   string
		want   int
	}{
		{"no csrf", map[string]string{"Origin": "http://shenfen.test", "Content-Type": "application/json"}, pre, `{"token":"` + token + `"}`, 403},
		{"csrf without cookie", origin, nil, `{"token":"` + token + `"}`, 403},
		{"cross-site", map[string]string{"Origin": "http://evil.test", csrfHeader: pre.Value}, pre, `{"token":"` + token + `"}`, 403},
		{"wrong token", origin, pre, `{"token":"nope"}`, 401},
		{"not json", form, pre, `token=` + token, 415},
		{"json but broken", origin, pre, `{"token":`, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do("POST", "/admin/session", tc.body, tc.hdr, tc.cookie)
			if rec.Code != tc.want || cookieOf(rec, sessionCookie) != nil {
				t.Fatalf("code %d (want %d), session cookie %v", rec.Code, tc.want, cookieOf(rec, sessionCookie))
			}
		})
	}
	in := do("POST", "/admin/session", `{"token":"`+token+`"}`, origin, pre)
	sess := cookieOf(in, sessionCookie)
	if in.Code != 200 || sess == nil || !sess.HttpOnly || sess.Path != "/admin/" {
		t.Fatalf("sign-in: %d %+v", in.Code, sess)
	}
	csrf := (&Sessions{key: NewSessions(token, nil, nil, nil).key}).csrfFor(sess.Value)
	if !strings.Contains(in.Body.String(), csrf) {
		t.Fatalf("sign-in answer lacks the session CSRF token: %s", in.Body)
	}
	good := map[string]string{"Origin": "http://shenfen.test", csrfHeader: csrf}
	fwd := []struct {
		name, method, path string
		hdr                map[string]string
		cookie             *http.Cookie
		want               int
		wantPath           string
	}{
		{"get record", "GET", "/admin/console/api/registry/110101199003077777", map[string]string{csrfHeader: csrf}, sess, 200, "/admin/api/registry/110101199003077777"},
		{"card status", "POST", "/admin/console/api/status", good, sess, 200, "/admin/status"},
		{"no session", "GET", "/admin/console/api/rps", good, nil, 401, ""},
		{"no csrf", "POST", "/admin/console/api/rps", map[string]string{"Origin": "http://shenfen.test"}, sess, 403, ""},
		{"pre token as csrf", "POST", "/admin/console/api/rps", origin, sess, 403, ""},
		{"cross-site", "POST", "/admin/console/api/rps", map[string]string{"Origin": "http://evil.test", csrfHeader: csrf}, sess, 403, ""},
		{"forged session", "GET", "/admin/console/api/rps", good, &http.Cookie{Name: sessionCookie, Value: "99999999999.AAAA"}, 401, ""},
	}
	for _, tc := range fwd {
		t.Run("forward "+tc.name, func(t *testing.T) {
			*spy = apiSpy{}
			rec := do(tc.method, tc.path, `{}`, tc.hdr, tc.cookie)
			if rec.Code != tc.want {
				t.Fatalf("code %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if tc.want != 200 {
				if spy.path != "" {
					t.Fatal("refused call reached the API")
				}
				return
			}
			if spy.path != tc.wantPath || spy.auth != "Bearer "+token || spy.cookie != "" || spy.method != tc.method {
				t.Fatalf("forwarded %+v", spy)
			}
		})
	}
	// Sign-out needs the CSRF token and clears the cookie.
	if rec := do("DELETE", "/admin/session", "", map[string]string{"Origin": "http://shenfen.test"}, sess); rec.Code != 403 {
		t.Fatalf("sign-out without csrf: %d", rec.Code)
	}
	out := do("DELETE", "/admin/session", "", good, sess)
	if c := cookieOf(out, sessionCookie); out.Code != 204 || c == nil || c.MaxAge >= 0 {
		t.Fatalf("sign-out: %d %+v", out.Code, c)
	}
}

func TestSessionExpiryAndKey(t *testing.T) {
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	s := NewSessions("0123456789abcdef0123", nil, nil, nil)
	s.now = func() time.Time { return now }
	v := s.newSession()
	if !s.valid(v) {
		t.Fatal("fresh session refused")
	}
	if NewSessions("another-token-0123456", nil, nil, nil).valid(v) {
		t.Fatal("a session survived an admin-token change")
	}
	s.now = func() time.Time { return now.Add(sessionTTL) }
	if s.valid(v) {
		t.Fatal("expired session accepted")
	}
	if NewSessions("", nil, nil, nil).signInAllowed() {
		t.Fatal("an empty admin token allows sign-in")
	}
}

func FuzzSessionCookie(f *testing.F) {
	s := NewSessions("0123456789abcdef0123", nil, nil, nil)
	f.Add(s.newSession())
	f.Add("")
	f.Add(".")
	f.Add("1.")
	f.Add("99999999999999999999.x")
	f.Add("-1.abc")
	f.Fuzz(func(t *testing.T, v string) {
		if s.valid(v) && v != s.newSession() {
			// Only a value this key made can be valid; a fuzzer cannot forge
			// an HMAC, so any acceptance must be a value made in this second.
			exp, _, _ := strings.Cut(v, ".")
			if b64(s.mac("session", exp)) != v[len(exp)+1:] {
				t.Fatalf("accepted forged session %q", v)
			}
		}
	})
}

// TestGzip checks that text assets go gzipped to a browser that asks, as
// they are, with their own ETag, and as they are to one that does not.
func TestGzip(t *testing.T) {
	h := Handler()
	raw := func(ae string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/wallet/wallet.js", nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	plain := raw("")
	for _, tc := range []struct {
		ae   string
		gzip bool
	}{
		{"", false}, {"gzip", true}, {"br, gzip, deflate", true}, {"gzip;q=0", false}, {"gzip; q=0.000, br", false},
		{"identity", false}, {"*", true}, {"GZIP;q=0.5", true},
	} {
		rec := raw(tc.ae)
		if rec.Code != 200 || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Fatalf("%q: code %d, Vary %q", tc.ae, rec.Code, rec.Header().Get("Vary"))
		}
		got := rec.Header().Get("Content-Encoding") == "gzip"
		if got != tc.gzip {
			t.Errorf("%q: gzip %v, want %v", tc.ae, got, tc.gzip)
			continue
		}
		body := rec.Body.Bytes()
		if got {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatal(err)
			}
			if rec.Header().Get("ETag") == plain.Header().Get("ETag") {
				t.Error("the gzipped copy has the plain copy's ETag")
			}
			// Script text shrinks about threefold (wallet.js: 2.98x); half
			// is the bound, so that an edit of the file does not fail it.
			if rec.Body.Len()*2 > plain.Body.Len() {
				t.Errorf("gzip: %d bytes of %d", rec.Body.Len(), plain.Body.Len())
			}
		}
		if !bytes.Equal(body, plain.Body.Bytes()) {
			t.Errorf("%q: body differs from the file", tc.ae)
		}
	}
}
