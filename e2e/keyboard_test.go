package e2e

import (
	"context"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Keyboard only: the journey's wallet and desk steps that use these
// helpers press keys (Tab, Shift+Tab, Enter, Space) as a person without a
// mouse would; a sweep of a page state checks that every visible control
// is reachable with Tab and Shift+Tab, shows a visible focus indicator
// and is not hidden under something else (the sticky tab bar) when
// focused.

// focusState describes the focused element: its key (id, or tag, data-view
// and text), whether a focus indicator is drawn (an outline of 2 px or
// more, or a box shadow), whether its centre is on screen and not
// covered by another element, and whether it is inside the sweep's scope
// (window.__e2eScope, a selector: a modal dialog; none: the page).
const focusState = `(() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return {key: ""};
  const key = (e) => e.id ? "#" + e.id : e.tagName.toLowerCase() + (e.dataset.view ? "[data-view=" + e.dataset.view + "]" : "") +
    (e.hasAttribute("data-lang-toggle") ? "[data-lang-toggle]" : "") + ":" + (e.textContent || "").trim().slice(0, 24);
  const cs = getComputedStyle(el);
  const ring = (cs.outlineStyle !== "none" && parseFloat(cs.outlineWidth) >= 2) || (cs.boxShadow && cs.boxShadow !== "none");
  const r = el.getBoundingClientRect();
  const x = r.left + r.width / 2, y = r.top + r.height / 2;
  const onScreen = r.width > 0 && r.height > 0 && x >= 0 && y >= 0 && x < innerWidth && y < innerHeight;
  const hit = onScreen ? document.elementFromPoint(x, y) : null;
  const clear = !!hit && (hit === el || el.contains(hit) || hit.contains(el) || (el.labels && [...el.labels].includes(hit)));
  const scope = window.__e2eScope ? document.querySelector(window.__e2eScope) : null;
  return {key: key(el), ring: !!ring, clear, inside: !scope || scope.contains(el)};
})()`

// focusables lists the keys of the controls a keyboard user must reach:
// visible, enabled links, buttons and form fields of the page, or of the
// sweep's scope (window.__e2eScope).
const focusables = `(() => {
  const scope = window.__e2eScope ? document.querySelector(window.__e2eScope) : document;
  const key = (e) => e.id ? "#" + e.id : e.tagName.toLowerCase() + (e.dataset.view ? "[data-view=" + e.dataset.view + "]" : "") +
    (e.hasAttribute("data-lang-toggle") ? "[data-lang-toggle]" : "") + ":" + (e.textContent || "").trim().slice(0, 24);
  const sel = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])';
  return [...scope.querySelectorAll(sel)].filter((e) => {
    if (e.disabled || e.closest("[hidden], [inert]")) return false;
    if (!e.getClientRects().length) return false;
    const cs = getComputedStyle(e);
    return cs.visibility !== "hidden" && cs.display !== "none";
  }).map(key);
})()`

type focused struct {
	Key    string `json:"key"`
	Ring   bool   `json:"ring"`
	Clear  bool   `json:"clear"`
	Inside bool   `json:"inside"`
}

func tabKey(shift bool) chromedp.Action[chromedp.Void] {
	if shift {
		return chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift))
	}
	return chromedp.KeyEvent(kb.Tab)
}

// keyboardSweep tabs forward from the current focus to the end of the
// page and Shift+Tabs back to its start, and fails the test for every
// visible control never focused, every focus without a visible
// indicator, and every focused control off screen or covered.
func (j *journey) keyboardSweep(ctx context.Context, name string) {
	j.t.Helper()
	j.keyboardSweepIn(ctx, name, "")
}

