package oidc

import (
	"encoding/json"
	"testing"
)

// FuzzDCQLPresentation: the vp_token reader (JSON v2) accepts exactly what
// encoding/json's reading accepted, with the same presentation.
func FuzzDCQLPresentation(f *testing.F) {
	for _, s := range []string{`{"pid":["a~b~"]}`, `{"pid":["a"],"pid":["b"]}`, `{"pid":[]}`, `{"pid":["a","b"]}`, `{"x":["a"]}`,
		`{"pid":["\xff"]}`, `{"PID":["a"]}`, `[]`, `null`, `{"pid":["a"]} `, `{"pid":[1]}`, ``} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := dcqlPresentation(s)
		var tok map[string][]string
		want, wantOK := "", false
		if len(s) <= maxPresentation+64 && json.Unmarshal([]byte(s), &tok) == nil && len(tok) == 1 && len(tok["pid"]) == 1 && tok["pid"][0] != "" {
			want, wantOK = tok["pid"][0], true
		}
		if ok != wantOK || got != want {
			t.Fatalf("%q: got %q %v, encoding/json %q %v", s, got, ok, want, wantOK)
		}
	})
}
