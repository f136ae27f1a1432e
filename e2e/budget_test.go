package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	shenfen "github.com/shenfen/shenfen/server"
	"github.com/shenfen/shenfen/web"
)

// walletBudget is the most the wallet's first load (every file a first
// visit fetches before the page is ready) may transfer.
const walletBudget = 150 << 10

// loadStats is what a first load cost, from the page's own Navigation
// and Resource Timing and Paint Timing entries.
const loadStats = `(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const fcp = performance.getEntriesByName("first-contentful-paint")[0];
  return { Bytes: nav.transferSize + res.reduce((s, r) => s + r.transferSize, 0), Files: res.length + 1,
    Decoded: nav.decodedBodySize + res.reduce((s, r) => s + r.decodedBodySize, 0),
    FCP: fcp ? fcp.startTime : -1, HTML: nav.responseEnd, Names: res.map((r) => r.name.replace(location.origin, "") + " " + r.transferSize) };
})()`

type loadStat struct {
	Bytes, Decoded, FCP float64
	HTML                float64 // when the page's HTML had arrived (ms)
	Files               int
	Names               []string
}

// TestBudget loads the wallet, the verifier page and the landing page for
// the first time (fresh profile: no cache, no service worker) on a mid
// phone profile: Chromium's CPU throttled 4× and the network of
// Lighthouse's mobile preset (150 ms round trip, 1.6 Mbit/s down,
// 750 kbit/s up; checked: the HTML must take at least the round trip). The wallet must transfer at most 150 KB; the first
// contentful paint of each is logged (test-artifacts/e2e/budget.txt;
// docs/benchmarks.md reports it).
func TestBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	chromium(t)
	pages := web.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", shenfen.DefaultCSP)
		pages.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	var report strings.Builder
	for _, page := range []string{"/wallet/", "/verifier/", "/"} {
		b := newBrowser(t, t.TempDir(), "", "")
		ctx, cancel := b.tab()
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			t.Fatal(err)
		}
		// Network.emulateNetworkConditionsByRule with an empty pattern
		// throttles every request (Network.overrideNetworkState, used
		// before, only sets navigator.onLine and navigator.connection:
		// it throttled nothing).
		if _, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			MatchedNetworkConditions: []*network.Conditions{{Latency: 150, DownloadThroughput: 1.6e6 / 8, UploadThroughput: 750e3 / 8}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(ctx, emulation.SetCPUThrottlingRate, emulation.SetCPUThrottlingRateParams{Rate: 4}); err != nil {
			t.Fatal(err)
		}
		c, ccancel := contextTimeout(ctx, 60*time.Second)
		err := chromedp.Do(c, chromedp.Navigate(srv.URL+page), chromedp.WaitVisible(chromedp.CSS("main")))
		if err == nil && page != "/" {
			err = chromedp.Do(c, chromedp.WaitVisible(chromedp.CSS(`body[data-ready="1"]`)))
		}
		time.Sleep(500 * time.Millisecond) // let lazy requests settle into the timing entries
		st, err2 := chromedp.Run(c, chromedp.Evaluate[loadStat](loadStats))
		ccancel()
		cancel()
		if err != nil || err2 != nil {
			t.Fatalf("%s: %v %v", page, err, err2)
		}
		t.Logf("%-10s first load: %d files, %.1f KB transferred (%.1f KB decoded), first contentful paint %.0f ms (HTML at %.0f ms)\n  %s",
			page, st.Files, st.Bytes/1024, st.Decoded/1024, st.FCP, st.HTML, strings.Join(st.Names, "\n  "))
		if st.HTML < 150 {
			t.Errorf("%s: the page arrived %.0f ms after the navigation started: the network is not throttled (150 ms round trip)", page, st.HTML)
		}
		report.WriteString(strings.Join([]string{page, itoa(st.Files), ftoa(st.Bytes / 1024), ftoa(st.Decoded / 1024), ftoa(st.FCP)}, "\t") + "\n")
		if page == "/wallet/" && st.Bytes > walletBudget {
			t.Errorf("the wallet's first load transferred %.1f KB, the budget is %d KB", st.Bytes/1024, walletBudget>>10)
		}
		if st.FCP < 0 {
			t.Errorf("%s: no first contentful paint", page)
		}
	}
	os.WriteFile(filepath.Join(artifacts(t), "budget.txt"), []byte("page\tfiles\tKB transferred\tKB decoded\tFCP ms\n"+report.String()), 0o644)
}

func itoa(n int) string { return strconv.Itoa(n) }

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

func contextTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
