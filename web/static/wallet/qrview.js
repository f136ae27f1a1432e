// The offline code as a desk camera needs it: as wide as the phone (the
// code's own quiet zone is its margin), and on demand full screen on white
// with the screen kept awake. A web page cannot set the screen's
// brightness; a full-screen white page is the brightest it can show, and
// the Screen Wake Lock keeps the screen from dimming while the clerk
// scans.
import * as i18n from "/web/i18n.js";

i18n.add({
  "card.qr.full": "Full screen",
  "card.qr.close": "Close",
  "card.qr.hint": "Turn the screen brightness up and hold the phone flat in front of the camera.",
}, {
  "card.qr.full": "全屏显示",
  "card.qr.close": "关闭",
  "card.qr.hint": "请调高屏幕亮度，将手机平放在摄像头前。",
});

let lock = null;

async function wake() {
  try {
    if (navigator.wakeLock && !lock) {
      lock = await navigator.wakeLock.request("screen");
      lock.addEventListener("release", () => { lock = null; });
    }
  } catch (e) { /* not allowed here (battery saver, no HTTPS): the code still shows */ }
}

function sleep() {
  if (lock) lock.release().catch(() => {});
  lock = null;
}

// isFull reports whether box is showing full screen.
export const isFull = (box) => box.classList.contains("full");

// enter shows box full screen on white, keeps the screen awake and moves
// focus to the close button.
export function enter(box, close) {
  box.classList.add("full");
  document.body.dataset.qrfull = "1";
  if (box.requestFullscreen && !document.fullscreenElement) box.requestFullscreen({ navigationUI: "hide" }).catch(() => {});
  wake();
  close.hidden = false;
  close.focus();
}

// leave ends full screen (and the wake lock).
export function leave(box, close, opener) {
  if (!isFull(box)) return;
  box.classList.remove("full");
  delete document.body.dataset.qrfull;
  if (document.fullscreenElement && document.exitFullscreen) document.exitFullscreen().catch(() => {});
  sleep();
  close.hidden = true;
  if (opener) { opener.hidden = false; opener.focus(); }
}

// wire connects the full-screen button, the close button, Escape and the
// browser leaving full screen on its own (back gesture, Esc).
export function wire(box, open, close) {
  open.addEventListener("click", () => { open.hidden = true; enter(box, close); });
  close.addEventListener("click", () => leave(box, close, open));
  box.addEventListener("keydown", (e) => { if (e.key === "Escape") leave(box, close, open); });
  document.addEventListener("fullscreenchange", () => { if (!document.fullscreenElement) leave(box, close, open); });
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible" && isFull(box)) wake(); });
}
