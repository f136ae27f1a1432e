package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The journey's steps for the desk's and the wallet's loose ends, driven
// from the keyboard (keyboard_test.go): a refused enrollment try that says
// how many tries are left, a desk request the citizen declines, one the
// desk cancels, the wallet's tabs, and a suspension the wallet shows
// within seconds.

// i18nText is the page's translation of key with vars, in its current
// language.
func i18nText(ctx context.Context, key string, vars map[string]any) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`import("/web/i18n.js").then((m) => m.t(%s, %s))`,
		jsString(key), jsonString(vars)), chromedp.EvalAwaitPromise))
	return s
}

func jsonString(v map[string]any) string {
	if v == nil {
		return "undefined"
	}
	var parts []string
	for k, x := range v {
		parts = append(parts, jsString(k)+": "+jsString(fmt.Sprint(x)))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// refusedTry is an enrollment try the server refuses, from the keyboard:
// the citizen starts, presses record and says nothing. The wallet says
// the digits were not heard and, from the refusal's attempts_left, how
// many tries this phone has left before a wait, in English and Chinese.
// The ID number and name are typed again for the next try.
func refusedTry(t *testing.T, j *journey, w context.Context, who resident) {
	t.Helper()
	var got map[string]string
	// A loaded machine can delay the camera's frames past what the server
	// takes (a bad request, not a decision): then the citizen tries once
	// more. Each try spends two of the device's 10 requests.
	for try := 1; ; try++ {
		j.tabTo(w, "silent try: start", "#enroll-start", kb.Enter)
		j.run(w, "silent try: challenge", 30*time.Second,
			chromedp.WaitVisible(chromedp.ID("view-challenge")),
			chromedp.Poll[chromedp.Void](`/^[0-9]{4}$/.test(document.getElementById("digits").textContent) && `+
				`!document.getElementById("record").disabled && document.getElementById("preview").readyState >= 2`))
		if try == 1 {
			j.keyboardSweep(w, "wallet challenge")
		}
		j.tabTo(w, "silent try: record", "#record", " ")
		j.run(w, "silent try: refused", 150*time.Second, chromedp.Poll[chromedp.Void](`!document.getElementById("retry").hidden`))
		chromedp.Run(w, chromedp.Evaluate[bool](`(() => { window.__e2eLight = []; return true; })()`))
		var err error
		got, err = chromedp.Run(w, chromedp.Evaluate[map[string]string](`(() => {
		  const a = document.getElementById("attempts-left");
		  return {status: document.getElementById("status").textContent, hidden: String(a.hidden), n: a.dataset.n || "", text: a.textContent};
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("silent try %d: %q; %q", try, got["status"], got["text"])
		if got["status"] == i18nText(w, "err.speech-mismatch", nil) {
			// The device limit: 10 requests, one back every 30 s; each try
			// spent two (a start and a submission): at most 4 left after
			// the first, 5 once a minute gave two back (TestAttemptsLeft
			// counts exactly).
			if n, err := strconv.Atoi(got["n"]); got["hidden"] != "false" || err != nil || n < 1 || n > 5 {
				t.Fatalf("e2e: after %d refused tries the wallet shows attempts left %v, want 1 to 5", try, got)
			}
			break
		}
		if try == 4 {
			t.Fatalf("e2e: a silent reading was answered %q, want the speech-mismatch message", got["status"])
		}
		j.tabTo(w, "silent try: try again", "#retry", kb.Enter)
		j.run(w, "silent try: the form again", 20*time.Second,
			chromedp.WaitVisible(chromedp.ID("id-number")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("id-number").value = ""; document.getElementById("name").value = ""`),
			chromedp.SendKeys(chromedp.ID("id-number"), who.ID),
			chromedp.SendKeys(chromedp.ID("name"), who.Name))
	}
	if want := i18nText(w, "enroll.attempts", map[string]any{"n": got["n"]}); got["text"] != want {
		t.Errorf("e2e: attempts left reads %q, want %q", got["text"], want)
	}
	j.shot(w, "enrollment-attempts-left")
	j.tabTo(w, "attempts in Chinese", "[data-lang-toggle]", kb.Enter)
	j.run(w, "attempts in Chinese", 10*time.Second, chromedp.Poll[chromedp.Void](
		`document.getElementById("attempts-left").textContent === "本机还可尝试 `+got["n"]+` 次，之后需等待。"`))
	j.shot(w, "enrollment-attempts-left-zh")
	j.tabTo(w, "attempts in English", "[data-lang-toggle]", kb.Enter)
	j.run(w, "attempts in English", 10*time.Second, chromedp.Poll[chromedp.Void](
		`document.getElementById("attempts-left").textContent === `+jsString(got["text"])))
	j.tabTo(w, "silent try: try again", "#retry", kb.Enter)
	j.run(w, "silent try: the form again", 20*time.Second,
		chromedp.WaitVisible(chromedp.ID("id-number")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("id-number").value = ""; document.getElementById("name").value = ""`),
		chromedp.SendKeys(chromedp.ID("id-number"), who.ID),
		chromedp.SendKeys(chromedp.ID("name"), who.Name))
}

// deskRequest starts a request on the desk page from the keyboard and
// returns its wallet link; the countdown is on screen and counts down.
func deskRequest(t *testing.T, j *journey, v context.Context, step string) string {
	t.Helper()
	j.tabTo(v, step+": new check", "#again", kb.Enter)
	j.run(v, step+": desk start", 20*time.Second, chromedp.WaitVisible(chromedp.ID("show-request")))
	j.tabTo(v, step+": request code", "#show-request", kb.Enter)
	j.run(v, step+": request shown", 30*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("request-link").href.includes("request_uri") && document.getElementById("request-left").textContent !== ""`))
	left, _ := chromedp.Run(v, chromedp.Evaluate[string](`document.getElementById("request-left").textContent`))
	if !strings.Contains(left, "4:5") && !strings.Contains(left, "5:00") {
		t.Errorf("e2e: a new request's countdown reads %q, want about 5 minutes", left)
	}
	j.run(v, step+": countdown runs", 10*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("request-left").textContent !== `+jsString(left)))
	link, _ := chromedp.Run(v, chromedp.Evaluate[string](`document.getElementById("request-link").href`))
	return link
}

// walletConsent opens a request link in the wallet and waits for the
// consent.
func walletConsent(j *journey, w context.Context, step, link string) {
	j.run(w, step+": wallet consent", 30*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("view-consent")),
		chromedp.Poll[chromedp.Void](`document.getElementById("consent-claims").children.length > 0 && !document.getElementById("consent-approve").disabled`))
}

// deskDeclineCancel: the citizen declines a desk's request in the wallet
// and the desk's page says so at its next poll; the desk cancels a
// request while the wallet shows its consent, and the wallet says the
// request is no longer valid. Keyboard only, on both pages.
func deskDeclineCancel(t *testing.T, j *journey, w, v context.Context) {
	t.Helper()
	j.keyboardSweep(v, "desk result")
	link := deskRequest(t, j, v, "decline")
	j.keyboardSweep(v, "desk request")
	j.shot(v, "verifier-request-countdown")
	walletConsent(j, w, "decline", link)
	j.keyboardSweep(w, "wallet consent")
	j.tabTo(w, "wallet declines", "#consent-deny", " ")
	j.run(w, "wallet back to the card", 20*time.Second, chromedp.WaitVisible(chromedp.ID("view-card")))
	start := time.Now()
	j.run(v, "desk learns of the decline", 15*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("result").dataset.status === "declined"`))
	t.Logf("the desk showed the decline %v after the wallet's Cancel", time.Since(start).Round(100*time.Millisecond))
	if got, want := textOf(v, "result-title"), i18nText(v, "verifier.declined", nil); got != want {
		t.Errorf("e2e: the declined result reads %q, want %q", got, want)
	}
	j.shot(v, "verifier-declined")
	j.tabTo(v, "desk in Chinese", "[data-lang-toggle]", kb.Enter)
	j.run(v, "declined in Chinese", 10*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("result-title").textContent === "持证人已拒绝"`))
	j.shot(v, "verifier-declined-zh")
	j.tabTo(v, "desk in English", "[data-lang-toggle]", kb.Enter)

	link = deskRequest(t, j, v, "cancel")
	walletConsent(j, w, "cancel", link)
	j.tabTo(v, "desk cancels", "#request-cancel", kb.Enter)
	j.run(v, "desk cancelled", 15*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("result").dataset.status === "cancelled"`))
	j.shot(v, "verifier-cancelled")
	start = time.Now()
	gone := i18nText(w, "consent.gone", nil)
	j.run(w, "wallet learns of the cancel", 15*time.Second, chromedp.Poll[chromedp.Void](
		`document.getElementById("consent-result").textContent === `+jsString(gone)+` && document.getElementById("consent-approve").disabled`))
	t.Logf("the wallet showed the cancel %v after the desk's Cancel", time.Since(start).Round(100*time.Millisecond))
	if got, want := textOf(w, "consent-deny"), i18nText(w, "consent.back", nil); got != want {
		t.Errorf("e2e: after the cancel the consent's second button reads %q, want %q", got, want)
	}
	j.shot(w, "wallet-request-gone")
	j.tabTo(v, "desk ready again", "#again", kb.Enter)
	j.run(v, "desk start again", 20*time.Second, chromedp.WaitVisible(chromedp.ID("show-request")))
}

