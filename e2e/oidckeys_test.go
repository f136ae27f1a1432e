package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestOIDCKeyboard uses the OpenID Provider's pages with the keyboard
// only, each state swept with Tab and Shift+Tab (every visible control
// reached, with a visible focus indicator, on screen and not covered): the
// login page at a phone's and a desktop's width, whose same-device link
// Enter follows into the wallet; the error page of a sign-in opened in
// another browser, whose link back to the site Enter follows; the error
// page of an unknown sign-in; and the rate-limited page, whose "Try again"
// Enter follows. (There is no consent page: the wallet's is the one consent.)
func TestOIDCKeyboard(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	s := startServer(t, facesDir(t))
	hotel := startHotel(t, s)
	j := &journey{t: t, dir: artifacts(t)}
	b := newBrowser(t, t.TempDir(), "", "")
	h, cancel := b.tab()
	defer cancel()
	j.watch(h)

	j.run(h, "login page", 30*time.Second, chromedp.Navigate(hotel.URL+"/login"), chromedp.WaitVisible(chromedp.ID("login")))
	loginURL, _ := chromedp.Run(h, chromedp.Evaluate[string](`location.href`))
	j.keyboardSweep(h, "oidc login")
	j.keyboardSweepWide(h, "oidc login")
	j.tabTo(h, "open the wallet on this device", ".this-device a.button", kb.Enter)
	j.after(h, "wallet opened", `location.pathname === "/wallet/" && performance.getEntriesByType("navigation")[0].name.includes("request_uri") && document.body.dataset.ready === "1"`)

	// The same sign-in opened in another browser (no binding cookie): the
	// error page links back to the site.
	o := newBrowser(t, t.TempDir(), "", "")
	h2, cancel2 := o.tab()
	defer cancel2()
	j.watch(h2)
	j.run(h2, "sign-in in another browser", 30*time.Second, chromedp.Navigate(loginURL), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.pageHas(h2, "sign-in in another browser", `document.querySelector("main.problem a.button") !== null`)
	j.keyboardSweep(h2, "oidc error with the way back")
	j.tabTo(h2, "back to the site", "main.problem a.button", kb.Enter)
	j.after(h2, "back at the site", `!!document.getElementById("signin")`)

	j.run(h, "unknown sign-in", 30*time.Second, chromedp.Navigate(s.URL+"/oidc/login?id=expired"), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.keyboardSweep(h, "oidc error")

	// Over the authorization limit: the page says when to try again.
	authorize := s.URL + "/oidc/authorize?client_id=e2e-hotel&response_type=code&scope=openid&redirect_uri=" + hotel.URL + "/callback"
	limited, err := chromedp.Run(h, chromedp.Evaluate[bool](fmt.Sprintf(`(async () => {
	  for (let i = 0; i < 60; i++) {
	    if ((await fetch(%q, { redirect: "manual" })).status === 429) return true;
	  }
	  return false;
	})()`, authorize), chromedp.EvalAwaitPromise))
	if err != nil || !limited {
		t.Fatalf("e2e: 60 authorization requests: no 429 (%v)", err)
	}
	j.run(h, "rate limited", 30*time.Second, chromedp.Navigate(authorize), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.pageHas(h, "rate limited", `document.querySelector("code").textContent === "rate_limited"`)
	j.keyboardSweep(h, "oidc rate limited")
	j.run(h, "mark the page", 10*time.Second, chromedp.Evaluate[chromedp.Void](`window.__before = true`))
	j.tabTo(h, "try again", "main.problem a.button", kb.Enter)
	j.after(h, "tried again", `!window.__before && document.readyState === "complete"`)
	if u, _ := chromedp.Run(h, chromedp.Evaluate[string](`location.href`)); !strings.Contains(u, "/oidc/") {
		t.Errorf("e2e: Try again led to %s", u)
	}
	j.checkConsole()
}

// after waits until expr is true on the tab's page, across the navigation
// a key press started (an evaluation during it fails and is tried again).
func (j *journey) after(ctx context.Context, step, expr string) {
	j.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			j.shot(ctx, "failed-"+strings.ReplaceAll(step, " ", "-"))
			j.t.Fatalf("e2e step %q: %s is not true after 30 s (%v)", step, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
