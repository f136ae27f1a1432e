// Whether a desk's request is still open while its consent is on screen.
// A desk's request object (/oid4vp/requests/{id}) is served only while the
// request is pending: once the desk cancelled it, it expired or it was
// answered, the server answers 404. The wallet asks again every few
// seconds while the consent is shown and once more before the gate, so the
// citizen learns at once that there is nothing left to share. Sign-in
// requests of the OpenID Provider are not watched (their request object is
// made per fetch).
import * as i18n from "/web/i18n.js";

i18n.add({
  "consent.gone": "This request is no longer valid: the verifier cancelled it or it expired. Nothing was shared. Ask for a new code.",
  "consent.back": "Back to my card",
}, {
  "consent.gone": "此请求已失效：核验方已取消或已过期，未提供任何信息。请重新获取二维码。",
  "consent.back": "返回我的证件",
});

// label sets the consent's second button: "Cancel" (decline) while the
// request is open, "Back to my card" once it is gone.
export function label(button, gone) {
  button.dataset.i18n = gone ? "consent.back" : "consent.deny";
  button.textContent = i18n.t(button.dataset.i18n);
}

const DESK = /^\/oid4vp\/requests\/[A-Za-z0-9_-]+$/;
const EVERY_MS = 3000;

// watchable reports whether uri (a path on this origin) is a desk's request.
export function watchable(uri) {
  try { return DESK.test(new URL(uri, location.origin).pathname); } catch (e) { return false; }
}

// open reports whether the request at uri is still open; a network error
// counts as open (the answer will tell).
export async function open(uri) {
  if (!watchable(uri)) return true;
  try {
    const r = await fetch(uri, { cache: "no-store", headers: { Accept: "application/oauth-authz-req+jwt" } });
    return r.status !== 404 && r.status !== 410;
  } catch (e) {
    return true;
  }
}

let timer = null;
let gen = 0; // each watch's number: a tick of an ended watch does nothing

// watch calls gone() once when the request at uri closes; stop() ends it.
export function watch(uri, gone) {
  stop();
  if (!watchable(uri)) return;
  const mine = gen;
  const tick = async () => {
    const still = await open(uri);
    if (mine !== gen) return;
    if (!still) { gone(); return; }
    timer = setTimeout(tick, EVERY_MS);
  };
  timer = setTimeout(tick, EVERY_MS);
}

// stop ends the watch.
export function stop() {
  gen++;
  clearTimeout(timer);
  timer = null;
}
