package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// offline takes the target off the network (or back on): every request
// of the page (or worker) fails as with no connection, and a page's
// navigator.onLine follows (with the offline and online events).
func offline(on, worker bool) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
			return fmt.Errorf("network.enable: %w", err)
		}
		sw := on
		if _, err := cdp.Call(ctx, t, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &sw,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: on, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return fmt.Errorf("emulate network conditions: %w", err)
		}
		if worker {
			return nil // a worker has no navigator.onLine to override
		}
		if _, err := cdp.Call(ctx, t, network.OverrideNetworkState, network.OverrideNetworkStateParams{
			Offline: on, DownloadThroughput: -1, UploadThroughput: -1,
		}); err != nil {
			return fmt.Errorf("override network state: %w", err)
		}
		return nil
	})
}

// workersOffline takes the service workers whose script URL starts with
// prefix offline too: a tab's network conditions do not reach the fetches
// its service worker makes. back takes them online again and detaches.
func workersOffline(t *testing.T, ctx context.Context, prefix string) (back func()) {
	t.Helper()
	infos, err := chromedp.Targets(ctx)
	if err != nil {
		t.Fatalf("e2e: list the targets: %v", err)
	}
	var cancels []func()
	var ctxs []context.Context
	for _, info := range infos {
		if info.Type != "service_worker" || !strings.HasPrefix(info.URL, prefix) {
			continue
		}
		// Attached on a context without a deadline: the session lives as
		// long as the context of its first action (see browser.tab).
		wctx, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		err := chromedp.Do(wctx)
		if err == nil {
			c, ccancel := context.WithTimeout(wctx, 20*time.Second)
			err = chromedp.Do(c, offline(true, true))
			ccancel()
		}
		if err != nil {
			cancel()
			t.Fatalf("e2e: take the service worker %s offline: %v", info.URL, err)
		}
		ctxs, cancels = append(ctxs, wctx), append(cancels, cancel)
	}
	if len(ctxs) == 0 {
		t.Fatalf("e2e: no service worker %s* runs", prefix)
	}
	return func() {
		for i, wctx := range ctxs {
			c, ccancel := context.WithTimeout(wctx, 20*time.Second)
			if err := chromedp.Do(c, offline(false, true)); err != nil {
				t.Errorf("e2e: take the service worker online again: %v", err)
			}
			ccancel()
			cancels[i]()
		}
	}
}

// paste puts text into the focused field as a paste (or a desk barcode
// reader in keyboard mode) does, in one input.
func paste(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return err
	})
}

// reachServer is a script that says whether the page reaches the server
// (a request no service worker answers).
const reachServer = `fetch("/readyz?e2e=" + Date.now(), {cache: "no-store"}).then((r) => r.ok, () => false)`

// offlineResult is what the verifier page shows after an offline check,
// with the texts it should contain.
type offlineResult struct {
	Status, Class, Reason, Claims, Src string
	Hidden, Thumb                      bool
	W, H                               int
	Offline, Fresh, Signed, Off        string
}

