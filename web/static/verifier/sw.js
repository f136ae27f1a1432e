// The verifier page's service worker: the page, its modules, the trust
// list and the status lists stay available offline. Network first (fresh
// status when online), the cached copy when the network is down, marked
// with the header X-Shenfen-Offline so the page does not count it as fresh
// (the page keeps its own checked copies in IndexedDB as well).
const CACHE = "shenfen-verifier-v3";
const SHELL = ["/verifier/", "/verifier/verifier.js", "/web/app.css", "/web/i18n.js", "/web/idb.js",
  "/web/qr.js", "/web/focus.js", "/web/b64.js", "/web/cbor.js", "/web/der.js", "/web/mdocqr.js", "/web/vendor/qrcode.mjs", "/web/vendor/jsQR.js", "/web/vendor/zxing/es/reader/index.js", "/web/vendor/zxing/es/share.js",
  "/web/vendor/zxing/reader/zxing_reader.wasm", "/wallet/icon.svg"];
const KEEP = (p) => SHELL.includes(p) || p === "/trust-list" || p === "/status" || p.startsWith("/status/") ||
  p === "/.well-known/jwks.json" || p.startsWith("/.well-known/jwt-vc-issuer");

self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL))));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  const u = new URL(e.request.url);
  if (e.request.method !== "GET" || u.origin !== location.origin || !KEEP(u.pathname)) return;
  e.respondWith(fetch(e.request).then((r) => {
    if (r.ok) {
      const copy = r.clone();
      caches.open(CACHE).then((c) => c.put(u.pathname, copy));
    }
    return r;
  }).catch(() => caches.match(u.pathname).then((r) => {
    if (!r || SHELL.includes(u.pathname)) return r;
    const h = new Headers(r.headers);
    h.set("X-Shenfen-Offline", "1");
    return new Response(r.body, { status: r.status, statusText: r.statusText, headers: h });
  })));
});