func textOf(ctx context.Context, id string) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById(`+jsString(id)+`).textContent`))
	return s
}

// walletTabs goes through the wallet's tabs from the keyboard, sweeping
// each view, and ends on the card.
func walletTabs(j *journey, w context.Context) {
	j.t.Helper()
	for _, v := range []string{"history", "scan", "settings", "card"} {
		j.tabTo(w, "tab "+v, `#tabs button[data-view=`+v+`]`, kb.Enter)
		j.run(w, "view "+v, 20*time.Second, chromedp.WaitVisible(chromedp.ID("view-"+v)))
		if v == "card" {
			j.run(w, "card drawn", 20*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("card-name").textContent.length > 0`))
		}
		j.keyboardSweep(w, "wallet "+v)
	}
}

// suspendShowsPromptly: the authority suspends the card (POST
// /admin/status) while the wallet shows it; the wallet's card says
// suspended within seconds (it reads the whole status list again every
// few seconds while the card is on screen), and valid again after the
// reinstatement.
func suspendShowsPromptly(t *testing.T, j *journey, w context.Context, s *server) {
	t.Helper()
	ref, err := chromedp.Run(w, chromedp.Evaluate[map[string]any](`(async () => {
	  const kv = await import("/web/idb.js"), sd = await import("/web/sdjwt.js");
	  const p = await sd.parse((await kv.get("card")).sdjwt);
	  return p.payload.status.status_list;
	})()`, chromedp.EvalAwaitPromise))
	if err != nil || ref["uri"] == nil {
		t.Fatalf("e2e: the card's status entry: %v %v", ref, err)
	}
	const limit = 10 * time.Second
	for _, st := range []string{"suspended", "valid"} {
		b, _ := json.Marshal(map[string]any{"uri": ref["uri"], "idx": ref["idx"], "status": st})
		req, _ := http.NewRequest("POST", s.URL+"/admin/status", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Shenfen-Reason", "purpose=lost-card")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if code := resp.StatusCode; code != http.StatusOK {
			t.Fatalf("e2e: set the card %s: %d %s", st, code, body)
		}
		start := time.Now()
		j.run(w, "wallet shows "+st, 30*time.Second,
			chromedp.Poll[chromedp.Void](`document.getElementById("card-status").dataset.status === "`+st+`"`))
		took := time.Since(start)
		t.Logf("the wallet showed the card %s %v after the authority's change", st, took.Round(100*time.Millisecond))
		if took > limit {
			t.Errorf("e2e: the wallet took %v to show the card %s, want under %v", took, st, limit)
		}
		if st == "suspended" {
			j.shot(w, "card-suspended")
		}
	}
}
