package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shenfen/shenfen/admin"
	"github.com/shenfen/shenfen/operator"
	"github.com/shenfen/shenfen/registry"
	"github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/store"
)

// TestEveryAdminRouteHasARule mounts the whole server and checks that each
// admin API route it serves has an access rule (a route without one would
// be refused to everyone, so this catches a route added without thought).
func TestEveryAdminRouteHasARule(t *testing.T) {
	a := testApp(t)
	srv := server.New(a.log, a.db)
	if err := mount(context.Background(), a, srv); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range srv.Patterns() {
		_, path, _ := strings.Cut(p, " ")
		if !strings.HasPrefix(path, "/admin/api/") && path != "/admin/status" {
			continue
		}
		n++
		if _, ok := admin.RouteFor(p); !ok {
			t.Errorf("admin route %s has no rule in admin.Routes", p)
		}
	}
	if n != len(admin.Routes) {
		t.Errorf("%d admin routes mounted, %d rules", n, len(admin.Routes))
	}
}

// TestConsoleOperatorSignIn signs a named operator in to the console of
// the real server: the admin token signs nobody in, the session's calls
// carry the operator (whoami), the token's own machine principal is named
// and scoped, and disabling the operator ends the session at once.
func TestConsoleOperatorSignIn(t *testing.T) {
	operator.SecretIterations = 1000
	a := testApp(t)
	srv := server.New(a.log, a.db)
	if err := mount(context.Background(), a, srv); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx := context.Background()
	hash, _ := operator.HashSecret("s3cret-for-wang")
	if err := a.db.Operators().AddOperator(ctx, operator.Operator{ID: "wang.fang", Name: "王芳", Badge: "44-0107",
		Office: "南沙分局", Roles: []operator.Role{operator.RegistryReader}, SecretHash: hash, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	do := func(method, path, csrf, body string) (int, string) {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Origin", ts.URL)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	csrfOf := func(body string) string {
		var v struct{ CSRF string }
		json.Unmarshal([]byte(body), &v)
		return v.CSRF
	}
	_, st := do("GET", "/admin/session", "", "")
	pre := csrfOf(st)
	if !strings.Contains(st, `"mode":"operator"`) {
		t.Fatalf("console mode: %s", st)
	}
	for _, body := range []string{`{"token":"test-admin-token-0123"}`, `{"operator":"wang.fang","secret":"wrong"}`,
		`{"operator":"nobody","secret":"s3cret-for-wang"}`} {
		if code, b := do("POST", "/admin/session", pre, body); code != 400 && code != 401 {
			t.Errorf("sign-in %s: %d %s", body, code, b)
		}
	}
	code, b := do("POST", "/admin/session", pre, `{"operator":"wang.fang","secret":"s3cret-for-wang"}`)
	if code != 200 {
		t.Fatalf("sign-in: %d %s", code, b)
	}
	csrf := csrfOf(b)
	if code, b := do("GET", "/admin/console/api/whoami", csrf, ""); code != 200 || !strings.Contains(b, `"id":"wang.fang"`) || !strings.Contains(b, "registry.read") {
		t.Fatalf("whoami: %d %s", code, b)
	}
	// A reader may not register relying parties.
	if code, _ := do("GET", "/admin/console/api/rps", csrf, ""); code != 403 {
		t.Errorf("reader lists RPs: %d, want 403", code)
	}
	// The token is a named machine with its scope.
	req, _ := http.NewRequest("GET", ts.URL+"/admin/api/whoami", nil)
	req.Header.Set("Authorization", "Bearer test-admin-token-0123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(wb), `"id":"machine:admin-token"`) || !strings.Contains(string(wb), `"kind":"machine"`) {
		t.Errorf("token principal: %s", wb)
	}
	// Disabled: out at once.
	if err := a.db.Operators().SetOperator(ctx, "wang.fang", []operator.Role{operator.RegistryReader}, "", true); err != nil {
		t.Fatal(err)
	}
	if code, _ := do("GET", "/admin/console/api/whoami", csrf, ""); code != 401 {
		t.Errorf("disabled operator's session: %d, want 401", code)
	}
}

// TestImportInCitizenHistory imports a registry file twice (the second run
// changes one record) with the import command, then reads two citizens'
// histories: each shows the import that created its record, the changed
// one also the second import; one batch row per import, not per record;
// the access check passes and the import's leaves hold nothing personal.
func TestImportInCitizenHistory(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	csv := filepath.Join(dir, "demo.csv")
	if err := runRegistry(ctx, []string{"demo", "--faces", "", "--count", "20", "--seed", "7", "--out", csv}); err != nil {
		t.Fatal(err)
	}
	if err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", "--reason", "purpose=registry-load; case=LOAD-1", csv}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(csv)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	changed := registry.DemoRecord(7, 0)
	for i, l := range lines {
		if strings.HasPrefix(l, string(changed.IDNumber)+",") {
			lines[i] = strings.Replace(l, changed.Name, changed.Name+"明", 1)
		}
	}
	csv2 := filepath.Join(dir, "demo2.csv")
	os.WriteFile(csv2, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	if err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", csv2}); err != nil {
		t.Fatal(err)
	}
	if err := runRegistry(ctx, []string{"import", "--data", data, "--quiet", "--reason", "because", csv2}); err == nil {
		t.Error("an import with an invalid reason ran")
	}
	// Command-line reads and changes of one record need a reason and are recorded.
	other := registry.DemoRecord(7, 9).IDNumber
	if err := runRegistry(ctx, []string{"show", "--data", data, string(other)}); err == nil {
		t.Error("registry show without a reason ran")
	}
	if err := runRegistry(ctx, []string{"show", "--data", data, "--reason", "purpose=counter-service", string(other)}); err != nil {
		t.Fatal(err)
	}
	if err := runRegistry(ctx, []string{"status", "--data", data, "--reason", "case=CS-3", string(other), "valid"}); err != nil {
		t.Fatal(err)
	}
	a := openTestApp(t, data)
	defer a.Close()
	tr, err := a.openTrust(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hist := citizenAccesses{log: tr.audit, reg: store.NewRegistry(a.db)}
	for _, tc := range []struct {
		id      registry.IDNumber
		batches int
	}{{changed.IDNumber, 2}, {registry.DemoRecord(7, 5).IDNumber, 1}} {
		subj, _ := a.subjectOf(string(tc.id))
		h, err := hist.AccessHistory(ctx, subj, 0)
		if err != nil || len(h) != tc.batches {
			t.Fatalf("%s: history %+v %v, want %d imports", tc.id, h, err, tc.batches)
		}
		last := h[len(h)-1] // oldest: the first import
		if last.Action != "registry.import" || last.Batch == "" || last.Reason != "purpose=registry-load; case=LOAD-1" || last.Kind != "machine" {
			t.Errorf("%s: first import shown as %+v", tc.id, last.Access)
		}
		if tc.batches == 2 && (h[0].Batch == last.Batch || h[0].Reason != "purpose=registry-load") {
			t.Errorf("%s: second import shown as %+v", tc.id, h[0].Access)
		}
	}
	subj, _ := a.subjectOf(string(other))
	h, err := hist.AccessHistory(ctx, subj, 0)
	if err != nil || len(h) != 3 || h[0].Action != "registry.status:valid" || h[0].Reason != "case=CS-3" ||
		h[1].Action != "registry.read" || h[0].Operator != "machine:cli" || h[2].Action != "registry.import" {
		t.Fatalf("history after command-line access: %+v %v", h, err)
	}
	c, err := tr.audit.CheckAccesses(ctx)
	if err != nil || c.Leaves != 4 || c.Records != 4 {
		t.Fatalf("check: %+v %v (want one record per import, one per command-line access)", c, err)
	}
	size, _ := tr.audit.Size(ctx)
	for i := uint64(0); i < size; i++ {
		l, _ := tr.audit.Leaf(ctx, i)
		for _, s := range []string{"LOAD-1", "registry-load", "command line", string(changed.IDNumber)} {
			if strings.Contains(string(l.Data), s) {
				t.Errorf("leaf %d holds %q: %s", i, s, l.Data)
			}
		}
	}
}
