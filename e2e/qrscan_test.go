package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shenfen/shenfen/credential"
	"github.com/shenfen/shenfen/credential/credtest"
	"github.com/shenfen/shenfen/credential/mdoc"
	"github.com/shenfen/shenfen/credential/qr"
	shenfen "github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/web"
)

// qrTrials is the number of camera frames per phone size and level: a few
// in the test suite, many in scripts/bench.d/qrscan.sh.
var qrTrials = flag.Int("qrscan.trials", 1, "camera frames per phone size and degradation level")

// The camera frame the desk's scanner reads: the verifier page asks for
// 1280×720 (see verifier.js).
const deskW, deskH = 1280, 720

// phones are the viewports the wallet's code is rendered at.
var phones = []struct {
	Name string
	W, H int64
	DPR  float64
}{
	{"320x568@2", 320, 568, 2},
	{"360x780@3", 360, 780, 3},
	{"390x844@3", 390, 844, 3},
	{"412x915@2.6", 412, 915, 2.625},
}

// offlinePayload is a real offline code: the test card's compact mdoc with
// the default elements (name, birth date, ID number, expiry, thumbnail),
// signed by the holder key now.
func offlinePayload(t *testing.T) string {
	t.Helper()
	now := time.Now()
	iss, err := credtest.NewIssuer("shenfen e2e", now.AddDate(-1, 0, 0))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := credtest.PID()
	if err != nil {
		t.Fatal(err)
	}
	hk := credtest.HolderKey()
	compact, err := qr.Issue(context.Background(), mdoc.IssueParams{PID: pid, Holder: &hk.PublicKey,
		Status:   &credential.StatusRef{URI: "https://id.shenfen.test/status/1", Index: 3},
		IssuedAt: now, ExpiresAt: now.AddDate(1, 0, 0), Signer: iss.Signer(), Chain: iss.Chain})
	if err != nil {
		t.Fatal(err)
	}
	p, err := qr.Present(context.Background(), compact, qr.DefaultElements, hk, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// showCode is the wallet's card view with its offline code drawn by the
// wallet's own module (/web/qr.js) into the wallet's page and style; it
// returns the code's geometry. fullscreen presses the wallet's Full screen
// button first.
const showCode = `(async (payload, full) => {
  const { drawQR } = await import("/web/qr.js");
  document.querySelectorAll("main > section").forEach((s) => { s.hidden = s.id !== "view-card"; });
  document.getElementById("tabs").hidden = false;
  document.getElementById("revocation").hidden = true;
  document.getElementById("card-name").textContent = "张三";
  document.getElementById("card-id").textContent = "440115********001X";
  document.getElementById("card-qr-note").textContent = "Show this code at the counter.";
  drawQR(document.getElementById("card-qr"), payload, "card", "Alphanumeric");
  document.getElementById("qr-full").hidden = false;
  if (full) document.getElementById("qr-full").click();
  const svg = document.querySelector("#card-qr svg");
  svg.scrollIntoView({ block: "center" });
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  const r = svg.getBoundingClientRect();
  return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width,
    vw: innerWidth, vh: innerHeight, scrollW: document.documentElement.scrollWidth,
    modules: svg.viewBox.baseVal.width };
})`

type codeBox struct {
	Left, Right, Top, Bottom, Width float64
	VW, VH, ScrollW                 float64
	Modules                         int
}

// scanWithPage runs the verifier page's own scanner (scanQR of
// /web/qr.js: zxing-cpp as WebAssembly, or engine "jsqr", the scanner it
// had before) on a camera frame, fed to it as a video stream from a
// canvas; "" when it reads nothing in 1.5 s.
const scanWithPage = `(async (png, engine) => {
  const { scanQR } = await import("/web/qr.js");
  const img = new Image();
  img.src = "data:image/png;base64," + png;
  await img.decode();
  const c = document.createElement("canvas");
  c.width = img.width; c.height = img.height;
  const g = c.getContext("2d");
  g.drawImage(img, 0, 0);
  const stream = c.captureStream(10);
  const v = document.createElement("video");
  v.muted = true; v.playsInline = true; v.srcObject = stream;
  await v.play();
  const paint = setInterval(() => g.drawImage(img, 0, 0), 50);
  const ac = new AbortController();
  const stop = setTimeout(() => ac.abort(), 1500);
  try { return await scanQR(v, ac.signal, engine); } catch (e) { return ""; }
  finally { clearInterval(paint); clearTimeout(stop); stream.getTracks().forEach((t) => t.stop()); }
})`

// TestQRScan renders the wallet's offline code in Chromium at phone sizes,
// checks that it fits the screen with its quiet zone (inline and full
// screen), and reads camera frames of it (camera.go) with two decoders:
// gozxing (a Go port of ZXing, as `shenfen verify` uses) and the verifier
// page's own scanner. Levels none and mild must always read; the decode
// rates per level go to test-artifacts/e2e/qrscan.md (docs/benchmarks.md
// reports a long run).
func TestQRScan(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	payload := offlinePayload(t)
	pages := web.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", shenfen.DefaultCSP) // as served: the reader's WebAssembly under the real policy
		pages.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b := newBrowser(t, t.TempDir(), "", "")
	dec, dcancel := b.tab()
	defer dcancel()
	if err := chromedp.Do(dec, chromedp.Navigate(srv.URL+"/verifier/"), chromedp.WaitVisible(chromedp.CSS("body"))); err != nil {
		t.Fatal(err)
	}
	// The harness itself: the verifier page's scanner reads a small code
	// (a counter's request code) through the same path.
	small, _ := qr.NewRequest()
	smallPNG, err := qr.Encode(small, 6)
	if err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(dec, chromedp.Evaluate[string](scanWithPage+"("+jsString(base64.StdEncoding.EncodeToString(smallPNG))+`, "jsqr")`, chromedp.EvalAwaitPromise))
	if err != nil || got != small {
		t.Fatalf("the verifier page's scanner does not read a small code: %q, %v", got, err)
	}
	out := artifacts(t)
	type count struct{ cpp, zx, page, jsqr, n int }
	frames := t.TempDir()
	want := map[string]string{} // frame file -> level
	counts := map[string]*count{}
	var report strings.Builder
	fmt.Fprintf(&report, "payload: %d characters; camera %dx%d; %d frames per phone size and level\n\n", len(payload), deskW, deskH, *qrTrials)
	for _, ph := range phones {
		ctx, cancel := chromedp.NewContext(b.ctx)
		err := chromedp.Do(ctx,
			chromedp.EmulateViewport(ph.W, ph.H, chromedp.EmulateScale(ph.DPR), chromedp.EmulatePortrait, chromedp.EmulateMobile),
			chromedp.Navigate(srv.URL+"/wallet/"), chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		front(ctx)
		var box codeBox
		for _, full := range []bool{true, false} {
			box, err = chromedp.Run(ctx, chromedp.Evaluate[codeBox](showCode+"("+jsString(payload)+","+fmt.Sprint(full)+")", chromedp.EvalAwaitPromise))
			if err != nil {
				cancel()
				t.Fatal(err)
			}
			mode := map[bool]string{true: "full screen", false: "inline"}[full]
			t.Logf("%s %s: code %.0f CSS px wide (%d modules with the quiet zone: %.2f CSS px, %.1f device px a module)",
				ph.Name, mode, box.Width, box.Modules, box.Width/float64(box.Modules), box.Width/float64(box.Modules)*ph.DPR)
			if box.Left < 0 || box.Right > box.VW+0.5 || box.ScrollW > box.VW+0.5 {
				t.Errorf("%s %s: the code (x %.1f..%.1f) or the page (%v px) is wider than the screen (%v px)", ph.Name, mode, box.Left, box.Right, box.ScrollW, box.VW)
			}
			if full && (box.Top < 0 || box.Bottom > box.VH+0.5) {
				t.Errorf("%s full screen: the code (y %.1f..%.1f) is taller than the screen (%v px)", ph.Name, box.Top, box.Bottom, box.VH)
			}
			if full {
				png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
				if err == nil {
					os.WriteFile(filepath.Join(out, "qrscan-"+ph.Name+"-full.png"), png, 0o644)
				}
				if err := chromedp.Do(ctx, chromedp.Click(chromedp.ID("qr-close"))); err != nil {
					t.Errorf("%s: close full screen: %v", ph.Name, err)
				}
			}
		}
		// The camera looks at the inline code (the harder case: smaller
		// on the screen).
		shotPNG, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(out, "qrscan-"+ph.Name+".png"), shotPNG, 0o644)
		img, err := png.Decode(bytes.NewReader(shotPNG))
		if err != nil {
			t.Fatal(err)
		}
		s := shot{screen: toGray(img), qrX: (box.Left + box.Width/2) * ph.DPR, qrY: (box.Top + box.Bottom) / 2 * ph.DPR,
			qrW: box.Width * ph.DPR, modules: box.Modules}
		for li, lv := range levels {
			c := counts[lv.Name]
			if c == nil {
				c = &count{}
				counts[lv.Name] = c
			}
			r := rand.New(rand.NewPCG(uint64(li), uint64(len(ph.Name))))
			for i := 0; i < *qrTrials; i++ {
				frame := s.camera(lv, deskW, deskH, r)
				c.n++
				if got, err := qr.DecodeImage(frame); err == nil && got == payload {
					c.zx++
				}
				var buf bytes.Buffer
				png.Encode(&buf, frame)
				name := fmt.Sprintf("%s-%s-%d.png", ph.Name, lv.Name, i)
				if err := os.WriteFile(filepath.Join(frames, name), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				want[name] = lv.Name
				if i == 0 {
					os.WriteFile(filepath.Join(out, fmt.Sprintf("qrscan-camera-%s-%s.png", ph.Name, lv.Name)), buf.Bytes(), 0o644)
				}
				for _, engine := range []string{"", "jsqr"} {
					got, err := chromedp.Run(dec, chromedp.Evaluate[string](scanWithPage+"("+jsString(base64.StdEncoding.EncodeToString(buf.Bytes()))+","+jsString(engine)+")", chromedp.EvalAwaitPromise))
					if err != nil {
						t.Fatalf("verifier scanner: %v", err)
					}
					if got == payload && engine == "" {
						c.page++
					} else if got == payload {
						c.jsqr++
					}
				}
			}
		}
	}
	// zxing-cpp reads all frames in one run of node.
	cmd := exec.Command("node", "qrdecode.mjs", frames)
	cmd.Stderr = os.Stderr
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("zxing-cpp (e2e/qrdecode.mjs; npm package zxing-wasm, scripts/setup.sh): %v", err)
	}
	var read map[string]string
	if err := json.Unmarshal(js, &read); err != nil {
		t.Fatal(err)
	}
	for name, lv := range want {
		if read[name] == payload {
			counts[lv].cpp++
		}
	}
	fmt.Fprintf(&report, "| level | module px | rotate ° | tilt ° | blur σ | moiré | glare | noise σ | JPEG q | zxing-cpp (node) | gozxing | verifier page (zxing-cpp wasm) | jsQR in the page (before) |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, lv := range levels {
		c := counts[lv.Name]
		fmt.Fprintf(&report, "| %s | %.1f | ±%.0f | ±%.0f | %.1f | %.2f | %.2f | %.0f | %d | %d/%d (%.1f%%) | %d/%d (%.1f%%) | %d/%d (%.1f%%) | %d/%d (%.1f%%) |\n",
			lv.Name, lv.ModulePx, lv.Rotate, lv.Tilt, lv.Blur, lv.Moire, lv.Glare, lv.Noise, lv.JPEG,
			c.cpp, c.n, pct(c.cpp, c.n), c.zx, c.n, pct(c.zx, c.n), c.page, c.n, pct(c.page, c.n), c.jsqr, c.n, pct(c.jsqr, c.n))
		if lv.Name != "strong" && (c.cpp < c.n || c.page < c.n) {
			t.Errorf("level %s: zxing-cpp read %d/%d frames, the verifier page %d/%d: every frame up to moderate must read", lv.Name, c.cpp, c.n, c.page, c.n)
		}
	}
	t.Logf("offline code decode rates:\n%s", report.String())
	os.WriteFile(filepath.Join(out, "qrscan.md"), []byte(report.String()), 0o644)
}

func pct(a, n int) float64 {
	if n == 0 {
		return 0
	}
	return 100 * float64(a) / float64(n)
}
