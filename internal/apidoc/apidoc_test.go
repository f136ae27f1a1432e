package apidoc

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
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

// TestEveryExampleUsed: every JSON block of docs/api.md is a marked
// example, and every marked example is named by a test outside this
// package (which sends it or holds an answer to it), so an example added
// to the docs without a test, or a test dropped, fails here.
func TestEveryExampleUsed(t *testing.T) {
	doc, err := os.ReadFile(Path())
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Count(string(doc), "\n```json\n")
	ex, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	if blocks != len(ex) {
		t.Errorf("docs/api.md has %d JSON blocks but %d marked examples: mark each with <!-- example: NAME --> and test it", blocks, len(ex))
	}
	root := filepath.Join(filepath.Dir(Path()), "..")
	var tests []byte
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if strings.HasSuffix(path, "_test.go") && filepath.Base(filepath.Dir(path)) != "apidoc" {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			tests = append(tests, b...)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name := range ex {
		if !bytes.Contains(tests, []byte(`"`+name+`"`)) {
			t.Errorf("example %q of docs/api.md is named by no test", name)
		}
	}
}
