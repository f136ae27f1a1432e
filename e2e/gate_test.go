package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	shenfen "github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/web"
)

// startGate opens the wallet's gate (web/static/wallet/gate.js) in the
// page; gateResult waits for its answer (true: verified).
const startGate = `(() => { window.__gate = import("/wallet/gate.js").then((g) => g.verify("test")); return true; })()`
const gateResult = `window.__gate`

// TestGate checks the wallet's gate before a presentation in Chromium:
// with a platform authenticator (Chromium's virtual authenticator, user
// verification on) the first use registers a credential and each later
// use asks for an assertion; an authenticator answer without the user
// verified flag is refused; without an authenticator, an app PIN is
// chosen (twice), a wrong PIN counts down the tries left, the right one
// passes. The pages are served at "localhost": WebAuthn needs a domain.
func TestGate(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	url := walletOnLocalhost(t)
	j := &journey{t: t, dir: artifacts(t)}

	b := newBrowser(t, t.TempDir(), "", "")
	w, cancel := b.tab()
	defer cancel()
	j.watch(w)
	j.run(w, "wallet", 30*time.Second, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	if _, err := chromedp.Call(w, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	auth, err := chromedp.Call(w, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
	if err != nil {
		t.Fatal(err)
	}
	gateOnce := func(step string) bool {
		t.Helper()
		j.run(w, step, 20*time.Second, chromedp.Evaluate[chromedp.Void](startGate),
			chromedp.Poll[chromedp.Void](`document.getElementById("gate").open && document.activeElement === document.getElementById("gate-bio")`),
			chromedp.Click(chromedp.ID("gate-bio")))
		ok, err := chromedp.Run(w, chromedp.Evaluate[bool](`Promise.race([`+gateResult+`, new Promise((r) => setTimeout(() => r("open"), 3000))]).then((v) => v === true)`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		return ok
	}
	// First use: a credential is made with user verification.
	if !gateOnce("register") {
		t.Fatal("the gate refused a verified registration")
	}
	creds, err := chromedp.Call(w, webauthn.GetCredentials, webauthn.GetCredentialsParams(auth))
	if err != nil || len(creds.Credentials) != 1 {
		t.Fatalf("credentials after the first gate: %v, %v", creds, err)
	}
	// Later uses: an assertion.
	if !gateOnce("assert") {
		t.Fatal("the gate refused a verified assertion")
	}
	j.shot(w, "gate-passed")
	// An answer without the UV flag is refused by the wallet itself.
	bad := true
	if _, err := chromedp.Call(w, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: auth.AuthenticatorID, IsBadUV: &bad}); err != nil {
		t.Fatal(err)
	}
	if gateOnce("unverified") {
		t.Fatal("the gate let an assertion without user verification through")
	}
	msg, _ := chromedp.Run(w, chromedp.Text(chromedp.ID("gate-msg")))
	if msg == "" {
		t.Error("an unverified answer shows no message")
	}
	j.shot(w, "gate-refused")
	j.run(w, "cancel", 10*time.Second, chromedp.Click(chromedp.ID("gate-cancel")),
		chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
	if ok, _ := chromedp.Run(w, chromedp.Evaluate[bool](gateResult, chromedp.EvalAwaitPromise)); ok {
		t.Error("a cancelled gate answered true")
	}

	// No platform authenticator: the app PIN.
	p := newBrowser(t, t.TempDir(), "", "")
	w2, cancel2 := p.tab()
	defer cancel2()
	j.watch(w2)
	j.run(w2, "wallet without authenticator", 30*time.Second, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.Evaluate[chromedp.Void](startGate),
		chromedp.Poll[chromedp.Void](`document.getElementById("gate").open && !document.getElementById("gate-pin-form").hidden && !document.getElementById("gate-pin2").hidden`),
		chromedp.SendKeys(chromedp.ID("gate-pin"), "123456"), chromedp.SendKeys(chromedp.ID("gate-pin2"), "654321"),
		chromedp.Click(chromedp.CSS(`#gate-pin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("gate-msg").textContent.length > 0`))
	j.shot(w2, "gate-pin-mismatch")
	j.run(w2, "choose a PIN", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("gate-pin"), gatePIN), chromedp.SendKeys(chromedp.ID("gate-pin2"), gatePIN),
		chromedp.Click(chromedp.CSS(`#gate-pin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
	if ok, _ := chromedp.Run(w2, chromedp.Evaluate[bool](gateResult, chromedp.EvalAwaitPromise)); !ok {
		t.Fatal("choosing a PIN did not pass the gate")
	}
	j.run(w2, "wrong PIN", 30*time.Second, chromedp.Evaluate[chromedp.Void](startGate),
		chromedp.Poll[chromedp.Void](`document.getElementById("gate").open && document.getElementById("gate-pin2").hidden`),
		chromedp.SendKeys(chromedp.ID("gate-pin"), "111111"),
		chromedp.Click(chromedp.CSS(`#gate-pin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("gate-msg").textContent.length > 0`))
	left, _ := chromedp.Run(w2, chromedp.Evaluate[string](`document.getElementById("gate-msg").textContent`))
	if !strings.Contains(left, "4") {
		t.Errorf("after a wrong PIN: %q, want the 4 tries left", left)
	}
	j.shot(w2, "gate-pin-wrong")
	j.run(w2, "right PIN", 30*time.Second, chromedp.SendKeys(chromedp.ID("gate-pin"), gatePIN),
		chromedp.Click(chromedp.CSS(`#gate-pin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
	if ok, _ := chromedp.Run(w2, chromedp.Evaluate[bool](gateResult, chromedp.EvalAwaitPromise)); !ok {
		t.Fatal("the right PIN did not pass the gate")
	}
	j.checkConsole()
}

// walletOnLocalhost serves the wallet's pages alone, with the server's
// CSP, at "localhost" (WebAuthn needs a domain) until the test ends, and
// returns the wallet's URL.
func walletOnLocalhost(t *testing.T) string {
	t.Helper()
	pages := web.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", shenfen.DefaultCSP)
		pages.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/wallet/"
}
