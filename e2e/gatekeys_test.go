package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// gateOpener puts a view with a button on the wallet's page that opens
// the gate as the wallet's "Share" (consent-approve) does: disabled (which
// takes the focus away from it) while the gate is open and enabled again
// after it; with data-hide set, the button goes once the gate is passed,
// as "Show the code" (qr-show) does, and the focus goes to the view's
// first shown heading (the card view's first heading is in the hidden
// revocation panel). The gate's answer is kept in
// window.__gate.
const gateOpener = `(() => {
  const v = document.createElement("section");
  v.id = "view-e2e";
  v.innerHTML = "<section hidden><h2>Hidden</h2></section><h2 id=e2e-heading>Gate</h2>";
  const b = document.createElement("button");
  b.type = "button"; b.id = "e2e-opener"; b.textContent = "Share";
  b.addEventListener("click", () => {
    b.disabled = true;
    window.__gate = import("/wallet/gate.js").then((g) => g.verify("test", b)).then((ok) => {
      b.disabled = false;
      if (ok && b.dataset.hide) b.hidden = true;
      return ok;
    });
  });
  v.append(b);
  document.querySelector("main").prepend(v);
  return true;
})()`

// TestGateKeyboard uses the wallet's gate (the modal dialog before a
// presentation) with the keyboard only: Enter on the opener moves the
// focus into the dialog; Tab and Shift+Tab reach every control of the
// dialog, each with a visible focus indicator, and never the page behind
// it; the PIN is typed, confirmed with Enter, and Escape cancels; the
// platform authenticator's button is pressed with Enter; each time the
// dialog closes the focus is back on its opener (on its view's heading
// when the opener is gone).
func TestGateKeyboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	url := walletOnLocalhost(t)
	j := &journey{t: t, dir: artifacts(t)}

	open := func(w context.Context, step, ready string) {
		t.Helper()
		j.tabTo(w, step, "#e2e-opener", kb.Enter)
		j.run(w, step, 20*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("gate").open && `+ready))
		j.focusIn(w, step, "#gate")
	}
	closedAt := func(w context.Context, step string, want bool, focus string) {
		t.Helper()
		j.run(w, step, 30*time.Second, chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
		ok, err := chromedp.Run(w, chromedp.Evaluate[bool](gateResult, chromedp.EvalAwaitPromise))
		if err != nil || ok != want {
			t.Errorf("%s: the gate answered %v (%v), want %v", step, ok, err, want)
		}
		j.focusOn(w, step+": focus back", focus)
	}
	closed := func(w context.Context, step string, want bool) {
		t.Helper()
		closedAt(w, step, want, "#e2e-opener")
	}

	// No platform authenticator: the app PIN, chosen, then asked.
	b := newBrowser(t, t.TempDir(), "", "")
	w, cancel := b.tab()
	defer cancel()
	j.watch(w)
	j.run(w, "wallet", 30*time.Second, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.Evaluate[chromedp.Void](gateOpener))
	open(w, "gate: choose a PIN", `!document.getElementById("gate-pin2").hidden`)
	j.keyboardSweepIn(w, "gate: choose a PIN", "#gate")
	j.tabTo(w, "gate: PIN", "#gate-pin", gatePIN)
	j.tabTo(w, "gate: PIN again", "#gate-pin2", gatePIN)
	j.tabTo(w, "gate: confirm", "#gate-pin-form button[type=submit]", kb.Enter)
	closed(w, "gate: PIN chosen", true)

	open(w, "gate: PIN", `document.getElementById("gate-pin2").hidden`)
	j.keyboardSweepIn(w, "gate: PIN", "#gate")
	j.tabTo(w, "gate: wrong PIN", "#gate-pin", "111111"+kb.Enter)
	j.run(w, "gate: wrong PIN", 30*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("gate-msg").textContent.length > 0`))
	j.keyboardSweepIn(w, "gate: wrong PIN", "#gate")
	if err := chromedp.Do(w, chromedp.KeyEvent(kb.Escape)); err != nil {
		t.Fatal(err)
	}
	closed(w, "gate: Escape", false)
	open(w, "gate: PIN again", `document.getElementById("gate-pin2").hidden`)
	j.tabTo(w, "gate: right PIN", "#gate-pin", gatePIN+kb.Enter)
	closed(w, "gate: right PIN", true)

	// A platform authenticator (Chromium's virtual one, user verification on).
	p := newBrowser(t, t.TempDir(), "", "")
	w2, cancel2 := p.tab()
	defer cancel2()
	j.watch(w2)
	j.run(w2, "wallet with authenticator", 30*time.Second, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	if _, err := chromedp.Call(w2, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(w2, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}}); err != nil {
		t.Fatal(err)
	}
	j.run(w2, "opener", 10*time.Second, chromedp.Evaluate[chromedp.Void](gateOpener))
	open(w2, "gate: authenticator", `!document.getElementById("gate-bio-row").hidden`)
	j.keyboardSweepIn(w2, "gate: authenticator", "#gate")
	j.tabTo(w2, "gate: cancel", "#gate-cancel", kb.Enter)
	closed(w2, "gate: cancelled", false)
	open(w2, "gate: authenticator again", `!document.getElementById("gate-bio-row").hidden`)
	j.tabTo(w2, "gate: authenticator", "#gate-bio", kb.Enter)
	closed(w2, "gate: verified", true)
	// An opener that goes once the gate is passed: the focus goes to its
	// view's heading.
	j.run(w2, "opener that goes", 10*time.Second, chromedp.Evaluate[chromedp.Void](`document.getElementById("e2e-opener").dataset.hide = "1"`))
	open(w2, "gate: opener that goes", `!document.getElementById("gate-bio-row").hidden`)
	j.tabTo(w2, "gate: authenticator once more", "#gate-bio", kb.Enter)
	closedAt(w2, "gate: verified, opener gone", true, "#e2e-heading")
	j.checkConsole()
}

// focusOn fails the test unless the element matching selector has the
// focus.
func (j *journey) focusOn(ctx context.Context, step, selector string) {
	j.t.Helper()
	j.focusExpr(ctx, step, `(() => { const e = document.querySelector(`+jsString(selector)+`); return !!e && document.activeElement === e; })()`, "on "+selector)
}

// focusIn fails the test unless the focus is inside the element matching
// selector (a dialog that has just opened).
func (j *journey) focusIn(ctx context.Context, step, selector string) {
	j.t.Helper()
	j.focusExpr(ctx, step, `(() => { const e = document.querySelector(`+jsString(selector)+`); return !!e && e !== document.activeElement && e.contains(document.activeElement); })()`, "inside "+selector)
}

func (j *journey) focusExpr(ctx context.Context, step, expr, want string) {
	j.t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	// The focus may move a moment after the change that moves it.
	var err error
	for range 20 {
		var ok bool
		if ok, err = chromedp.Run(c, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	at, _ := chromedp.Run(c, chromedp.Evaluate[string](`(() => { const e = document.activeElement; return e ? e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") : "none"; })()`))
	j.t.Errorf("%s: the focus is on %s, want it %s (%v)", step, at, want, err)
}
