package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestConsoleKeyboard uses the admin console as an administrator with the
// keyboard only: the sign-in form, the console with its relying parties
// and verifiers, a relying party registered through its form, a desk
// registered and opened for editing, each state swept with Tab and
// Shift+Tab (every visible control reached, with a visible focus
// indicator, on screen and not covered), at a phone's width and, for the
// console and the edit, a desktop's.
func TestConsoleKeyboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	s, j, a, secret := consoleTab(t, "e2e.keys", "E2E keyboard admin", "E2E-4")
	j.keyboardSweep(a, "console sign-in")
	j.tabTo(a, "operator", "#operator", "e2e.keys")
	j.tabTo(a, "secret", "#secret", secret)
	j.tabTo(a, "sign in", "#signin button[type=submit]", kb.Enter)
	j.run(a, "console signed in", 30*time.Second, chromedp.WaitVisible(chromedp.ID("rp-add")), chromedp.WaitVisible(chromedp.ID("vf-form")),
		chromedp.Poll[chromedp.Void](`document.getElementById("vf-title").textContent === "Verifiers (desks and online)"`))
	j.keyboardSweep(a, "console")
	j.keyboardSweepWide(a, "console")

	// A relying party, field by field, sent with Enter on the form's button.
	for _, f := range [][2]string{{"#rp-id", "kb-inn"}, {"#rp-name-zh", "键盘客栈"}, {"#rp-name-en", "Keyboard Inn"},
		{"#rp-purpose-zh", "在线办理入住"}, {"#rp-purpose-en", "Online check-in"}, {"#rp-redirect", "https://inn.example/cb"},
		{"#rp-claims", "name,id_number"}} {
		j.tabTo(a, "relying party "+f[0], f[0], f[1])
	}
	j.tabTo(a, "register the relying party", "#rp-add button[type=submit]", kb.Enter)
	j.run(a, "relying party registered", 30*time.Second,
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll("#rps td")].some((td) => td.textContent === "Keyboard Inn")`))
	if msg, _ := chromedp.Run(a, chromedp.Text(chromedp.ID("rp-msg"))); !strings.Contains(msg, "client_secret: ") {
		t.Errorf("e2e: after registering a relying party by keyboard the console says %q, want its secret", msg)
	}
	if code, _ := adminJSON(t, s, "GET", "/admin/api/rps/kb-inn", nil); code != http.StatusOK {
		t.Errorf("e2e: the relying party registered by keyboard: %d", code)
	}
	j.keyboardSweep(a, "console: relying party registered")

	// A desk, then its edit opened with Enter on the row's button.
	for _, f := range [][2]string{{"#vf-id", "kb-desk"}, {"#vf-name-zh", "键盘前台"}, {"#vf-name-en", "Keyboard desk"},
		{"#vf-purpose-zh", "实名登记"}, {"#vf-purpose-en", "Registration by name"}, {"#vf-claims", "family_name,given_name"}} {
		j.tabTo(a, "desk "+f[0], f[0], f[1])
	}
	j.tabTo(a, "register the desk", "#vf-submit", kb.Enter)
	row := `#verifiers tr[data-verifier="kb-desk"]`
	j.run(a, "desk registered", 30*time.Second, chromedp.WaitVisible(chromedp.CSS(row)))
	j.keyboardSweep(a, "console: desk registered")
	j.tabTo(a, "edit the desk", row+` button.secondary`, kb.Enter)
	j.run(a, "editing the desk", 30*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("vf-id").disabled && document.getElementById("vf-name-en").value === "Keyboard desk"`))
	j.focusOn(a, "editing the desk", "#vf-name-zh")
	j.keyboardSweep(a, "console: editing a desk")
	j.keyboardSweepWide(a, "console: editing a desk")
	j.tabTo(a, "stop editing", "#vf-cancel", kb.Enter)
	j.run(a, "stopped editing", 30*time.Second, chromedp.Poll[chromedp.Void](`!document.getElementById("vf-id").disabled && document.getElementById("vf-cancel").hidden`))
	j.checkConsole()
}
