package oidc

import (
	"slices"
	"strings"
	"testing"
)

func TestTrimScopes(t *testing.T) {
	hotel := &Client{Entitlements: []Entitlement{{Claim: "name"}, {Claim: "id_number"}, {Claim: "picture", Optional: true}}}
	bar := &Client{Entitlements: []Entitlement{{Claim: "age_over_18"}}}
	tests := []struct {
		name                  string
		c                     *Client
		scopes                []string
		kept, claims, refused []string
	}{
		{"hotel asks its due", hotel, []string{"openid", "profile", "id_number", "picture"},
			[]string{"openid", "profile", "id_number", "picture"}, []string{"name", "id_number", "picture"}, []string{"family_name", "given_name"}},
		{"bar asks too much", bar, []string{"openid", "profile", "id_number", "age_over_18", "address"},
			[]string{"openid", "age_over_18"}, []string{"age_over_18"}, []string{"name", "family_name", "given_name", "id_number", "address"}},
		{"unknown and repeated scopes", bar, []string{"openid", "openid", "admin", "age_over_18", "age_over_18", "offline_access"},
			[]string{"openid", "age_over_18", "offline_access"}, []string{"age_over_18"}, nil},
		{"nothing", hotel, nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			kept, claims, refused := trimScopes(tt.c, tt.scopes)
			if !slices.Equal(kept, tt.kept) || !slices.Equal(claims, tt.claims) || !slices.Equal(refused, tt.refused) {
				t.Fatalf("got %v %v %v, want %v %v %v", kept, claims, refused, tt.kept, tt.claims, tt.refused)
			}
		})
	}
}

func TestFromCard(t *testing.T) {
	card := map[string]any{
		"family_name": "张", "given_name": "三", "name_original": "张三", "id_number": "44011519900307001X",
		"birthdate": "1990-03-07", "age_equal_or_over": map[string]any{"18": true, "60": false},
		"address": map[string]any{"formatted": "广州"}, "picture": "data:image/jpeg;base64,AA",
	}
	got := fromCard(card, []string{"name", "age_over_18", "address"})
	if got["name"] != "张三" || got["age_over_18"] != true || got["address"].(map[string]any)["formatted"] != "广州" || len(got) != 3 {
		t.Fatalf("fromCard = %v", got)
	}
	if got := fromCard(map[string]any{"family_name": "Doe", "given_name": "Jane"}, []string{"name", "id_number"}); got["name"] != "Jane Doe" || len(got) != 1 {
		t.Fatalf("fromCard = %v", got)
	}
	// Wrong types are dropped, never passed on.
	if got := fromCard(map[string]any{"id_number": 42, "age_equal_or_over": map[string]any{"18": "yes"}}, []string{"id_number", "age_over_18"}); len(got) != 0 {
		t.Fatalf("fromCard = %v", got)
	}
}

func TestParseEntitlements(t *testing.T) {
	es, err := ParseEntitlements(" name, id_number ,picture?")
	if err != nil || len(es) != 3 || !es[2].Optional || es[0].Optional || FormatEntitlements(es) != "name,id_number,picture?" {
		t.Fatalf("%v %v", es, err)
	}
	for _, bad := range []string{"name,name", "password", "name?,?", "id_number??"} {
		if _, err := ParseEntitlements(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseEntitlements(f *testing.F) {
	for _, s := range []string{"name,id_number,picture?", "age_over_18", "", ",,", "name?,name", "x\x00y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		es, err := ParseEntitlements(s)
		if err != nil {
			return
		}
		again, err := ParseEntitlements(FormatEntitlements(es))
		if err != nil || !slices.Equal(again, es) {
			t.Fatalf("round trip of %q: %v %v", s, again, err)
		}
		for _, e := range es {
			if _, ok := cardPaths[e.Claim]; !ok || strings.ContainsAny(e.Claim, "?, ") {
				t.Fatalf("accepted claim %q", e.Claim)
			}
		}
	})
}
