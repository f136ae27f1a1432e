package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"image"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/shenfen/shenfen/biometric/face"
	"github.com/shenfen/shenfen/internal/synth"
)

// hotelName is the example relying party's display name: the citizen's
// history must show it.
const hotelName = "Pearl River Hotel"

// hotelNameZH is its name in Chinese, on the Chinese sign-in pages.
const hotelNameZH = "珠江酒店"

// maxEnrollTries bounds the enrollments a citizen tries when the spoken
// digits are not recognised.
const maxEnrollTries = 4

// startHotel runs the example hotel site: a relying party registered with
// shenfen's admin API that signs its guests in with OpenID Connect
// (authorization code + PKCE, go-oidc verifying the ID token) and greets
// them by the name it received.
func startHotel(t *testing.T, s *server) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	hotel := httptest.NewServer(mux)
	t.Cleanup(hotel.Close)
	code, body := adminJSON(t, s, "POST", "/admin/api/rps", map[string]any{
		"client_id": "e2e-hotel", "name": map[string]string{"zh": hotelNameZH, "en": hotelName},
		"purpose": map[string]string{"zh": "在线办理入住", "en": "Online check-in"}, "redirect_uris": []string{hotel.URL + "/callback"},
		"claims": "name,id_number,picture?", // the portrait optional: a guest may leave it out
	})
	if code != http.StatusCreated {
		t.Fatalf("e2e: register the hotel: %d %s", code, body)
	}
	var reg struct {
		Secret string `json:"client_secret"`
	}
	json.Unmarshal(body, &reg)
	prov, err := gooidc.NewProvider(context.Background(), s.URL+"/oidc")
	if err != nil {
		t.Fatalf("e2e: hotel discovery: %v", err)
	}
	cfg := oauth2.Config{ClientID: "e2e-hotel", ClientSecret: reg.Secret, RedirectURL: hotel.URL + "/callback",
		Endpoint: prov.Endpoint(), Scopes: []string{gooidc.ScopeOpenID, "profile", "id_number", "picture"}}
	verifier := prov.Verifier(&gooidc.Config{ClientID: "e2e-hotel"})
	var mu sync.Mutex
	pkce := map[string]string{} // state -> PKCE verifier
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>`+hotelName+`</title></head><body>`+
			`<h1>`+hotelName+`</h1><p>Check in online.</p><p><a id="signin" href="/login">Sign in with virtual ID</a></p></body></html>`)
	})
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		state, v := oauth2.GenerateVerifier()[:16], oauth2.GenerateVerifier()
		mu.Lock()
		pkce[state] = v
		mu.Unlock()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
		if lang := r.URL.Query().Get("lang"); lang != "" {
			opts = append(opts, oauth2.SetAuthURLParam("ui_locales", lang))
		}
		http.Redirect(w, r, cfg.AuthCodeURL(state, opts...), http.StatusFound)
	})
	mux.HandleFunc("GET /callback", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		v, ok := pkce[r.URL.Query().Get("state")]
		mu.Unlock()
		if !ok || r.URL.Query().Get("code") == "" {
			http.Error(w, "login failed: "+r.URL.Query().Get("error"), http.StatusBadRequest)
			return
		}
		tok, err := cfg.Exchange(r.Context(), r.URL.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			http.Error(w, "token: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		id, err := verifier.Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "id token: "+err.Error(), http.StatusBadGateway)
			return
		}
		claims := map[string]any{}
		if ui, err := prov.UserInfo(r.Context(), oauth2.StaticTokenSource(tok)); err == nil {
			ui.Claims(&claims)
		}
		id.Claims(&claims)
		name, _ := claims["name"].(string)
		idNumber, _ := claims["id_number"].(string)
		// The claims the hotel received, for the journey to compare with
		// what the citizen shared in the wallet.
		var got []string
		for _, c := range []string{"name", "id_number", "picture"} {
			if _, ok := claims[c]; ok {
				got = append(got, c)
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>%s</title></head><body>`+
			`<h1>%s</h1><p id="welcome">Welcome, %s</p><p>Guest id (pairwise): <code id="sub">%s</code></p>`+
			`<p>ID number: <code id="id-number">%s</code></p><p>Received: <code id="claims">%s</code></p></body></html>`,
			hotelName, hotelName, html.EscapeString(name), html.EscapeString(id.Subject), html.EscapeString(idNumber), strings.Join(got, ","))
	})
	return hotel
}

