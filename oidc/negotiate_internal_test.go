package oidc

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestWantsPage(t *testing.T) {
	for _, tc := range []struct {
		accept string
		want   bool
	}{
		{"text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8", true}, // Chromium navigation
		{"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true},                       // Safari, Firefox
		{"application/xhtml+xml", true},
		{"TEXT/HTML", true},
		{"", false},                 // curl, Go's http.Client
		{"*/*", false},              // fetch() default
		{"application/json", false}, // an API client
		{"application/problem+json", false},
		{"text/html;q=0.5, application/json", false},
		{"text/html, application/json", true}, // a tie goes to the page
		{"text/html;q=0", false},
		{"text/html;q=2", false}, // out of range: ignored
		{"text/html;q=x", false},
		{"text/plain", false},
		{";;;,", false},
	} {
		r := httptest.NewRequest("GET", "/oidc/authorize", nil)
		r.Header.Set("Accept", tc.accept)
		if got := wantsPage(r); got != tc.want {
			t.Errorf("Accept %q: wantsPage %v, want %v", tc.accept, got, tc.want)
		}
	}
}

func FuzzWantsPage(f *testing.F) {
	f.Add("text/html,*/*;q=0.8")
	f.Add("application/json;q=0.1, text/html;q=0.05")
	f.Fuzz(func(t *testing.T, accept string) {
		r := httptest.NewRequest("GET", "/oidc/authorize", nil)
		r.Header["Accept"] = []string{accept}
		if wantsPage(r) && !strings.Contains(strings.ToLower(accept), "html") {
			t.Fatalf("a page for Accept %q, which names no HTML type", accept)
		}
	})
}
