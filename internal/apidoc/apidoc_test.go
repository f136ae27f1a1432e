package apidoc

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSameShape(t *testing.T) {
	doc := json.RawMessage(`{"id": "x", "n": 1, "list": [{"a": true}], "o": {"k": "v"}}`)
	for _, tc := range []struct {
		answer, want string
	}{
		{`{"id": "y", "n": 2, "list": [{"a": false}], "o": {"k": "w"}}`, ""},
		{`{"id": "y", "n": 2, "list": [], "o": {"k": "w"}}`, ""},
		{`{"id": 3, "n": 2, "list": [], "o": {"k": "w"}}`, "$.id: documented string"},
		{`{"n": 2, "list": [], "o": {"k": "w"}}`, "$.id: documented but not answered"},
		{`{"id": "y", "n": 2, "list": [], "o": {"k": "w", "extra": 1}}`, "$.o.extra: answered but not documented"},
		{`{"id": "y", "n": 2, "list": [{"b": 1}], "o": {"k": "w"}}`, "$.list[0].a"},
	} {
		err := SameShape(doc, json.RawMessage(tc.answer))
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.answer, err, tc.want)
		}
	}
}

// TestExamplesParse: every marked example of docs/api.md is JSON.
func TestExamplesParse(t *testing.T) {
	ex, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) < 5 {
		t.Fatalf("%d marked examples in %s", len(ex), Path())
	}
}
