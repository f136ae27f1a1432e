package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// signInZH is the hotel sign-in as a Chinese-speaking guest does it on one
// phone, in one tab: the hotel asks for Chinese (ui_locales zh-CN), the
// provider's login page is in Chinese with the hotel's Chinese name and
// purpose; "open the wallet on this device" leaves the page for the wallet,
// where the guest leaves the optional portrait out, and whose way back
// after sharing returns to the sign-in, which finishes with no second
// consent: the hotel is signed in with the name and ID number only.
// Then the error pages a phone in Chinese sees: an unknown sign-in, and a
// rate-limited /authorize opened by the browser (the page, not JSON).
// Every page is photographed (axe-core at 390 and 1440 px) and checked for
// horizontal overflow at 390 px.
func signInZH(t *testing.T, j *journey, h context.Context, hotelURL, base string) {
	t.Helper()
	j.run(h, "hotel zh", 30*time.Second, chromedp.Navigate(hotelURL+"/login?lang=zh-CN"), chromedp.WaitVisible(chromedp.ID("login")))
	j.shot(h, "hotel-login-zh")
	j.shotWide(h, "hotel-login-zh")
	j.noOverflow(h, "hotel-login-zh")
	j.pageHas(h, "hotel-login-zh", `document.documentElement.lang === "zh-CN" && document.title.includes("`+hotelNameZH+`") && `+
		`document.querySelector("h1").textContent.includes("`+hotelNameZH+`") && document.querySelector(".purpose").textContent === "用途：在线办理入住" && `+
		`document.querySelector("a.button.primary").textContent === "在本设备上打开钱包"`)
	// On the phone the wallet's button comes before the code for another
	// device, on the first screen.
	j.pageHas(h, "hotel-login-zh: same device first", `(() => {
	  const btn = document.querySelector(".this-device a.button").getBoundingClientRect();
	  return btn.top < document.querySelector(".other-device").getBoundingClientRect().top && btn.bottom <= window.innerHeight;
	})()`)
	loginURL, _ := chromedp.Run(h, chromedp.Evaluate[string](`location.href`))
	// Same device: the guest follows the page's own link into the wallet.
	same, _ := chromedp.Run(h, chromedp.Evaluate[string](`document.querySelector("a.button.primary").href`))
	if !strings.Contains(same, "request_uri") {
		t.Fatalf("e2e: the Chinese login page has no same-device wallet link (%q)", same)
	}
	approve(t, j, h, same, "hotel-zh", "picture")
	back, _ := chromedp.Run(h, chromedp.Evaluate[string](`(() => { const a = document.getElementById("consent-return"); return a.hidden ? "" : a.href; })()`))
	if !strings.Contains(back, "/oidc/login") {
		t.Fatalf("e2e: after a same-device sign-in in one tab the wallet offers no way back to the site (%q)", back)
	}
	j.run(h, "hotel zh: back to the sign-in, signed in", 60*time.Second, chromedp.Click(chromedp.ID("consent-return")),
		chromedp.WaitVisible(chromedp.ID("welcome")))
	hotelReceived(t, h, "name,id_number")
	// The finished sign-in opened again (the back button, an old tab): the
	// error page in Chinese leads back to the hotel's site.
	j.run(h, "oidc finished zh", 30*time.Second, chromedp.Navigate(loginURL), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.shot(h, "oidc-finished-zh")
	j.noOverflow(h, "oidc-finished-zh")
	j.pageHas(h, "oidc-finished-zh", `document.documentElement.lang === "zh-CN" && document.querySelector("code").textContent === "finished" && `+
		`document.querySelector("a.button").textContent === "返回`+hotelNameZH+`"`)
	j.run(h, "oidc finished zh: back to the hotel", 30*time.Second, chromedp.Click(chromedp.CSS(`a.button`)), chromedp.WaitVisible(chromedp.ID("signin")))

	// A phone set to Chinese: its Accept-Language picks the error pages'.
	if _, err := chromedp.Call(h, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(h, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9"}}); err != nil {
		t.Fatal(err)
	}
	defer chromedp.Call(h, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{}})
	j.run(h, "oidc error zh", 30*time.Second, chromedp.Navigate(base+"/oidc/login?id=expired"), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.shot(h, "oidc-error-zh")
	j.shotWide(h, "oidc-error-zh")
	j.noOverflow(h, "oidc-error-zh")
	j.pageHas(h, "oidc-error-zh", `document.documentElement.lang === "zh-CN" && document.title === "登录出现问题" && document.querySelector("code").textContent === "request_unknown"`)

	// Over the authorization limit (oidc.AuthorizeClientBurst per address):
	// the browser's navigation gets the Chinese page with the wait, not
	// problem+json.
	authorize := base + "/oidc/authorize?client_id=e2e-hotel&response_type=code&scope=openid&redirect_uri=" + hotelURL + "/callback"
	limited, err := chromedp.Run(h, chromedp.Evaluate[bool](fmt.Sprintf(`(async () => {
	  for (let i = 0; i < 60; i++) {
	    const r = await fetch(%q, { redirect: "manual" });
	    if (r.status === 429) return r.headers.get("Content-Type").startsWith("application/problem+json");
	  }
	  return false;
	})()`, authorize), chromedp.EvalAwaitPromise))
	if err != nil || !limited {
		t.Fatalf("e2e: 60 authorization requests from the page's fetch: no 429 problem+json (%v)", err)
	}
	j.run(h, "oidc rate limited zh", 30*time.Second, chromedp.Navigate(authorize), chromedp.WaitVisible(chromedp.CSS(`main.problem`)))
	j.shot(h, "oidc-rate-limited-zh")
	j.noOverflow(h, "oidc-rate-limited-zh")
	j.pageHas(h, "oidc-rate-limited-zh", `document.documentElement.lang === "zh-CN" && document.querySelector("code").textContent === "rate_limited" && `+
		`document.querySelector(".error").textContent.includes("秒后重试")`)
}

// pageHas fails the test unless the expression is true on the tab's page.
func (j *journey) pageHas(ctx context.Context, name, expr string) {
	j.t.Helper()
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil || !ok {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.title + "\n" + document.body.innerText`))
		j.t.Errorf("e2e: %s: the page is not as expected (%s): %v\n%s", name, expr, err, text)
	}
}

// noOverflow fails the test when the page is wider than the phone's
// screen (a horizontal scroll).
func (j *journey) noOverflow(ctx context.Context, name string) {
	j.t.Helper()
	w, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil || len(w) != 2 || w[0] > w[1] {
		j.t.Errorf("e2e: %s at %d px: the page is %v px wide (%v)", name, phoneW, w, err)
	}
}

// shotWide saves a full-page screenshot at a desktop's width (1440 px) as
// wide-name.png in the artifacts, for looking at the desktop layout; it is
// not published.
func (j *journey) shotWide(ctx context.Context, name string) {
	j.t.Helper()
	front(ctx)
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	defer chromedp.Do(c, chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateScale(1), chromedp.EmulatePortrait, chromedp.EmulateMobile))
	if err := chromedp.Do(c, chromedp.EmulateViewport(1440, 900, chromedp.EmulateScale(1))); err != nil {
		j.t.Errorf("e2e: %s: desktop viewport: %v", name, err)
		return
	}
	time.Sleep(200 * time.Millisecond)
	chromedp.Run(c, chromedp.Evaluate[bool](blurFaces))
	buf, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	chromedp.Run(c, chromedp.Evaluate[bool](unblurFaces))
	if err != nil {
		j.t.Errorf("e2e: %s: desktop screenshot: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(j.dir, "wide-"+name+".png"), buf, 0o644); err != nil {
		j.t.Error(err)
	}
}
