package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

const adminToken = "e2e-admin-token-0123456789"

// The viewport of every tab: a phone's, in CSS pixels at scale 1.
const phoneW, phoneH = 390, 844

// root is the repository root (the test runs in e2e/).
func root(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// chromium finds the browser: SHENFEN_CHROMIUM, else Debian's chromium.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHENFEN_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("e2e: skipped: no Chromium found (chromium, chromium-browser, google-chrome): install the Debian package chromium " +
		"(scripts/setup.d/web.debs, run scripts/setup.sh) or set SHENFEN_CHROMIUM")
	return ""
}

func facesDir(t *testing.T) string {
	t.Helper()
	for _, d := range []string{os.Getenv("SHENFEN_FACES_DIR"), filepath.Join(root(t), "..", "shared", "testdata", "faces")} {
		if d == "" {
			continue
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	t.Fatal("e2e: the labelled face photos are needed (../shared/testdata/faces or SHENFEN_FACES_DIR)")
	return ""
}

func needTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("e2e: %s is needed (scripts/setup.d/web.debs): %v", tool, err)
		}
	}
}

// artifacts is where screenshots go: test-artifacts/e2e/ at the root.
func artifacts(t *testing.T) string {
	d := filepath.Join(root(t), "test-artifacts", "e2e")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

// server is a running `shenfen serve --demo`.
type server struct {
	URL string
	Bin string // the shenfen binary it runs
	mu  sync.Mutex
	log bytes.Buffer
}

func (s *server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// resident is a demo resident with a portrait.
type resident struct{ Person, ID, Name, File string }

var demoLine = regexp.MustCompile(`demo portrait: (\S+)\s+(\S{18})\s+(\S+)\s+\(([^)]+)\)`)

func (s *server) residents() []resident {
	var out []resident
	for _, m := range demoLine.FindAllStringSubmatch(s.Log(), -1) {
		out = append(out, resident{m[1], m[2], m[3], m[4]})
	}
	return out
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer builds the binary and runs it on a fresh data directory.
func startServer(t *testing.T, faces string) *server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "shenfen")
	build := exec.Command("go", "build", "-o", bin, "./cmd/shenfen")
	build.Dir = root(t)
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("e2e: build: %v\n%s", err, b)
	}
	port := freePort(t)
	s := &server{URL: fmt.Sprintf("http://127.0.0.1:%d", port), Bin: bin}
	cmd := exec.Command(bin, "serve", "--demo", "--demo-count", "50", "--addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--public-url", s.URL, "--data", filepath.Join(dir, "data"), "--admin-token", adminToken, "--faces", faces)
	cmd.Dir = dir
	// The server runs from its own directory, so point it at the face model
	// that scripts/setup.sh installed in the repository.
	cmd.Env = append(os.Environ(), "SHENFEN_FACE_MODEL_DIR="+filepath.Join(root(t), "node_modules", "@vladmandic", "face-api", "model"))
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
		}
	}()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		pw.Close()
		if t.Failed() {
			t.Logf("server log (tail):\n%s", tail(s.Log(), 60))
		}
	})
	deadline := time.Now().Add(90 * time.Second)
	for {
		r, err := http.Get(s.URL + "/readyz")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s
			}
		}
		select {
		case err := <-exited:
			exited <- err
			time.Sleep(100 * time.Millisecond) // let the log reader catch up
			t.Fatalf("e2e: server exited: %v\n%s", err, tail(s.Log(), 40))
		case <-time.After(300 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("e2e: server not ready: %v\n%s", err, tail(s.Log(), 40))
		}
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// browser is one headless Chromium process on a given profile directory.
type browser struct {
	ctx    context.Context
	cancel func()
}

func newBrowser(t *testing.T, profile, video, audio string) *browser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.WindowSize(phoneW, phoneH),
	}
	if video != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-video-capture", video))
	}
	if audio != "" {
		opts = append(opts, chromedp.Flag("use-file-for-fake-audio-capture", audio))
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &browser{ctx: ctx, cancel: func() { cancel(); acancel() }}
	if err := chromedp.Do(ctx); err != nil {
		b.cancel()
		t.Fatalf("e2e: start chromium: %v", err)
	}
	t.Cleanup(b.cancel)
	return b
}

// tab opens a new tab in the browser.
// The tab is opened here, on a context without a deadline: the first
// action on a chromedp context opens its target, which lives as long as
// that action's context. Every tab has a phone's viewport.
func (b *browser) tab() (context.Context, context.CancelFunc) {
	ctx, cancel := chromedp.NewContext(b.ctx)
	chromedp.Do(ctx, chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateScale(1), chromedp.EmulatePortrait, chromedp.EmulateMobile))
	return ctx, cancel
}

// journey records the screenshots of one run.
type journey struct {
	t   *testing.T
	dir string
	n   int

	shots []string // the screenshot files, in order

	axeStates int // page states (× widths) axe-core checked

	keyboardStates int // page states swept with Tab and Shift+Tab (keyboard_test.go)

	mu       sync.Mutex
	problems []string // console errors, exceptions, CSP violations
}

// watch collects the console problems of a tab of the product's pages.
func (j *journey) watch(ctx context.Context) { listenConsole(ctx, &j.mu, &j.problems) }

// checkConsole fails the test on any CSP violation or uncaught exception
// seen on a watched tab.
func (j *journey) checkConsole() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, p := range j.problems {
		if strings.Contains(p, "Content Security Policy") || strings.HasPrefix(p, "exception") {
			j.t.Errorf("browser console: %s", p)
		}
	}
}

