package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axe-core (npm axe-core, installed by scripts/setup.sh) checks every page
// state the journey photographs for WCAG 2.x A and AA violations, at the
// phone's width (390 px) and at a desktop's (1440 px).

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

func axeSource(t *testing.T) string {
	t.Helper()
	axeOnce.Do(func() {
		var b []byte
		b, axeErr = os.ReadFile(filepath.Join(root(t), "node_modules", "axe-core", "axe.min.js"))
		axeSrc = string(b)
	})
	if axeErr != nil {
		t.Fatalf("e2e: axe-core (npm axe-core, scripts/setup.sh): %v", axeErr)
	}
	return axeSrc
}

// axeRun runs axe-core in the page (injected through the DevTools
// protocol, which the page's Content-Security-Policy does not govern) and
// returns one line per violation and node.
const axeRun = `(async () => {
  const r = await axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] }, resultTypes: ["violations"] });
  return r.violations.flatMap((v) => v.nodes.map((n) => v.id + " (" + v.impact + "): " + n.target.join(" ") + ": " + (n.failureSummary || "").split("\n").slice(1, 2).join("").trim()));
})()`

type axeWidth struct {
	W, H   int64
	Mobile bool
}

var axeWidths = []axeWidth{{phoneW, phoneH, true}, {1440, 900, false}}

// axe checks the tab's page state at both widths; violations fail the test.
func (j *journey) axe(ctx context.Context, name string) {
	j.t.Helper()
	src := axeSource(j.t)
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if has, _ := chromedp.Run(c, chromedp.Evaluate[bool](`typeof axe === "object"`)); !has {
		if err := chromedp.Do(c, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			j.t.Errorf("axe %s: inject: %v", name, err)
			return
		}
	}
	for _, w := range axeWidths {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
		if w.Mobile {
			opts = append(opts, chromedp.EmulatePortrait, chromedp.EmulateMobile)
		}
		if err := chromedp.Do(c, chromedp.EmulateViewport(w.W, w.H, opts...)); err != nil {
			j.t.Errorf("axe %s: viewport %d: %v", name, w.W, err)
			continue
		}
		time.Sleep(150 * time.Millisecond)
		found, err := chromedp.Run(c, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			j.t.Errorf("axe %s at %d px: %v", name, w.W, err)
			continue
		}
		j.axeStates++
		if len(found) > 0 {
			j.t.Errorf("axe: %s at %d px: %d violations:\n  %s", name, w.W, len(found), strings.Join(found, "\n  "))
		}
	}
	chromedp.Do(c, chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateScale(1), chromedp.EmulatePortrait, chromedp.EmulateMobile))
}
