// WCAG 2 contrast: the text colour that reads best on a background, for
// screens whose colour the server chooses (the wallet's light challenge).

// luminance is the relative luminance of "#rrggbb" (WCAG 2).
export function luminance(hex) {
  const v = parseInt(hex.slice(1), 16);
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
  return 0.2126 * lin((v >> 16) & 255) + 0.7152 * lin((v >> 8) & 255) + 0.0722 * lin(v & 255);
}

// contrast is the contrast ratio of two "#rrggbb" colours (1 to 21).
export function contrast(a, b) {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
}

// textOn is black or white, whichever contrasts more with background.
export function textOn(background) {
  return contrast(background, "#000000") >= contrast(background, "#ffffff") ? "#000000" : "#ffffff";
}
