// The card's status on the card itself: valid, suspended, revoked,
// expired or expiring soon, with what to do. The wallet reads its own
// entry in the issuer's status list (Token Status List, verified against
// the trust list like the desk does) when online; offline it says it
// could not check.
import * as i18n from "/web/i18n.js";
import * as mdocqr from "/web/mdocqr.js";

const SOON_MS = 30 * 24 * 3600 * 1000; // "expiring soon": within 30 days

i18n.add({
  "status.valid": "Valid",
  "status.suspended": "Suspended",
  "status.suspended.do": "Verifiers refuse this card. If you suspended it after losing the phone and have found it, a public security counter reinstates it after an identity check.",
  "status.revoked": "Revoked",
  "status.revoked.do": "This card can no longer be used. Enroll again on this phone: Settings, Enroll again.",
  "status.expired": "Expired",
  "status.expired.do": "Enroll again to get a new card: Settings, Enroll again.",
  "status.expiring": "Expires soon",
  "status.expiring.do": "This card expires on {d}. Enroll again before then to keep using it.",
  "status.unknown": "Status not checked",
  "status.unknown.do": "The status could not be checked (offline?). Verifiers check it themselves.",
}, {
  "status.valid": "有效",
  "status.suspended": "已挂失",
  "status.suspended.do": "核验方将拒绝此证件。如您因手机丢失而挂失、现已找回，请到公安窗口核验身份后恢复。",
  "status.revoked": "已注销",
  "status.revoked.do": "此证件已不能使用。请在本机重新申领：设置 → 在本机重新申领。",
  "status.expired": "已过期",
  "status.expired.do": "请重新申领新证件：设置 → 在本机重新申领。",
  "status.expiring": "即将到期",
  "status.expiring.do": "此证件将于 {d} 到期，请在此之前重新申领。",
  "status.unknown": "未能查询状态",
  "status.unknown.do": "未能查询证件状态（未联网？）。核验方会自行查询。",
});

// sameOrigin keeps a URL of this server on this origin (the wallet is
// served by the issuer).
function local(url) {
  const u = new URL(url, location.origin);
  return u.origin === location.origin ? u.pathname + u.search : url;
}

// The trust list, checked once a while (it changes when signers rotate).
const TRUST_MS = 5 * 60 * 1000;
let trustCache = null; // { trust, at }

// check returns the card's status word: "valid", "suspended", "revoked",
// "expired", "expiring" or "unknown", and the expiry date.
export async function check(parsed) {
  const p = parsed.payload || {};
  const exp = p.exp ? p.exp * 1000 : 0;
  if (exp && exp <= Date.now()) return { word: "expired", exp };
  const ref = p.status && p.status.status_list;
  let word = "unknown";
  if (ref && typeof ref.uri === "string") {
    try {
      // "no-cache": the browser asks the server each time, with the ETag
      // of the copy it has; an unchanged list costs a 304 and no body.
      const get = async (u, accept) => {
        const r = await fetch(local(u), { cache: "no-cache", headers: { Accept: accept } });
        if (!r.ok || r.headers.get("X-Shenfen-Offline")) throw new Error(String(r.status));
        return r.text();
      };
      if (!trustCache || Date.now() - trustCache.at > TRUST_MS) {
        trustCache = { trust: await mdocqr.loadTrust(JSON.parse(await get("/trust-list", "application/json"))), at: Date.now() };
      }
      const trust = trustCache.trust;
      const sl = await mdocqr.loadStatusList(await get(ref.uri, "application/statuslist+jwt"), trust, ref.uri);
      const v = mdocqr.statusAt(sl, ref.idx);
      word = v === 0 ? "valid" : v === 2 ? "suspended" : "revoked";
    } catch (e) {
      word = "unknown";
    }
  }
  if (word === "valid" && exp && exp - Date.now() < SOON_MS) word = "expiring";
  return { word, exp };
}

// Promptness: while the card is on screen (and the page visible) the
// wallet reads the whole status list again every WATCH_MS, so a
// suspension shows within seconds. It asks for the whole list, as every
// wallet and verifier does, never "what is the status of card N": a
// per-card question would tell the issuer which card is being looked at,
// when and from where (docs/privacy.md).
const WATCH_MS = 5000;
let watchTimer = null;
let watchGen = 0;

// watch re-checks the card's status every few seconds while the page is
// visible and calls onStatus when the answer differs from shown(), the
// word on screen; stop ends it.
export function watch(parsed, onStatus, shown) {
  stop();
  const mine = watchGen;
  const tick = async () => {
    if (document.visibilityState === "visible") {
      const st = await check(parsed);
      if (mine !== watchGen) return;
      if (st.word !== shown()) onStatus(st);
    }
    watchTimer = setTimeout(tick, WATCH_MS);
  };
  watchTimer = setTimeout(tick, WATCH_MS);
}

// stop ends the watch.
export function stop() {
  watchGen++;
  clearTimeout(watchTimer);
  watchTimer = null;
}

// render shows the status in el (a badge) and what to do in note.
export function render(el, note, { word, exp }) {
  el.textContent = i18n.t("status." + word);
  el.className = "badge " + word;
  el.dataset.status = word;
  const doKey = "status." + word + ".do";
  const d = exp ? new Date(exp).toLocaleDateString(i18n.current() === "zh" ? "zh-CN" : "en") : "";
  note.textContent = word === "valid" ? "" : i18n.t(doKey, { d });
  note.hidden = word === "valid";
}
