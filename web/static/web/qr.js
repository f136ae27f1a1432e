// QR codes: draw one as SVG (vendored qrcode-generator) and read one from
// the camera (vendored jsQR, loaded as a classic script before the page's
// module: it defines the global jsQR).
import qrcode from "./vendor/qrcode.mjs";

const SVG = "http://www.w3.org/2000/svg";

// drawQR replaces el's content with an SVG QR code of text, in mode
// "Byte" (default) or "Alphanumeric" (Base45 payloads: 5.5 bits a
// character instead of 8, which the offline card code needs to fit).
export function drawQR(el, text, label, mode = "Byte") {
  const q = qrcode(0, "M");
  q.addData(text, mode);
  q.make();
  const n = q.getModuleCount();
  const quiet = 4;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${n + 2 * quiet} ${n + 2 * quiet}`);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label || "QR code");
  svg.setAttribute("class", n > 100 ? "qr dense" : "qr");
  const bg = document.createElementNS(SVG, "rect");
  bg.setAttribute("width", n + 2 * quiet);
  bg.setAttribute("height", n + 2 * quiet);
  bg.setAttribute("fill", "#fff");
  svg.appendChild(bg);
  let d = "";
  for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) if (q.isDark(r, c)) d += `M${c + quiet} ${r + quiet}h1v1h-1z`;
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", d);
  path.setAttribute("fill", "#000");
  svg.appendChild(path);
  el.replaceChildren(svg);
}

// scanQR reads frames from video until a QR code is found or signal
// aborts; resolves to the decoded text.
export function scanQR(video, signal) {
  const c = document.createElement("canvas");
  const g = c.getContext("2d", { willReadFrequently: true });
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (signal && signal.aborted) return reject(new DOMException("aborted", "AbortError"));
      if (video.readyState >= 2 && video.videoWidth) {
        c.width = video.videoWidth;
        c.height = video.videoHeight;
        g.drawImage(video, 0, 0);
        const img = g.getImageData(0, 0, c.width, c.height);
        const hit = globalThis.jsQR && globalThis.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
        if (hit && hit.data) return resolve(hit.data);
      }
      setTimeout(tick, 200);
    };
    tick();
  });
}
