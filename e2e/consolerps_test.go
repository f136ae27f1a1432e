package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleRPs registers a relying party through the console's form in
// Chromium as an administrator, with its name and purpose in Chinese and
// English: the admin API then holds both languages, the list shows the name
// in the console's language (English, then Chinese after switching), a
// registration with one language only is refused with the API's reason,
// and axe-core finds no violation in the panel's states.
func TestConsoleRPs(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	s, j, a, secret := consoleTab(t, "e2e.rps", "E2E RP admin", "E2E-3")
	j.run(a, "console sign-in", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("operator"), "e2e.rps"),
		chromedp.SendKeys(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("rp-add")))
	j.axe(a, "console-rps")

	fill := func(zh string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.ID("rp-id"), "e2e-inn"),
			chromedp.SetValue(chromedp.ID("rp-name-zh"), zh),
			chromedp.SetValue(chromedp.ID("rp-name-en"), "Riverside Inn"),
			chromedp.SetValue(chromedp.ID("rp-purpose-zh"), "在线办理入住"),
			chromedp.SetValue(chromedp.ID("rp-purpose-en"), "Online check-in"),
			chromedp.SetValue(chromedp.ID("rp-redirect"), "https://inn.example/cb"),
			chromedp.SetValue(chromedp.ID("rp-claims"), "name,id_number,picture?"),
		}
	}
	// The form requires both names; a name of spaces passes the browser's
	// check and is refused by the API, whose reason the console shows.
	j.run(a, "register with one name", 30*time.Second, append(fill("   "), chromedp.Click(chromedp.CSS(`#rp-add button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("rp-msg").textContent.length > 0`))...)
	msg, _ := chromedp.Run(a, chromedp.Text(chromedp.ID("rp-msg")))
	if !strings.Contains(msg, "both zh and en") {
		t.Errorf("e2e: a registration without a Chinese name: the console says %q", msg)
	}
	j.run(a, "register", 30*time.Second, append(fill("河畔客栈"), chromedp.Click(chromedp.CSS(`#rp-add button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#rps td")].some((td) => td.textContent === "Riverside Inn")`))...)
	msg, _ = chromedp.Run(a, chromedp.Text(chromedp.ID("rp-msg")))
	if !strings.Contains(msg, "client_secret: ") {
		t.Errorf("e2e: after registering a relying party the console says %q, want its secret", msg)
	}
	j.axe(a, "console-rps-registered")
	var rp struct {
		Name, Purpose map[string]string
	}
	code, body := adminJSON(t, s, "GET", "/admin/api/rps/e2e-inn", nil)
	if json.Unmarshal(body, &rp); code != http.StatusOK || rp.Name["zh"] != "河畔客栈" || rp.Name["en"] != "Riverside Inn" ||
		rp.Purpose["zh"] != "在线办理入住" || rp.Purpose["en"] != "Online check-in" {
		t.Fatalf("e2e: the relying party registered in the console: %d %s", code, body)
	}
	j.run(a, "console in Chinese", 30*time.Second,
		chromedp.Evaluate[chromedp.Void](`localStorage.setItem("shenfen.lang", "zh")`), chromedp.Reload(),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#rps td")].some((td) => td.textContent === "河畔客栈")`))
	j.axe(a, "console-rps-zh")
	j.checkConsole()
}