// keyboardSweepWide is keyboardSweep at a desktop's width (1440 px),
// where the layout (and so what covers what) differs, from the top of the
// page; the phone's viewport is restored after.
func (j *journey) keyboardSweepWide(ctx context.Context, name string) {
	j.t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.EmulateViewport(1440, 900, chromedp.EmulateScale(1)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur()`)); err != nil {
		j.t.Fatalf("keyboard %s: desktop viewport: %v", name, err)
	}
	j.keyboardSweep(ctx, name+" (1440 px)")
	c2, cancel2 := context.WithTimeout(ctx, 10*time.Second)
	defer cancel2()
	if err := chromedp.Do(c2, chromedp.EmulateViewport(phoneW, phoneH, chromedp.EmulateScale(1), chromedp.EmulatePortrait, chromedp.EmulateMobile)); err != nil {
		j.t.Fatalf("keyboard %s: phone viewport: %v", name, err)
	}
}

// keyboardSweepIn is keyboardSweep within the element matching scope (a
// modal dialog): the controls to reach are the scope's, and a focus that
// leaves the scope for the page behind is a problem too (the dialog does
// not keep the focus).
func (j *journey) keyboardSweepIn(ctx context.Context, name, scope string) {
	j.t.Helper()
	front(ctx)
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.Evaluate[chromedp.Void](`window.__e2eScope = `+jsString(scope))); err != nil {
		j.t.Fatalf("keyboard %s: %v", name, err)
	}
	defer chromedp.Do(c, chromedp.Evaluate[chromedp.Void](`window.__e2eScope = ""`))
	want, err := chromedp.Run(c, chromedp.Evaluate[[]string](focusables))
	if err != nil {
		j.t.Fatalf("keyboard %s: %v", name, err)
	}
	if len(want) == 0 && scope != "" {
		j.t.Fatalf("keyboard %s: no control to reach in %q", name, scope)
	}
	seen := map[string]bool{}
	var problems []string
	max := 2*len(want) + 6
	for _, shift := range []bool{false, true} {
		pass := map[string]bool{}
		for range max {
			if err := chromedp.Do(c, tabKey(shift)); err != nil {
				j.t.Fatalf("keyboard %s: %v", name, err)
			}
			time.Sleep(40 * time.Millisecond) // a scroll into view settles
			f, err := chromedp.Run(c, chromedp.Evaluate[focused](focusState))
			if err != nil {
				j.t.Fatalf("keyboard %s: %v", name, err)
			}
			if f.Key == "" || pass[f.Key] {
				break // left the page (to the browser's own UI), or wrapped round
			}
			pass[f.Key] = true
			if !seen[f.Key] {
				if !f.Ring {
					problems = append(problems, f.Key+": no visible focus indicator")
				}
				if !f.Clear {
					problems = append(problems, f.Key+": focused but off screen or covered")
				}
				if !f.Inside {
					problems = append(problems, f.Key+": focused outside "+scope)
				}
			}
			seen[f.Key] = true
		}
	}
	for _, k := range want {
		if !seen[k] {
			problems = append(problems, k+": never reached with Tab or Shift+Tab")
		}
	}
	j.keyboardStates++
	j.t.Logf("keyboard: %s: %d controls to reach, %d focused", name, len(want), len(seen))
	if len(problems) > 0 {
		j.t.Errorf("keyboard: %s: %d problems:\n  %s", name, len(problems), strings.Join(problems, "\n  "))
	}
}

// tabTo presses Tab until the element matching selector has the focus
// (at most 80 times), then presses key on it (kb.Enter, or " " for Space).
func (j *journey) tabTo(ctx context.Context, step, selector, key string) {
	j.t.Helper()
	front(ctx)
	c, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	is := `(() => { const e = document.querySelector(` + jsString(selector) + `); return !!e && document.activeElement === e; })()`
	for range 80 {
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](is))
		if err != nil {
			j.t.Fatalf("e2e step %q: %v", step, err)
		}
		if ok {
			if err := chromedp.Do(c, chromedp.KeyEvent(key)); err != nil {
				j.t.Fatalf("e2e step %q: %v", step, err)
			}
			return
		}
		if err := chromedp.Do(c, chromedp.KeyEvent(kb.Tab)); err != nil {
			j.t.Fatalf("e2e step %q: %v", step, err)
		}
	}
	j.shot(ctx, "failed-"+strings.ReplaceAll(step, " ", "-"))
	j.t.Fatalf("e2e step %q: %s not reached with Tab", step, selector)
}
