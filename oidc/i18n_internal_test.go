package oidc

import (
	"net/http/httptest"
	"testing"
)

func TestPageLang(t *testing.T) {
	for _, tc := range []struct {
		name, ui, accept, want string
	}{
		{"nothing", "", "", langEN},
		{"chinese browser", "", "zh-CN,zh;q=0.9,en;q=0.8", langZH},
		{"english browser", "", "en-US,en;q=0.9,zh;q=0.8", langEN},
		{"traditional chinese after french", "", "fr-FR, zh-TW;q=0.5", langZH},
		{"q order, not list order", "", "en;q=0.3, zh-Hans;q=0.7", langZH},
		{"zh refused with q=0", "", "zh;q=0, en", langEN},
		{"unsupported only", "", "de-DE,fr;q=0.8", langEN},
		{"case and underscore", "", "ZH_cn", langZH},
		{"bad q skipped", "", "zh;q=x, en;q=0.5", langEN},
		{"ui_locales wins over accept-language", "en", "zh-CN", langEN},
		{"ui_locales zh wins", "zh-CN en", "en-US", langZH},
		{"first supported ui_locale", "fr-CA zh-Hant", "en", langZH},
		{"unsupported ui_locales fall back", "fr de", "zh", langZH},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/oidc/login", nil)
			if tc.accept != "" {
				r.Header.Set("Accept-Language", tc.accept)
			}
			if got := pageLang(tc.ui, r); got != tc.want {
				t.Errorf("pageLang(%q, Accept-Language %q) = %q, want %q", tc.ui, tc.accept, got, tc.want)
			}
		})
	}
}

// TestTextComplete: every key has both languages, and every claim a
// Chinese label.
func TestTextComplete(t *testing.T) {
	for k, v := range text[langEN] {
		if _, ok := text[langZH][k]; !ok {
			t.Errorf("text %q: no Chinese", k)
		}
		if v == "" && k != "login_h1_post" {
			t.Errorf("text %q: empty English", k)
		}
	}
	for k := range text[langZH] {
		if _, ok := text[langEN][k]; !ok {
			t.Errorf("text %q: no English", k)
		}
	}
	for c := range claimLabels {
		if claimLabelsZH[c] == "" {
			t.Errorf("claim %q: no Chinese label", c)
		}
	}
}