// TestJourney is the citizen's whole journey in the browser: enrollment
// with camera and microphone, collecting the card, an in-person check on
// the verifier page (with a hotel check-in), the same page taken offline
// checking the wallet's offline code, signing in to the example hotel
// site with the wallet, and the history showing both disclosures; then
// the authority's console finds the citizen's record.
func TestJourney(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	needTools(t)
	faces := facesDir(t)
	s := startServer(t, faces)
	j := &journey{t: t, dir: artifacts(t)}
	old, _ := filepath.Glob(filepath.Join(j.dir, "*.png"))
	for _, f := range old {
		os.Remove(f)
	}

	ctx := context.Background()
	tmp := t.TempDir()
	modelDir, err := face.DefaultModelDir()
	if err != nil {
		t.Fatal(err)
	}
	engine, err := face.Load(modelDir)
	if err != nil {
		t.Fatalf("e2e: face engine: %v", err)
	}
	// The citizen: a demo resident whose portrait is a photo of a person
	// with more photos; the camera shows another photo of that person, the
	// one closest to the portrait (some pairs of the test set lie near
	// the match threshold, and the camera path adds JPEG loss to that).
	who, selfie, dist := pickCitizen(t, ctx, engine, faces, s.residents())
	t.Logf("citizen: %s (%s), camera photo %s, face distance %.3f (threshold %.2f)",
		who.Person, who.File, filepath.Base(selfie), dist, face.Threshold)
	raw, err := os.ReadFile(selfie)
	if err != nil {
		t.Fatal(err)
	}
	photo, err := synth.LoadPhoto(ctx, synth.EngineLocator{Engine: engine}, filepath.Base(selfie), raw)
	if err != nil {
		t.Fatal(err)
	}
	// The fake camera and microphone: files Chromium reads whenever the
	// wallet opens the devices. Until the challenge is known they show the
	// citizen looking at the phone in a quiet room.
	video, wav := filepath.Join(tmp, "camera.y4m"), filepath.Join(tmp, "microphone.wav")
	if err := previewFiles(ctx, photo, video, wav); err != nil {
		t.Fatal(err)
	}
	profile := filepath.Join(tmp, "profile")

	// 1. The wallet, first start.
	b := newBrowser(t, profile, video, wav)
	w, wcancel := b.tab()
	j.watch(w)
	keepForm(t, w)
	j.run(w, "open wallet", 30*time.Second, chromedp.Navigate(s.URL+"/wallet/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	j.shot(w, "wallet-home")
	j.keyboardSweep(w, "wallet home")

	// 2. Enrollment: ID number and name, then the challenge digits. The
	// spoken-digit recogniser can mishear espeak-ng: then the wallet says
	// so and offers to try again with new digits, and the citizen does.
	j.run(w, "enroll form", 20*time.Second,
		chromedp.Click(chromedp.ID("go-enroll")),
		chromedp.WaitVisible(chromedp.ID("id-number")),
		chromedp.SendKeys(chromedp.ID("id-number"), who.ID),
		chromedp.SendKeys(chromedp.ID("name"), who.Name))
	j.shot(w, "enroll-form")
	j.keyboardSweep(w, "enroll form")
	refusedTry(t, j, w, who) // desk_test.go: a refused try says how many are left
	for try := 1; ; try++ {
		j.run(w, "challenge", 30*time.Second,
			chromedp.Click(chromedp.ID("enroll-start")),
			chromedp.WaitVisible(chromedp.ID("view-challenge")),
			chromedp.Poll[chromedp.Void](`/^[0-9]{4}$/.test(document.getElementById("digits").textContent) && `+
				`!document.getElementById("record").disabled && document.getElementById("preview").readyState >= 2`))
		ch := pendingChallenge(t, w)
		if try == 1 {
			j.shot(w, "challenge")
			// The instructions in Chinese too: hold still, read aloud,
			// the screen will change colour.
			j.run(w, "instructions in Chinese", 10*time.Second,
				chromedp.Click(chromedp.CSS(`[data-lang-toggle]`)),
				chromedp.Poll[chromedp.Void](`document.getElementById("view-challenge").innerText.includes("屏幕会变换颜色")`))
			j.shot(w, "challenge-zh")
			j.run(w, "instructions in English", 10*time.Second,
				chromedp.Click(chromedp.CSS(`[data-lang-toggle]`)),
				chromedp.Poll[chromedp.Void](`document.getElementById("view-challenge").innerText.includes("The screen will change colour")`))
		}
		t.Logf("enrollment try %d: challenge digits shown: %s (%s), %d light steps over %v", try, ch.Digits, ch.Lang, len(ch.Light), ch.Length())

		// 3. The camera and microphone files can only be made now (the
		// light steps are the server's): the citizen reading these digits
		// under these colours. The wallet opens the devices anew for the
		// reading, and Chromium reads the files from their start.
		reading, err := readingFiles(ctx, s.Bin, ch, photo, uint64(try), video, wav)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("enrollment try %d: the citizen reads in %s", try, reading)
		j.run(w, "record", 10*time.Second, chromedp.Click(chromedp.ID("record")))
		if try == 1 {
			time.Sleep(1500 * time.Millisecond)
			j.shot(w, "recording")
		}
		j.run(w, "enrollment decision and card", 150*time.Second,
			chromedp.Poll[chromedp.Void](`!document.getElementById("view-card").hidden || !document.getElementById("retry").hidden`))
		refused, _ := chromedp.Run(w, chromedp.Evaluate[bool](`!document.getElementById("retry").hidden`))
		// The screen took the server's colours, in order (read and cleared:
		// a retry runs in the same document, and its colours start anew).
		shown, _ := chromedp.Run(w, chromedp.Evaluate[[]string](`(() => { const s = window.__e2eLight; window.__e2eLight = []; return s; })()`))
		var want []string
		for _, st := range ch.Light {
			want = append(want, fmt.Sprintf("#%02x%02x%02x", st.Color.R, st.Color.G, st.Color.B))
		}
		if strings.Join(shown, " ") != strings.Join(want, " ") {
			t.Errorf("e2e: the light screen showed %v, the server's steps are %v", shown, want)
		}
		checkRecording(t, w, s.Bin, ch.Digits, filepath.Join(j.dir, fmt.Sprintf("recording-%d", try)))
		if !refused {
			break
		}
		// Only a misheard reading is worth another try; the wallet words
		// it with the message of the problem type speech-mismatch.
		msg, _ := chromedp.Run(w, chromedp.Text(chromedp.ID("status")))
		misheard, _ := chromedp.Run(w, chromedp.Evaluate[bool](
			`import("/web/i18n.js").then((m) => document.getElementById("status").textContent === m.t("err.speech-mismatch"))`,
			chromedp.EvalAwaitPromise))
		j.shot(w, fmt.Sprintf("enrollment-refused-%d", try))
		// So is a recording whose camera frames came late (a browser
		// starved of CPU on a loaded machine): the server takes no
		// decision on it (bad request, the frame-time checks).
		late := strings.Contains(msg, "gap of") || strings.Contains(msg, "first frame at")
		if !misheard && !late {
			t.Fatalf("e2e: enrollment refused: %q", msg)
		}
		t.Logf("enrollment try %d: the digits %s were not recognised or the frames came late (%q)", try, ch.Digits, msg)
		if try == maxEnrollTries {
			t.Fatalf("e2e: the spoken digits were not recognised in %d tries", try)
		}
		// Try again, as the wallet offers: the same ID number and name,
		// new digits; the camera shows the citizen waiting again.
		if err := previewFiles(ctx, photo, video, wav); err != nil {
			t.Fatal(err)
		}
		j.run(w, "retry", 20*time.Second,
			chromedp.Click(chromedp.ID("retry")),
			chromedp.WaitVisible(chromedp.ID("id-number")),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("id-number").value = ""; document.getElementById("name").value = ""`),
			chromedp.SendKeys(chromedp.ID("id-number"), who.ID),
			chromedp.SendKeys(chromedp.ID("name"), who.Name))
	}
	defer wcancel()
	// The card view is drawn when its in-person code (or the note that
	// there is none) is.
	j.run(w, "card", 20*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("card-name").textContent.length > 0 && `+
		`document.getElementById("card-qr-note").textContent.length > 0`))
	// A wallet that shows a lost-phone revocation code right after
	// collecting the card wants it acknowledged, as a citizen would.
	if code, _ := chromedp.Run(w, chromedp.Evaluate[bool](`!!document.getElementById("revocation") && !document.getElementById("revocation").hidden`)); code {
		j.shot(w, "revocation-code")
		j.run(w, "revocation code noted", 10*time.Second, chromedp.Click(chromedp.ID("revocation-ack")),
			chromedp.Poll[chromedp.Void](`document.getElementById("revocation").hidden`))
	}
	j.shot(w, "card")
	// The wallet proves its card is in the transparency log (C2SP
	// checkpoint, Ed25519 note signature in WebCrypto, inclusion proof).
	j.run(w, "card in the log", 20*time.Second, chromedp.Poll[chromedp.Void](`["ok", "failed", "offline"].includes(document.getElementById("card-log").dataset.state)`))
	if logState, _ := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("card-log").dataset.state + " " + document.getElementById("card-log").dataset.entries + ": " + document.getElementById("card-log").textContent`)); !strings.HasPrefix(logState, "ok 3: ") {
		t.Fatalf("e2e: the wallet's transparency-log check says %q", logState)
	}

	// The wallet holds batches of single-use credentials and says how many
	// are left; the card view's offline code waits behind the gate, so no
	// compact card is used until it is shown.
	j.run(w, "single-use credentials counted", 20*time.Second, chromedp.Poll[chromedp.Void](`!!document.getElementById("batch-left").dataset.qr`))
	left, _ := chromedp.Run(w, chromedp.Evaluate[map[string]string](`({...document.getElementById("batch-left").dataset})`))
	if left["sdjwt"] != "20" || left["mdoc"] != "20" || left["qr"] != "20" {
		t.Errorf("e2e: single-use credentials left %v, want 20 of each before the code is shown", left)
	}

	// 4. In person: the front desk shows a request code; the wallet answers.
	v, vcancel := b.tab()
	defer vcancel()
	j.watch(v)
	desk := registerDesk(t, s)
	j.run(v, "verifier page", 30*time.Second, chromedp.Navigate(s.URL+"/verifier/#desk="+desk), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
	j.shot(v, "verifier")
	j.run(v, "request code", 30*time.Second, chromedp.Click(chromedp.ID("show-request")),
		chromedp.Poll[chromedp.Void](`document.getElementById("request-link").href.includes("request_uri")`))
	link, _ := chromedp.Run(v, chromedp.Evaluate[string](`document.getElementById("request-link").href`))
	j.shot(v, "verifier-request")
	approve(t, j, w, link, "front-desk")
	j.run(v, "verified", 60*time.Second, chromedp.Poll[chromedp.Void](`!!document.getElementById("result").dataset.status`))
	status, _ := chromedp.Run(v, chromedp.Evaluate[string](`document.getElementById("result").dataset.status + ": " + document.getElementById("result").innerText`))
	j.shot(v, "verifier-result")
	if !strings.HasPrefix(status, "verified") {
		t.Fatalf("e2e: the verifier page says %q", status)
	}
	// The front desk got a single-use credential (one fewer left).
	sd, _ := chromedp.Run(w, chromedp.Evaluate[int](`import("/wallet/batch.js").then((m) => m.remaining()).then((n) => n.sdjwt)`, chromedp.EvalAwaitPromise))
	if sd != 19 {
		t.Errorf("e2e: %d single-use SD-JWT VCs left after one presentation, want 19", sd)
	}
	// A wallet that has used its last single-use credential refills before
	// it presents, rather than showing the card's own, linkable credential
	// (docs/privacy.md, "An empty wallet").
	refilled, err := chromedp.Run(w, chromedp.Evaluate[string](`Promise.all([import("/web/idb.js"), import("/wallet/batch.js")]).then(async ([kv, m]) => {
		const ix = await kv.get("batch-index"); ix.sdjwt = []; await kv.set("batch-index", ix);
		const one = await m.takeOrRefill("sdjwt");
		return one ? "refilled, " + (await m.remaining()).sdjwt + " left" : "none";
	})`, chromedp.EvalAwaitPromise))
	if err != nil || refilled != "refilled, 19 left" {
		t.Errorf("e2e: an empty wallet's next presentation got %q (%v), want a refilled single-use credential", refilled, err)
	}
	j.run(v, "check-in", 20*time.Second, chromedp.SendKeys(chromedp.ID("room"), "808"),
		chromedp.Click(chromedp.CSS(`#checkin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("checkins").rows.length > 0`))
	j.shot(v, "verifier-checkin")
	deskDeclineCancel(t, j, w, v) // desk_test.go

	// 5. In person without network: the front desk's page checks the
	// wallet's offline code on the device.
	offlineCheck(t, j, w, v, s.URL, who)

	// 6. Online: sign in to the hotel site with the wallet (same device).
	hotel := startHotel(t, s)
	h, hcancel := b.tab()
	defer hcancel()
	j.run(h, "hotel site", 30*time.Second, chromedp.Navigate(hotel.URL+"/"), chromedp.Click(chromedp.ID("signin")),
		chromedp.WaitVisible(chromedp.ID("login")))
	j.shot(h, "hotel-login")
	same, _ := chromedp.Run(h, chromedp.Evaluate[string](`[...document.querySelectorAll("a")].map(a => a.href).find(h => h.includes("request_uri")) || ""`))
	if same == "" {
		t.Fatal("e2e: the login page has no same-device wallet link")
	}
	approve(t, j, w, same, "hotel")
	// The wallet's consent is the only one: the login page sees the
	// answer and the browser arrives at the hotel signed in, with exactly
	// what the wallet shared (everything, the portrait included).
	j.run(h, "hotel signed in", 60*time.Second, chromedp.WaitVisible(chromedp.ID("welcome")))
	welcome, _ := chromedp.Run(h, chromedp.Text(chromedp.ID("welcome")))
	j.shot(h, "hotel-signed-in")
	if !strings.Contains(welcome, who.Name) {
		t.Errorf("e2e: the hotel greets %q, want the citizen's name %q", welcome, who.Name)
	}
	hotelReceived(t, h, "name,id_number,picture")
	signInZH(t, j, h, hotel.URL, s.URL)

	// 7. The citizen's history shows both disclosures.
	j.run(w, "history", 60*time.Second, chromedp.Navigate(s.URL+"/wallet/"),
		chromedp.WaitVisible(chromedp.ID("view-card")),
		chromedp.Click(chromedp.CSS(`#tabs button[data-view=history]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("history-rows").rows.length >= 2`))
	rows, _ := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("history-rows").innerText`))
	j.shot(w, "history")
	if !strings.Contains(rows, hotelName) || !strings.Contains(rows, "南沙酒店前台") {
		t.Errorf("e2e: history lacks a disclosure:\n%s", rows)
	}

	consoleAndVerifier(t, j, b, s, who)

	// 8. The operator's look-up shows in the citizen's history, with office, badge and reason,
	// and the wallet finds each access's keyed digest in the transparency log.
	j.run(w, "history after the console", 60*time.Second, chromedp.Navigate(s.URL+"/wallet/"),
		chromedp.WaitVisible(chromedp.ID("view-card")),
		chromedp.Click(chromedp.CSS(`#tabs button[data-view=history]`)),
		// Each access checks against its leaf in the public log.
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#history-rows tr.access[data-checked=ok]").length >= 2`))
	rows, _ = chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("history-rows").innerText`))
	j.shot(w, "history-accesses")
	if !strings.Contains(rows, "E2E office") || !strings.Contains(rows, "E2E-1") || !strings.Contains(rows, hotelName) {
		t.Errorf("e2e: history lacks the operator's access or the disclosures:\n%s", rows)
	}
	walletTabs(j, w) // desk_test.go: the tabs from the keyboard
	// 9. The card's status on the card, read from its status-list entry;
	// a suspension shows within seconds.
	j.run(w, "card status valid", 60*time.Second, chromedp.Click(chromedp.CSS(`#tabs button[data-view=card]`)),
		chromedp.Poll[chromedp.Void](`document.getElementById("card-status").dataset.status === "valid"`))
	suspendShowsPromptly(t, j, w, s)
	j.checkConsole()
	if j.axeStates < 2*len(j.shots) {
		t.Errorf("e2e: axe-core checked %d page states × widths for %d screenshots", j.axeStates, len(j.shots))
	}
	t.Logf("axe-core: %d checks (%d page states at %d and 1440 px); keyboard: %d page states swept", j.axeStates, len(j.shots), phoneW, j.keyboardStates)
	if os.Getenv("SHENFEN_E2E_DOCS") == "1" && !t.Failed() {
		publishDocs(t, j)
	}
}

// sameShot is the face distance under which two files are taken to be
// one photograph (resized or recompressed), not two photos of a person.
const sameShot = 0.25

// pickCitizen chooses, among the demo residents, the one and the camera
// photo (another photograph of the same person) whose faces are closest.
func pickCitizen(t *testing.T, ctx context.Context, engine *face.Engine, faces string, residents []resident) (resident, string, float64) {
	t.Helper()
	describe := func(path string) (face.Descriptor, bool) {
		f, err := os.Open(path)
		if err != nil {
			return face.Descriptor{}, false
		}
		defer f.Close()
		img, _, err := image.Decode(f)
		if err != nil {
			return face.Descriptor{}, false
		}
		fc, err := engine.Analyze(ctx, img)
		return fc.Descriptor, err == nil
	}
	var who resident
	var selfie string
	best := math.Inf(1)
	for _, r := range residents {
		portrait, ok := describe(filepath.Join(faces, r.File))
		if !ok {
			continue
		}
		others, _ := filepath.Glob(filepath.Join(faces, r.Person, "*.jpg"))
		for _, o := range others {
			if filepath.Base(o) == filepath.Base(r.File) || strings.Contains(o, "small") {
				continue
			}
			d, ok := describe(o)
			if !ok {
				continue
			}
			dist := face.Distance(portrait, d)
			if dist < sameShot {
				continue // the portrait's own photograph, resized
			}
			if dist < best {
				who, selfie, best = r, o, dist
			}
		}
	}
	if selfie == "" {
		t.Fatalf("e2e: no demo resident with a second usable photo among %d", len(residents))
	}
	return who, selfie, best
}

// registerDesk registers the hotel's front desk with the authority (admin
// API) and returns its desk token, which signs the verifier page in.
func registerDesk(t *testing.T, s *server) string {
	t.Helper()
	code, body := adminJSON(t, s, "POST", "/admin/api/verifiers", map[string]any{
		"id": "e2e-front-desk", "kind": "desk", "name": map[string]string{"zh": "南沙酒店前台", "en": "Nansha Hotel front desk"},
		"purpose": map[string]string{"zh": "入住登记", "en": "Guest check-in"},
		"claims":  "family_name,given_name,name_original,birthdate,id_number,date_of_expiry,picture",
	})
	if code != http.StatusCreated {
		t.Fatalf("e2e: register the front desk: %d %s", code, body)
	}
	var reg struct {
		Token string `json:"desk_token"`
	}
	json.Unmarshal(body, &reg)
	return reg.Token
}

// hotelReceived fails the test unless the hotel's signed-in page lists
// exactly the claims want (comma-separated) as received.
func hotelReceived(t *testing.T, h context.Context, want string) {
	t.Helper()
	got, _ := chromedp.Run(h, chromedp.Text(chromedp.ID("claims")))
	if got != want {
		t.Errorf("e2e: the hotel received %q, want what the wallet shared, %q", got, want)
	}
}

// approve opens a request link in the wallet and shares, leaving out the
// optional claims (card paths) in leaveOut.
func approve(t *testing.T, j *journey, w context.Context, link, name string, leaveOut ...string) {
	t.Helper()
	// A fresh consent screen: claims listed, no result of an earlier one.
	j.run(w, "wallet request "+name, 30*time.Second, chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("view-consent")),
		chromedp.Poll[chromedp.Void](`document.getElementById("consent-claims").children.length > 0 && `+
			`document.getElementById("consent-result").textContent === "" && !document.getElementById("consent-approve").disabled`))
	j.shot(w, "wallet-consent-"+name)
	// The consent names the registered verifier (for a sign-in, the site and
	// the authority's sign-in), says why, and shows every value shared.
	shown, _ := chromedp.Run(w, chromedp.Evaluate[map[string]any](`(() => {
	  const lis = [...document.querySelectorAll("#consent-claims li")];
	  return {verifier: document.getElementById("consent-who").dataset.verifier || "",
	    name: (document.getElementById("consent-verifier") || {}).textContent || "",
	    purpose: (document.getElementById("consent-purpose") || {}).textContent || "",
	    claims: lis.length, valued: lis.filter((li) => li.dataset.hasValue === "1").length};
	})()`))
	t.Logf("wallet consent for %s: %v", name, shown)
	if shown["verifier"] == "" || shown["name"] == "" || len(fmt.Sprint(shown["purpose"])) < 6 || shown["claims"] == float64(0) || shown["claims"] != shown["valued"] {
		t.Fatalf("e2e: the consent for %s does not name the registered verifier and show every value: %v", name, shown)
	}
	if strings.HasPrefix(name, "hotel") {
		// The sign-in's consent is the only one: it names the hotel and
		// says the hotel's own registered purpose, in the wallet's language.
		n, p := fmt.Sprint(shown["name"]), fmt.Sprint(shown["purpose"])
		if !(strings.Contains(n, hotelName) && strings.Contains(p, "Online check-in")) && !(strings.Contains(n, hotelNameZH) && strings.Contains(p, "在线办理入住")) {
			t.Errorf("e2e: the wallet's sign-in consent names %q for %q, want the hotel's name and purpose in one language", n, p)
		}
	}
	for _, path := range leaveOut {
		j.run(w, "wallet leave out "+path+" for "+name, 10*time.Second,
			chromedp.Click(chromedp.CSS(`#consent-claims input[name=share][value="`+path+`"]`)),
			chromedp.Poll[chromedp.Void](`!document.querySelector('#consent-claims input[name=share][value="`+path+`"]').checked`))
	}
	j.run(w, "wallet share "+name, 30*time.Second, chromedp.Click(chromedp.ID("consent-approve")))
	passGate(j, w, "wallet share "+name)
	j.run(w, "wallet shared "+name, 30*time.Second,
		chromedp.Poll[chromedp.Void](`document.getElementById("consent-result").textContent.length > 0`))
	res, _ := chromedp.Run(w, chromedp.Evaluate[string](`document.getElementById("consent-result").className + ": " + document.getElementById("consent-result").textContent`))
	j.shot(w, "wallet-shared-"+name)
	if !strings.HasPrefix(res, "okmsg") {
		t.Fatalf("e2e: sharing with %s failed: %s", name, res)
	}
	if name == "hotel" {
		// Same device: no dead end, the wallet offers the way back to the
		// login (the OpenID Provider's page, which returns to the site).
		back, _ := chromedp.Run(w, chromedp.Evaluate[string](`(() => { const a = document.getElementById("consent-return"); return a.hidden ? "" : a.href; })()`))
		if !strings.Contains(back, "/oidc/login") {
			t.Errorf("e2e: after a same-device sign-in the wallet offers no way back to the site (%q)", back)
		}
	}
}

// consoleAndVerifier signs in to the admin console and finds the citizen.
func consoleAndVerifier(t *testing.T, j *journey, b *browser, s *server, who resident) {
	t.Helper()
	a, cancel := b.tab()
	defer cancel()
	j.watch(a)
	// A named operator (registry reader) signs in; the admin token is for machines only.
	code, body := adminJSON(t, s, "POST", "/admin/api/operators", map[string]any{
		"id": "e2e.reader", "name": "E2E Reader", "badge": "E2E-1", "office": "E2E office", "roles": []string{"registry-reader"}})
	var op struct {
		Secret string `json:"secret"`
	}
	if json.Unmarshal(body, &op); code != http.StatusCreated || op.Secret == "" {
		t.Fatalf("e2e: add the console operator: %d %s", code, body)
	}
	j.run(a, "console", 30*time.Second, chromedp.Navigate(s.URL+"/admin/"), chromedp.WaitVisible(chromedp.ID("signin")))
	j.shot(a, "admin-signin")
	j.run(a, "console sign-in", 30*time.Second,
		chromedp.SendKeys(chromedp.ID("operator"), "e2e.reader"),
		chromedp.SendKeys(chromedp.ID("secret"), op.Secret),
		chromedp.Click(chromedp.CSS(`#signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("console")),
		chromedp.SetValue(chromedp.ID("reason-purpose"), "counter-service"),
		chromedp.SendKeys(chromedp.ID("search-id"), who.ID),
		chromedp.Click(chromedp.CSS(`#search button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("record")))
	got, _ := chromedp.Run(a, chromedp.Text(chromedp.ID("record-fields")))
	j.shot(a, "admin-record")
	if !strings.Contains(got, who.Name) {
		t.Errorf("e2e: console record shows %q, want %s", got, who.Name)
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// keepForm installs keepFormJS in every page the tab opens.
func keepForm(t *testing.T, tab context.Context) {
	t.Helper()
	err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: keepFormJS})
		return err
	}))
	if err != nil {
		t.Fatalf("e2e: install the form keeper: %v", err)
	}
}

// pendingChallenge reads the challenge the wallet keeps while it is shown
// (IndexedDB "pending": digits, language, light steps).
func pendingChallenge(t *testing.T, tab context.Context) synth.Challenge {
	t.Helper()
	js, err := chromedp.Run(tab, chromedp.Evaluate[string](`import("/web/idb.js").then((kv) => kv.get("pending")).then((p) => JSON.stringify(p))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("e2e: the pending challenge: %v", err)
	}
	var p struct {
		Digits   string `json:"digits"`
		Language string `json:"language"`
		Light    *struct {
			Steps []struct {
				Color      string `json:"color"`
				StartMS    int64  `json:"start_ms"`
				DurationMS int64  `json:"duration_ms"`
			} `json:"steps"`
		} `json:"light"`
	}
	if err := json.Unmarshal([]byte(js), &p); err != nil {
		t.Fatalf("e2e: the pending challenge %q: %v", js, err)
	}
	if p.Light == nil || len(p.Light.Steps) == 0 {
		t.Fatalf("e2e: the challenge has no light steps: %s", js)
	}
	ch := synth.Challenge{Digits: p.Digits, Lang: synth.Lang(p.Language)}
	if ch.Lang == "" {
		ch.Lang = synth.English
	}
	for _, st := range p.Light.Steps {
		c, err := synth.ParseColor(st.Color)
		if err != nil {
			t.Fatal(err)
		}
		ch.Light = append(ch.Light, synth.Step{Color: c, Start: time.Duration(st.StartMS) * time.Millisecond, Duration: time.Duration(st.DurationMS) * time.Millisecond})
	}
	return ch
}

// checkRecording saves what the wallet sent as test artifacts (out.wav,
// and the frames as out-frames/NNN-<ms>.jpg named by their times) and logs
// what `shenfen speech check` hears in the recording, so that a refused
// reading can be told apart as a capture problem (digits cut off, silence,
// glitches, frames missing) or a recogniser miss.
func checkRecording(t *testing.T, tab context.Context, bin, digits, out string) {
	t.Helper()
	js, err := chromedp.Run(tab, chromedp.Evaluate[string](readFormJS, chromedp.EvalAwaitPromise))
	if err != nil || js == "" {
		t.Logf("e2e: the recording is not available: %v", err)
		return
	}
	var form struct {
		Audio  string   `json:"audio"`
		Frames []string `json:"frames"`
		Times  []int64  `json:"times"`
	}
	if err := json.Unmarshal([]byte(js), &form); err != nil {
		t.Logf("e2e: the recording: %v", err)
		return
	}
	wav, err := base64.StdEncoding.DecodeString(form.Audio)
	if err != nil {
		t.Logf("e2e: the recording: %v", err)
		return
	}
	if err := os.WriteFile(out+".wav", wav, 0o644); err != nil {
		t.Logf("e2e: save the recording: %v", err)
		return
	}
	dir := out + "-frames"
	os.RemoveAll(dir)
	os.MkdirAll(dir, 0o755)
	for i, f := range form.Frames {
		b, err := base64.StdEncoding.DecodeString(f)
		if err != nil || i >= len(form.Times) {
			continue
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d-%05dms.jpg", i, form.Times[i])), b, 0o644)
	}
	var first, last int64
	if n := len(form.Times); n > 0 {
		first, last = form.Times[0], form.Times[n-1]
	}
	res, _ := exec.Command(bin, "speech", "check", out+".wav", digits).CombinedOutput()
	t.Logf("e2e: recording saved as %s.wav (%d bytes) with %d frames from %d to %d ms in %s; shenfen speech check: %s",
		filepath.Base(out), len(wav), len(form.Frames), first, last, filepath.Base(dir), strings.TrimSpace(string(res)))
}
