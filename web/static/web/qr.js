// QR codes: draw one as SVG (vendored qrcode-generator) and read one from
// the camera. The reader is loaded on the first scan, not with the page:
// zxing-cpp compiled to WebAssembly (vendored npm zxing-wasm), which reads
// the offline card code (a version 38 QR) from a camera frame where jsQR
// reads none (e2e/qrscan_test.go, docs/benchmarks.md); jsQR (vendored,
// a classic script defining the global jsQR) where WebAssembly is not
// available.
import qrcode from "./vendor/qrcode.mjs";

const ZXING = "/web/vendor/zxing/es/reader/index.js";
const ZXING_WASM = "/web/vendor/zxing/reader/zxing_reader.wasm";
const JSQR = "/web/vendor/jsQR.js";

// readers load a decoder: a function from ImageData to the text read ("").
const readers = {
  async zxing() {
    const z = await import(ZXING);
    await z.prepareZXingModule({
      overrides: { locateFile: (p, prefix) => (p.endsWith(".wasm") ? ZXING_WASM : prefix + p) },
      fireImmediately: true,
    });
    const opts = { formats: ["QRCode"], maxNumberOfSymbols: 1 };
    return async (img) => {
      const r = await z.readBarcodesFromImageData(img, opts);
      return r.length && r[0].isValid ? r[0].text : "";
    };
  },
  async jsqr() {
    if (!globalThis.jsQR) {
      await new Promise((resolve, reject) => {
        const el = document.createElement("script");
        el.src = JSQR;
        el.onload = resolve;
        el.onerror = () => reject(new Error("jsQR did not load"));
        document.head.appendChild(el);
      });
    }
    return async (img) => {
      const hit = globalThis.jsQR(img.data, img.width, img.height, { inversionAttempts: "dontInvert" });
      return hit && hit.data ? hit.data : "";
    };
  },
};

const loaded = {};
// reader returns the named decoder, loading it once; "" is zxing-cpp,
// falling back to jsQR.
function reader(name = "") {
  if (!loaded[name]) {
    loaded[name] = name ? readers[name]() : readers.zxing().catch(() => readers.jsqr());
    loaded[name].catch(() => { delete loaded[name]; });
  }
  return loaded[name];
}

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
// aborts; resolves to the decoded text. engine names a decoder ("zxing",
// "jsqr"; the tests compare them), by default zxing-cpp with jsQR as the
// fallback.
export async function scanQR(video, signal, engine = "") {
  const read = await reader(engine);
  const c = document.createElement("canvas");
  const g = c.getContext("2d", { willReadFrequently: true });
  for (;;) {
    if (signal && signal.aborted) throw new DOMException("aborted", "AbortError");
    if (video.readyState >= 2 && video.videoWidth) {
      c.width = video.videoWidth;
      c.height = video.videoHeight;
      g.drawImage(video, 0, 0);
      const text = await read(g.getImageData(0, 0, c.width, c.height));
      if (text) return text;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}
