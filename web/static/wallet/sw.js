// The wallet's service worker: keeps the app shell for offline start (the
// card itself lives in IndexedDB). Network first, cache as fallback, so a
// new release takes effect at once when online.
const CACHE = "shenfen-wallet-v4";
const SHELL = ["/wallet/", "/wallet/wallet.js", "/wallet/logcheck.js", "/wallet/batch.js", "/wallet/qrview.js", "/wallet/gate.js", "/wallet/status.js", "/wallet/collect.js", "/wallet/reqwatch.js", "/wallet/light.js", "/wallet/manifest.webmanifest", "/wallet/icon.svg",
  "/web/app.css", "/web/i18n.js", "/web/idb.js", "/web/jws.js", "/web/b64.js", "/web/media.js",
  "/web/pcm-worklet.js", "/web/qr.js", "/web/focus.js", "/web/contrast.js", "/web/idnumber.js", "/web/sdjwt.js", "/web/cbor.js", "/web/der.js", "/web/mdocqr.js", "/web/tlog.js", "/web/vendor/qrcode.mjs", "/web/vendor/jsQR.js"];

self.addEventListener("install", (e) => e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL))));
self.addEventListener("activate", (e) => e.waitUntil(self.clients.claim()));
self.addEventListener("fetch", (e) => {
  const u = new URL(e.request.url);
  if (e.request.method !== "GET" || u.origin !== location.origin || !SHELL.includes(u.pathname)) return;
  e.respondWith(fetch(e.request).then((r) => {
    const copy = r.clone();
    caches.open(CACHE).then((c) => c.put(e.request, copy));
    return r;
  }).catch(() => caches.match(e.request)));
});
