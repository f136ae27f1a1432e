// focusHeading moves the keyboard focus (and a screen reader's reading
// position) to a newly shown view's heading, as a page change would; the
// heading becomes focusable by script only (tabindex -1). The first
// heading shown counts: one in a hidden part (the card view's revocation
// panel) cannot take the focus.
export function focusHeading(view) {
  const h = view && [...view.querySelectorAll("h1, h2, [data-heading]")].find((e) => e.getClientRects().length > 0);
  if (!h) return;
  if (!h.hasAttribute("tabindex")) h.setAttribute("tabindex", "-1");
  h.focus({ preventScroll: false });
}
