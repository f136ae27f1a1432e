// focusHeading moves the keyboard focus (and a screen reader's reading
// position) to a newly shown view's heading, as a page change would; the
// heading becomes focusable by script only (tabindex -1).
export function focusHeading(view) {
  const h = view && view.querySelector("h1, h2, [data-heading]");
  if (!h) return;
  if (!h.hasAttribute("tabindex")) h.setAttribute("tabindex", "-1");
  h.focus({ preventScroll: false });
}
