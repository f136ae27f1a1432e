package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestWalletCrossOrigin checks in Chromium that the wallet page, served
// on one origin (http://localhost:PORT), checks and answers a request of
// a verifier on another origin (the front desk's request object and
// response URI on http://127.0.0.1:PORT): the wallet's CSP lets it connect
// there (web.WalletCSP) and the verifier's endpoints answer with CORS
// (oid4vc). Controls: an endpoint without CORS on that origin stays
// unreadable, and a non-loopback http URL is blocked by the CSP (a
// securitypolicyviolation), while https ones are not.
func TestWalletCrossOrigin(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	s := startServer(t, facesDir(t))
	desk := registerDesk(t, s)
	req, _ := http.NewRequest("POST", s.URL+"/api/verifier/requests", strings.NewReader(`{"claims":["family_name","given_name"]}`))
	req.Header.Set("Authorization", "Bearer "+desk)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var made struct {
		ID          string `json:"id"`
		QR          string `json:"qr"`
		ResultToken string `json:"result_token"`
	}
	if err := json.Unmarshal(b, &made); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("desk request: %d %s", resp.StatusCode, b)
	}
	qr, err := url.Parse(made.QR)
	if err != nil {
		t.Fatal(err)
	}
	requestURI, clientID := qr.Query().Get("request_uri"), qr.Query().Get("client_id")
	if !strings.HasPrefix(requestURI, s.URL+"/") {
		t.Fatalf("request_uri %q is not on %s", requestURI, s.URL)
	}

	walletOrigin := strings.Replace(s.URL, "127.0.0.1", "localhost", 1)
	j := &journey{t: t, dir: artifacts(t)}
	br := newBrowser(t, t.TempDir(), "", "")
	w, cancel := br.tab()
	defer cancel()
	j.run(w, "wallet on another origin", 30*time.Second, chromedp.Navigate(walletOrigin+"/wallet/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	chromedp.Run(w, chromedp.Evaluate[chromedp.Void](`window.__csp = []; document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.blockedURI));`))

	// The wallet's own consent module fetches and checks the request.
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	type opened struct {
		Error, Name, Purpose, ResponseURI, State string
		Claims                                   []string
		Status                                   int
		Answer                                   string
	}
	got, err := chromedp.Run(w, chromedp.Evaluate[opened](fmt.Sprintf(`(async () => {
	  const c = await import("/wallet/consent.js");
	  let r;
	  try { r = await c.open(%s, %s); } catch (e) { return {error: (e.code || "") + " " + e.message}; }
	  const out = {name: r.verifier.name.en, purpose: r.verifier.purpose.en, claims: r.claims.map((x) => x.name),
	    responseURI: r.request.response_uri, state: r.request.state || ""};
	  // The citizen declines: the wallet tells the desk (a form POST to the
	  // response URI on the other origin) and reads its answer.
	  const body = new URLSearchParams({error: "access_denied"});
	  if (r.request.state) body.set("state", r.request.state);
	  const a = await fetch(r.request.response_uri, {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body});
	  out.status = a.status;
	  out.answer = (await a.json()).error || "";
	  return out;
	})()`, q(requestURI), q(clientID)), chromedp.EvalAwaitPromise))
	if err != nil || got.Error != "" {
		t.Fatalf("the wallet on %s could not open the request on %s: %v %s", walletOrigin, s.URL, err, got.Error)
	}
	if got.Name != "Nansha Hotel front desk" || got.Purpose != "Guest check-in" || strings.Join(got.Claims, ",") != "family_name,given_name" {
		t.Errorf("the wallet shows %+v, want the registered desk, its purpose and the two claims", got)
	}
	if !strings.HasPrefix(got.ResponseURI, s.URL+"/") || got.Status != http.StatusOK || got.Answer != "" {
		t.Errorf("the desk's answer to the decline, read across origins: %+v", got)
	}
	// The desk sees its request declined.
	rr, _ := http.NewRequest("GET", s.URL+"/api/verifier/requests/"+made.ID, nil)
	rr.Header.Set("Authorization", "Bearer "+made.ResultToken)
	if res, err := http.DefaultClient.Do(rr); err != nil {
		t.Fatal(err)
	} else {
		rb, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(string(rb), `"declined"`) {
			t.Errorf("desk result after the decline: %d %s", res.StatusCode, rb)
		}
	}

	// Controls: the browser does enforce both policies.
	controls, err := chromedp.Run(w, chromedp.Evaluate[map[string]any](fmt.Sprintf(`(async () => {
	  const tryFetch = (u) => fetch(u).then((r) => "read " + r.status, (e) => "blocked");
	  const out = {
	    noCORS: await tryFetch(%s),
	    httpElsewhere: await tryFetch("http://192.0.2.1/x"),
	    httpsElsewhere: await tryFetch("https://127.0.0.1:1/x"),
	  };
	  await new Promise((r) => setTimeout(r, 200));
	  out.violations = window.__csp.join(" ");
	  return out;
	})()`, q(s.URL+"/api/verifier/requests/"+made.ID)), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := controls["violations"].(string)
	if controls["noCORS"] != "blocked" || controls["httpElsewhere"] != "blocked" || !strings.Contains(v, "http://192.0.2.1") ||
		strings.Contains(v, "127.0.0.1") {
		t.Errorf("controls: %v (CSP violations: %q)", controls, v)
	}
}
