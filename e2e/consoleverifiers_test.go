package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleVerifiers drives the console's verifier registry in Chromium
// as an administrator: register a desk through the form (its desk token
// shown once), edit its names and entitlements (the public registry entry
// wallets read changes, the certificate stays), renew its certificate (a
// new certificate hash), register an online verifier with its public key
// (its certificate shown as PEM), and retire the desk (the registry answers
// 404). axe-core finds no violation in the panel's states; a state change
// without the session's CSRF token is refused; the page logs no CSP
// violation or exception.
func TestConsoleVerifiers(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	s, j, a, secret := consoleTab(t, "e2e.admin", "E2E Admin", "E2E-2")
	j.run(a, "console sign-in", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("operator"), "e2e.admin"),
		chromedp.SendKeys(chromedp.ID("secret"), secret),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("vf-form")),
		chromedp.Poll[chromedp.Void](`document.getElementById("vf-title").textContent === "Verifiers (desks and online)"`))
	j.axe(a, "console-verifiers")

	row := func(id string) string { return `#verifiers tr[data-verifier="` + id + `"]` }
	j.run(a, "register a desk", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("vf-id"), "e2e-desk"),
		chromedp.SetValue(chromedp.ID("vf-kind"), "desk"),
		chromedp.SendKeys(chromedp.ID("vf-name-zh"), "东站售票处"),
		chromedp.SendKeys(chromedp.ID("vf-name-en"), "East station ticket desk"),
		chromedp.SendKeys(chromedp.ID("vf-purpose-zh"), "实名购票"),
		chromedp.SendKeys(chromedp.ID("vf-purpose-en"), "Ticket in the passenger's name"),
		chromedp.SendKeys(chromedp.ID("vf-claims"), "family_name,given_name,id_number?"),
		chromedp.Click(chromedp.ID("vf-submit")),
		chromedp.WaitVisible(chromedp.CSS(row("e2e-desk"))))
	msg, _ := chromedp.Run(a, chromedp.Text(chromedp.ID("vf-msg")))
	if !strings.Contains(msg, "sfd_") {
		t.Errorf("e2e: after registering a desk the console says %q, want its desk token", msg)
	}
	var before struct {
		CertHash string `json:"cert_hash"`
	}
	code, body := adminJSON(t, s, "GET", "/admin/api/verifiers/e2e-desk", nil)
	if json.Unmarshal(body, &before); code != 200 || before.CertHash == "" {
		t.Fatalf("e2e: the desk registered in the console: %d %s", code, body)
	}

	// Edit: names and entitlements; id and kind are locked.
	j.run(a, "edit the desk", 30*time.Second,
		chromedp.Click(chromedp.CSS(row("e2e-desk")+` button.secondary`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("vf-id").disabled && document.getElementById("vf-name-en").value === "East station ticket desk"`))
	j.axe(a, "console-verifiers-edit")
	j.run(a, "save the edit", 30*time.Second,
		chromedp.SetValue(chromedp.ID("vf-name-en"), "East station ticket office"),
		chromedp.SetValue(chromedp.ID("vf-claims"), "family_name,given_name"),
		chromedp.Click(chromedp.ID("vf-submit")),
		chromedp.Poll[chromedp.Void](`(document.querySelector('`+row("e2e-desk")+`') || {}).textContent?.includes("East station ticket office")`))
	r, err := http.Get(s.URL + "/api/verifiers/" + before.CertHash)
	if err != nil {
		t.Fatal(err)
	}
	var pub struct {
		Name   map[string]string `json:"name"`
		Claims []map[string]any  `json:"claims"`
	}
	json.NewDecoder(r.Body).Decode(&pub)
	r.Body.Close()
	if r.StatusCode != 200 || pub.Name["en"] != "East station ticket office" || len(pub.Claims) != 2 {
		t.Errorf("e2e: the registry entry wallets read after the edit: %d %+v", r.StatusCode, pub)
	}

	// Renew the certificate (the confirmation is accepted).
	j.run(a, "renew the certificate", 30*time.Second,
		chromedp.Click(chromedp.CSS(row("e2e-desk")+` button.secondary:nth-of-type(2)`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('`+row("e2e-desk")+`').dataset.certHash !== `+jsString(before.CertHash)))
	if r, err := http.Get(s.URL + "/api/verifiers/" + before.CertHash); err != nil || r.StatusCode != http.StatusNotFound {
		t.Errorf("e2e: the desk's old certificate is still registered after renewal: %v %v", r.StatusCode, err)
	}

	// An online verifier with its own key: its certificate is shown.
	jwk := `{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}`
	j.run(a, "register an online verifier", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("vf-id"), "e2e-shop"),
		chromedp.SetValue(chromedp.ID("vf-kind"), "online"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("vf-kind").dispatchEvent(new Event("change"))`),
		chromedp.WaitVisible(chromedp.ID("vf-dns")),
		chromedp.SendKeys(chromedp.ID("vf-name-zh"), "网上商店"),
		chromedp.SendKeys(chromedp.ID("vf-name-en"), "Online shop"),
		chromedp.SendKeys(chromedp.ID("vf-purpose-zh"), "年龄核验"),
		chromedp.SendKeys(chromedp.ID("vf-purpose-en"), "Age check"),
		chromedp.SendKeys(chromedp.ID("vf-claims"), "age_equal_or_over"),
		chromedp.SendKeys(chromedp.ID("vf-dns"), "shop.example"),
		chromedp.SetValue(chromedp.ID("vf-jwk"), jwk),
		chromedp.Click(chromedp.ID("vf-submit")),
		chromedp.WaitVisible(chromedp.CSS(row("e2e-shop"))),
		chromedp.Poll[chromedp.Void](`document.getElementById("vf-pem").textContent.startsWith("-----BEGIN CERTIFICATE-----")`))
	j.axe(a, "console-verifiers-online")

	// Without the session's CSRF token nothing changes.
	st, _ := chromedp.Run(a, chromedp.Evaluate[int](`fetch("/admin/console/api/verifiers/e2e-shop", {method: "DELETE", credentials: "same-origin"}).then((r) => r.status)`, chromedp.EvalAwaitPromise))
	if st < 400 {
		t.Errorf("e2e: a DELETE without the CSRF token answered %d", st)
	}
	if code, _ := adminJSON(t, s, "GET", "/admin/api/verifiers/e2e-shop", nil); code != 200 {
		t.Errorf("e2e: the online verifier is gone after a DELETE without the CSRF token: %d", code)
	}

	// Retire the desk.
	j.run(a, "retire the desk", 30*time.Second,
		chromedp.Click(chromedp.CSS(row("e2e-desk")+` button.danger`)),
		chromedp.Poll[chromedp.Void](`!document.querySelector('`+row("e2e-desk")+`')`))
	if code, _ := adminJSON(t, s, "GET", "/admin/api/verifiers/e2e-desk", nil); code != http.StatusNotFound {
		t.Errorf("e2e: the retired desk is still registered: %d", code)
	}
	j.checkConsole()
}
