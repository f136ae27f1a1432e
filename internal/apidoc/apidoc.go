// Package apidoc reads the JSON examples of docs/api.md that are marked
// for testing, so that tests can send the documented requests to the real
// endpoints and hold the answers to the documented shapes. A marked
// example is an HTML comment "<!-- example: NAME -->" on the line before a
// ```json block.
package apidoc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
)

var marker = regexp.MustCompile("(?m)^<!-- example: ([a-z0-9.-]+) -->\\s*\\n```json\\n((?s:.*?))\\n```")

// Path is docs/api.md of the module this package is in.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "docs", "api.md")
}

// Examples returns the marked examples of docs/api.md by name, as JSON
// (the "…" placeholders of the text replaced by empty strings).
func Examples() (map[string]json.RawMessage, error) {
	b, err := os.ReadFile(Path())
	if err != nil {
		return nil, err
	}
	out := map[string]json.RawMessage{}
	for _, m := range marker.FindAllSubmatch(b, -1) {
		name := string(m[1])
		body := bytes.ReplaceAll(m[2], []byte(`[ … ]`), []byte(`[]`))
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("apidoc: example %q twice", name)
		}
		if !json.Valid(body) {
			return nil, fmt.Errorf("apidoc: example %q is not JSON:\n%s", name, body)
		}
		out[name] = body
	}
	return out, nil
}

// Load gives a test the examples and a check that holds an answer to the
// named example's shape (an error of t when it differs, a fatal one when
// docs/api.md has no such example).
func Load(t testing.TB) (map[string]json.RawMessage, func(name string, answer []byte)) {
	t.Helper()
	ex, err := Examples()
	if err != nil {
		t.Fatal(err)
	}
	return ex, func(name string, answer []byte) {
		t.Helper()
		if ex[name] == nil {
			t.Fatalf("docs/api.md has no example %q", name)
		}
		if err := SameShape(ex[name], answer); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// SameShape reports how actual differs from the documented example: every
// member of an object documented and present, with the same JSON type, and
// nothing undocumented; arrays compared by their first elements.
func SameShape(documented, actual json.RawMessage) error {
	var d, a any
	if err := json.Unmarshal(documented, &d); err != nil {
		return err
	}
	if err := json.Unmarshal(actual, &a); err != nil {
		return fmt.Errorf("answer is not JSON: %v", err)
	}
	var errs []string
	shape("$", d, a, &errs)
	if len(errs) > 0 {
		return fmt.Errorf("answer differs from the documented example:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

func shape(path string, d, a any, errs *[]string) {
	if kind(d) != kind(a) {
		*errs = append(*errs, fmt.Sprintf("%s: documented %s, answered %s", path, kind(d), kind(a)))
		return
	}
	switch dv := d.(type) {
	case map[string]any:
		av := a.(map[string]any)
		var keys []string
		for k := range dv {
			keys = append(keys, k)
		}
		for k := range av {
			if _, ok := dv[k]; !ok {
				*errs = append(*errs, fmt.Sprintf("%s.%s: answered but not documented", path, k))
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			x, ok := av[k]
			if !ok {
				*errs = append(*errs, fmt.Sprintf("%s.%s: documented but not answered", path, k))
				continue
			}
			shape(path+"."+k, dv[k], x, errs)
		}
	case []any:
		av := a.([]any)
		if len(dv) > 0 && len(av) > 0 {
			shape(path+"[0]", dv[0], av[0], errs)
		}
	}
}
