package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// consoleTab starts a server with a console administrator (id, name and
// badge) and opens the console's sign-in page, in English, in a watched
// tab that closes when the test ends. It returns the server, the journey,
// the tab and the administrator's secret.
func consoleTab(t *testing.T, id, name, badge string) (*server, *journey, context.Context, string) {
	t.Helper()
	chromium(t)
	s := startServer(t, facesDir(t))
	code, body := adminJSON(t, s, "POST", "/admin/api/operators", map[string]any{
		"id": id, "name": name, "badge": badge, "office": "E2E office", "roles": []string{"administrator"}})
	var op struct {
		Secret string `json:"secret"`
	}
	if json.Unmarshal(body, &op); code != http.StatusCreated || op.Secret == "" {
		t.Fatalf("e2e: add the console operator: %d %s", code, body)
	}
	j := &journey{t: t, dir: artifacts(t)}
	b := newBrowser(t, t.TempDir(), "", "")
	a, cancel := b.tab()
	t.Cleanup(cancel)
	j.watch(a)
	j.run(a, "console", 30*time.Second, chromedp.Navigate(s.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("signin")),
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("shenfen.lang", "en")`), chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("signin")))
	return s, j, a, op.Secret
}