// shot saves a full-page screenshot of the tab as NN-name.png. Every
// picture that can show a face (img, video, canvas) is blurred first: the
// face photos of the test set must not leave the machine as recognisable
// copies, and these screenshots may be published (docs/screenshots).
func (j *journey) shot(ctx context.Context, name string) {
	j.t.Helper()
	j.n++
	front(ctx)
	time.Sleep(300 * time.Millisecond)
	j.axe(ctx, name)
	c, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	blurred, err := chromedp.Run(c, chromedp.Evaluate[bool](blurFaces))
	if err != nil || !blurred {
		j.t.Fatalf("screenshot %s: blur the faces: %v", name, err)
	}
	time.Sleep(100 * time.Millisecond) // let the filter paint
	buf, err := chromedp.Run(c, chromedp.FullScreenshot(100))
	chromedp.Run(c, chromedp.Evaluate[bool](unblurFaces))
	if err != nil {
		j.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(j.dir, fmt.Sprintf("%02d-%s.png", j.n, name))
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		j.t.Fatal(err)
	}
	j.shots = append(j.shots, p)
}

// blurFaces blurs every img, video and canvas of the page through the
// CSS object model (allowed by the pages' Content-Security-Policy, unlike
// an injected style sheet), keeping each element's own filter to restore.
const blurFaces = `(() => {
  for (const el of document.querySelectorAll("img, video, canvas")) {
    if (!("e2eFilter" in el.dataset)) el.dataset.e2eFilter = el.style.filter;
    el.style.filter = "blur(16px)";
  }
  return true;
})()`

// unblurFaces undoes blurFaces.
const unblurFaces = `(() => {
  for (const el of document.querySelectorAll("[data-e2e-filter]")) {
    el.style.filter = el.dataset.e2eFilter;
    delete el.dataset.e2eFilter;
  }
  return true;
})()`

// front brings the tab of ctx to the front: headless Chromium renders (and
// captures screenshots of) the front tab only, and throttles the others.
func front(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	chromedp.Call(c, page.BringToFront, cdp.Empty{})
}

// run runs actions with a deadline, failing the test with the step name
// and the page's visible error on timeout.
func (j *journey) run(ctx context.Context, step string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	j.t.Helper()
	front(ctx)
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(c, actions...); err != nil {
		sc, scancel := context.WithTimeout(ctx, 3*time.Second)
		status, _ := chromedp.Run(sc, chromedp.Evaluate[string](`(document.getElementById("status")||{}).textContent||document.body.innerText.slice(0,500)`))
		scancel()
		j.t.Errorf("e2e step %q: %v (page says: %q)", step, err, status)
		j.shot(ctx, "failed-"+strings.ReplaceAll(step, " ", "-"))
		j.t.FailNow()
	}
}

func adminJSON(t *testing.T, s *server, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return r.StatusCode, b
}

// listenConsole collects console errors, uncaught exceptions and browser
// log entries of level error (CSP violations are reported there), and
// accepts every dialog (the wallet confirms before suspending a card).
func listenConsole(ctx context.Context, mu *sync.Mutex, out *[]string) {
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				*out = append(*out, m.String())
				mu.Unlock()
			}
		}
	}()
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	chromedp.Call(ctx, cdplog.Enable, cdp.Empty{})
}

// gatePIN is the app PIN the journey's citizen chooses: the journey's
// pages are served from an IP address, where WebAuthn has no relying
// party ID, so the wallet's gate falls back to its PIN (TestGate covers
// the platform authenticator).
const gatePIN = "246810"

// passGate answers the wallet's gate (web/static/wallet/gate.js) once it
// is open: the PIN (twice the first time), or the platform authenticator;
// the focus must then be back on the page.
func passGate(j *journey, w context.Context, step string) {
	j.t.Helper()
	j.run(w, step+": gate", 20*time.Second, chromedp.Poll[chromedp.Void](`document.getElementById("gate").open`))
	pin, _ := chromedp.Run(w, chromedp.Evaluate[bool](`!document.getElementById("gate-pin-form").hidden`))
	if !pin {
		j.run(w, step+": authenticator", 20*time.Second, chromedp.Click(chromedp.ID("gate-bio")),
			chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
		focusAfterGate(j, w, step)
		return
	}
	again, _ := chromedp.Run(w, chromedp.Evaluate[bool](`!document.getElementById("gate-pin2").hidden`))
	acts := []chromedp.Action[chromedp.Void]{chromedp.SendKeys(chromedp.ID("gate-pin"), gatePIN)}
	if again {
		acts = append(acts, chromedp.SendKeys(chromedp.ID("gate-pin2"), gatePIN))
	}
	acts = append(acts, chromedp.Click(chromedp.CSS(`#gate-pin-form button[type=submit]`)),
		chromedp.Poll[chromedp.Void](`!document.getElementById("gate").open`))
	j.run(w, step+": PIN", 30*time.Second, acts...)
	focusAfterGate(j, w, step)
}

// focusAfterGate fails the test unless, once the gate is passed, the focus
// is back on the page (its opener, else a view's heading), not lost on the
// body.
func focusAfterGate(j *journey, w context.Context, step string) {
	j.t.Helper()
	j.focusExpr(w, step+": focus after the gate", `(() => { const e = document.activeElement; return !!e && e !== document.body && !document.getElementById("gate").contains(e); })()`,
		"back on the page (the opener or a view's heading)")
}
