package web

import (
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var (
	staticImport = regexp.MustCompile(`(?m)^import\s+(?:[^"']*?\s+from\s+)?["']([^"']+)["'];?`)
	shellList    = regexp.MustCompile(`(?s)const SHELL = \[(.*?)\];`)
	quoted       = regexp.MustCompile(`"([^"]+)"`)
)

// TestServiceWorkerShell: each page's service worker keeps every module
// the page imports statically (followed through the imports), so the page
// starts offline; a module missing from SHELL would fail the whole start.
func TestServiceWorkerShell(t *testing.T) {
	root := Assets()
	for _, tc := range []struct{ sw, page, entry string }{
		{"wallet/sw.js", "/wallet/", "/wallet/wallet.js"},
		{"verifier/sw.js", "/verifier/", "/verifier/verifier.js"},
	} {
		src, err := fs.ReadFile(root, tc.sw)
		if err != nil {
			t.Fatal(err)
		}
		m := shellList.FindSubmatch(src)
		if m == nil {
			t.Fatalf("%s: no SHELL list", tc.sw)
		}
		var shell []string
		for _, q := range quoted.FindAllSubmatch(m[1], -1) {
			shell = append(shell, string(q[1]))
		}
		need := []string{tc.page}
		seen := map[string]bool{}
		queue := []string{tc.entry}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if seen[p] {
				continue
			}
			seen[p] = true
			need = append(need, p)
			b, err := fs.ReadFile(root, strings.TrimPrefix(p, "/"))
			if err != nil {
				t.Fatalf("%s imports %s: %v", tc.entry, p, err)
			}
			for _, im := range staticImport.FindAllSubmatch(b, -1) {
				dep := string(im[1])
				if !strings.HasPrefix(dep, "/") {
					dep = path.Join(path.Dir(p), dep)
				}
				queue = append(queue, dep)
			}
		}
		for _, p := range need {
			if !slices.Contains(shell, p) {
				t.Errorf("%s: %s is loaded at start but not kept for offline use", tc.sw, p)
			}
		}
	}
}