// offlineCheck is the in-person check without network: the front desk's
// page, opened online before (it keeps the trust list and the status
// lists), is taken offline and reloaded (from its service worker); the
// desk's barcode reader types the wallet's current offline code (SF1,
// time mode) into the page, which verifies it on the device and shows the
// issuer-signed thumbnail; the same code read again is refused as a
// replay. Then the tab is back online.
func offlineCheck(t *testing.T, j *journey, w, v context.Context, serverURL string, who resident) {
	t.Helper()
	// The wallet's card view with its self-refreshing code.
	j.run(w, "wallet code", 30*time.Second, chromedp.Navigate(serverURL+"/wallet/"),
		chromedp.WaitVisible(chromedp.ID("view-card")),
		chromedp.WaitVisible(chromedp.ID("qr-show")),
		chromedp.Click(chromedp.ID("qr-show")))
	// The code shows only after the gate.
	passGate(j, w, "wallet code")
	j.run(w, "wallet code shown", 30*time.Second,
		chromedp.Poll[chromedp.Void](`(document.getElementById("card-qr").dataset.payload || "").startsWith("SF1:")`))

	// The desk's page is offline: it is reloaded from the service worker,
	// cannot reach the server and says it checks with its cached lists.
	j.run(v, "verifier offline", 60*time.Second,
		chromedp.Navigate(serverURL+"/verifier/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)),
		chromedp.Poll[chromedp.Void](`!!navigator.serviceWorker.controller && document.body.dataset.offline === ""`),
		offline(true, false))
	back := workersOffline(t, v, serverURL+"/verifier/")
	j.run(v, "verifier reload offline", 60*time.Second,
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	j.run(v, "verifier offline state", 60*time.Second,
		chromedp.Poll[chromedp.Void](`import("/web/i18n.js").then((m) => document.body.dataset.offline === "1" && `+
			`document.getElementById("freshness").textContent.startsWith(m.t("verifier.offline")) && `+
			`document.getElementById("freshness").textContent.includes(m.t("verifier.fresh", {m: "X"}).split("X")[0]))`,
			chromedp.WithPollingTimeout(50*time.Second)))
	if reached, _ := chromedp.Run(v, chromedp.Evaluate[bool](reachServer, chromedp.EvalAwaitPromise)); reached {
		t.Fatal("e2e: the verifier tab still reaches the server while offline")
	}
	fresh, _ := chromedp.Run(v, chromedp.Text(chromedp.ID("freshness")))
	t.Logf("offline verifier page says: %s", fresh)
	j.shot(v, "verifier-offline")

	// The wallet's current code, read twice by the desk's barcode reader.
	code, err := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("card-qr").dataset.payload`))
	if err != nil || !strings.HasPrefix(code, "SF1:") {
		t.Fatalf("e2e: the wallet shows no offline code: %q, %v", code, err)
	}
	t.Logf("wallet's offline code: %d characters", len(code))
	read := func(step string) { deskReads(j, v, step, code) }
	read("offline code")
	const state = `import("/web/i18n.js").then((m) => { const $ = (id) => document.getElementById(id); const img = $("result-portrait");
	  return {Status: $("result").dataset.status, Class: $("result").className, Reason: $("result-reason").textContent,
	    Claims: $("result-claims").innerText, Src: img.src.slice(0, 23), Hidden: img.hidden, Thumb: img.classList.contains("thumb"),
	    W: img.naturalWidth, H: img.naturalHeight, Offline: m.t("verifier.offline.ok"), Fresh: $("freshness").textContent,
	    Off: m.t("verifier.offline"), Signed: m.t("verifier.signed", {s: "X"}).split("X")[0]}; })`
	// Wait for the thumbnail to be decoded before looking at it.
	j.run(v, "offline thumbnail", 10*time.Second, chromedp.Poll[chromedp.Void](
		`document.getElementById("result-portrait").hidden || document.getElementById("result-portrait").complete`))
	got, err := chromedp.Run(v, chromedp.Evaluate[offlineResult](state, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("e2e: read the offline result: %v", err)
	}
	j.shot(v, "verifier-offline-result")
	t.Logf("offline result: %s (%s) %q, thumbnail %dx%d", got.Status, got.Class, got.Reason, got.W, got.H)
	if got.Status != "verified" || !strings.Contains(got.Class, "ok") {
		t.Fatalf("e2e: the offline check says %s (%s): %s", got.Status, got.Class, got.Reason)
	}
	if got.Hidden || !got.Thumb || got.Src != "data:image/jpeg;base64," || got.W == 0 || got.H <= got.W {
		t.Errorf("e2e: the offline result lacks the issuer-signed thumbnail: hidden %v, thumb %v, src %q, %dx%d",
			got.Hidden, got.Thumb, got.Src, got.W, got.H)
	}
	if !strings.HasPrefix(got.Reason, got.Offline) || !strings.Contains(got.Reason, got.Signed) {
		t.Errorf("e2e: the offline result does not say it was checked on the device from a fresh code: %q", got.Reason)
	}
	if !strings.Contains(got.Claims, who.ID) {
		t.Errorf("e2e: the offline result shows %q, want the ID number %s", got.Claims, who.ID)
	}
	if !strings.HasPrefix(got.Fresh, got.Off) {
		t.Errorf("e2e: the page does not say it is offline: %q", got.Fresh)
	}

	// The same code again: a replay.
	j.run(v, "next guest", 10*time.Second, chromedp.Click(chromedp.ID("again")))
	read("offline code again")
	replay, err := chromedp.Run(v, chromedp.Evaluate[struct{ Status, Class, Reason, Want string }](
		`import("/web/i18n.js").then((m) => ({Status: document.getElementById("result").dataset.status, Class: document.getElementById("result").className,
		  Reason: document.getElementById("result-reason").textContent, Want: m.t("reason.replay")}))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("e2e: read the replay result: %v", err)
	}
	j.shot(v, "verifier-offline-replay")
	t.Logf("the same code again: %s (%s) %q", replay.Status, replay.Class, replay.Reason)
	if replay.Status != "failed" || !strings.Contains(replay.Class, "bad") || !strings.Contains(replay.Reason, replay.Want) {
		t.Fatalf("e2e: the replayed code was not refused as a replay: %s (%s) %q", replay.Status, replay.Class, replay.Reason)
	}

	// Nonce mode, still offline: the desk shows a request code, the
	// wallet answers it with a code signed over its nonce, and the desk
	// checks the answer. The answer does not pass for another request.
	nonceCheck(t, j, w, v)

	// Back online: the page reaches the server and refreshes its lists.
	back()
	j.run(v, "verifier online", 60*time.Second, offline(false, false),
		chromedp.Click(chromedp.ID("again")),
		chromedp.Poll[chromedp.Void](reachServer, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(50*time.Second)),
		chromedp.Poll[chromedp.Void](`import("/web/i18n.js").then((m) => document.body.dataset.offline === "" && `+
			`!document.getElementById("freshness").textContent.startsWith(m.t("verifier.offline")))`, chromedp.WithPollingTimeout(50*time.Second)))
}

// nonceCheck runs the in-person check in nonce mode on the desk's page v
// and the wallet w: request code, the wallet's answer, the answer checked,
// then refused for a new request.
func nonceCheck(t *testing.T, j *journey, w, v context.Context) {
	t.Helper()
	request := func(step string) string {
		j.run(v, step, 20*time.Second,
			chromedp.Click(chromedp.ID("again")),
			chromedp.WaitVisible(chromedp.ID("show-nonce")),
			chromedp.Click(chromedp.ID("show-nonce")),
			chromedp.WaitVisible(chromedp.ID("view-nonce")),
			chromedp.Poll[chromedp.Void](`(document.getElementById("nonce-qr").dataset.payload || "").startsWith("SFR1:")`))
		req, err := chromedp.Run(v, chromedp.Evaluate[string](`document.getElementById("nonce-qr").dataset.payload`))
		if err != nil {
			t.Fatalf("e2e: read the request code: %v", err)
		}
		return req
	}
	req := request("verifier request code")
	j.shot(v, "verifier-nonce-request")
	before, _ := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("card-qr").dataset.payload`))
	// The wallet reads the request code (pasted: the test has no camera
	// pointed at the desk's screen).
	j.run(w, "wallet answers the request", 30*time.Second,
		chromedp.Click(chromedp.CSS(`nav button[data-view="scan"]`)),
		chromedp.WaitVisible(chromedp.ID("scan-url")),
		chromedp.SetValue(chromedp.ID("scan-url"), req),
		chromedp.Click(chromedp.CSS(`#scan-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("view-card")))
	passGate(j, w, "wallet answers the request")
	j.run(w, "wallet answer shown", 30*time.Second,
		chromedp.Poll[chromedp.Void](`import("/web/i18n.js").then((m) => document.getElementById("card-qr-note").textContent === m.t("card.qr.answer") && `+
			`(document.getElementById("card-qr").dataset.payload || "").startsWith("SF1:") && document.getElementById("card-qr").dataset.payload !== `+jsString(before)+`)`))
	j.shot(w, "wallet-nonce-answer")
	answer, err := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("card-qr").dataset.payload`))
	if err != nil {
		t.Fatalf("e2e: read the wallet's answer: %v", err)
	}
	check := func(step string) (status, reason string) {
		deskReads(j, v, step, answer)
		r, err := chromedp.Run(v, chromedp.Evaluate[struct{ Status, Reason string }](
			`({Status: document.getElementById("result").dataset.status, Reason: document.getElementById("result-reason").textContent})`))
		if err != nil {
			t.Fatalf("e2e: read the result: %v", err)
		}
		return r.Status, r.Reason
	}
	if st, why := check("verifier checks the answer"); st != "verified" {
		t.Fatalf("e2e: the answer to the desk's request was not verified: %s %q", st, why)
	}
	j.shot(v, "verifier-nonce-result")
	// The same answer for a new request is refused: the device signed
	// the other request's nonce, so its signature does not cover this one
	// (the code does not carry the nonce, so this is a holder-binding
	// failure).
	request("verifier second request code")
	st, why := check("verifier checks the old answer")
	want, _ := chromedp.Run(v, chromedp.Evaluate[string](`import("/web/i18n.js").then((m) => m.t("reason.holder-binding"))`, chromedp.EvalAwaitPromise))
	t.Logf("the old answer for a new request: %s %q", st, why)
	if st != "failed" || !strings.Contains(why, want) {
		t.Fatalf("e2e: an answer to another request was not refused: %s %q (want %q)", st, why, want)
	}
}

// deskReads has the desk's barcode reader type code into the verifier page
// v, and waits for the page's result.
func deskReads(j *journey, v context.Context, step, code string) {
	j.run(v, step, 30*time.Second,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("result").removeAttribute("data-status")`),
		chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.Focus(chromedp.ID("code")),
		paste(code),
		chromedp.Click(chromedp.CSS(`#code-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`!!document.getElementById("result").dataset.status && !document.getElementById("view-result").hidden`))
}
