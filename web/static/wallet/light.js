// The light of the reading: while the enrollment's reading is recorded the
// whole screen shows the server's colours (they light the face), with the
// digits still on it and a small mirror of the camera. The colours change
// no faster than the server's steps (at least half a second each).
import { textOn } from "/web/contrast.js";

const $ = (id) => document.getElementById(id);

// showLight covers the screen (full screen when allowed) with digits on it.
export function showLight(digits) {
  $("light-digits").textContent = digits;
  $("light").hidden = false;
  document.body.dataset.light = "1";
  const el = document.documentElement;
  if (el.requestFullscreen && !document.fullscreenElement) el.requestFullscreen({ navigationUI: "hide" }).catch(() => {});
}

// hideLight ends it.
export function hideLight() {
  $("light").hidden = true;
  delete document.body.dataset.light;
  $("light-video").srcObject = null;
  if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
}

// setLight paints the screen in color ("#rrggbb") with the text colour,
// black or white, of the higher WCAG contrast on it: at least 5.25:1 on
// every colour of the server's palette (on red and magenta that is black;
// white, chosen before by a brightness threshold, gave 4.0:1 and 3.1:1).
export function setLight(color) {
  const box = $("light");
  box.style.backgroundColor = color;
  box.style.color = textOn(color);
  box.dataset.color = color;
}
