// The front-desk verifier page (hotel, bank counter, station).
//
// Request mode (OpenID4VP, docs/api.md §3): the page asks the server for a
// request, shows it as a QR code, and polls for the verified result; the
// server checks issuer signature, holder binding over the nonce, validity
// and status. Scan mode: the page reads the wallet's in-person code with
// the camera and checks it itself (/web/mdocqr.js): the offline code of
// package credential/qr ("SF1:..."), in time mode (the wallet signed the
// time) or nonce mode (the page shows a request code "SFR1:..." first and
// the wallet signs its nonce). Other codes go to the server (POST
// /verifier/api/check), which needs the network.
//
// Offline: the service worker keeps the page and its modules; the page
// keeps the trust list and the status list tokens in IndexedDB and checks
// them itself: the trust list's root certificate is pinned on first use
// (its SHA-256 shown, to compare with the authority's published one), each
// document signer certificate must be signed by that root, each status
// list token by one of those signers. The page says how fresh they are.
// Check-ins are kept locally in this browser (IndexedDB), not on the server.
import * as i18n from "/web/i18n.js";
import * as kv from "/web/idb.js";
import { drawQR, scanQR } from "/web/qr.js";
import * as mdocqr from "/web/mdocqr.js";
import { b64std } from "/web/b64.js";
import { focusHeading } from "/web/focus.js";

const t = i18n.t;
i18n.add({
  "verifier.left": "The request expires in {m}:{s}.",
  "verifier.cancel": "Cancel",
  "reason.declined": "the guest declined",
  "verifier.declined": "Declined by the holder",
  "verifier.declined.how": "The guest declined on their phone: nothing was shared. Ask again, or check the ID card another way.",
  "verifier.cancelled": "Request cancelled",
  "verifier.cancelled.how": "This request was cancelled: the guest's wallet can no longer answer it.",
  "verifier.unread": "Could not read the code",
  "verifier.unread.how": "The scan was incomplete or blurred; this says nothing about the card. Ask the guest to turn the brightness up or show the code full screen, and scan again.",
}, {
  "verifier.left": "请求将在 {m}:{s} 后失效。",
  "verifier.cancel": "取消",
  "reason.declined": "客人拒绝提供",
  "verifier.declined": "持证人已拒绝",
  "verifier.declined.how": "客人在手机上拒绝了请求，未提供任何信息。可再次请求，或以其他方式核验身份证。",
  "verifier.cancelled": "请求已取消",
  "verifier.cancelled.how": "此请求已取消，客人的钱包无法再回应。",
  "verifier.unread": "未能读取二维码",
  "verifier.unread.how": "扫描不完整或模糊，这并不表示证件有问题。请客人调高亮度或全屏显示二维码，然后重新扫描。",
});
const $ = (id) => document.getElementById(id);
// The desk's token (the authority registered this desk and gave it the
// token, usually as a link /verifier/#desk=TOKEN): request codes are asked
// for as this desk, for the claims it is entitled to, and signed with its
// key by the server.
const DESK_KEY = "shenfen.desk";
i18n.add({
  "desk.token": "Desk token (from the authority's registration):", "desk.save": "Sign in as this desk",
  "desk.none": "This page is not signed in as a registered desk: enter the desk token the authority gave you.",
  "desk.refused": "The authority does not know this desk (removed, or a wrong token): enter a valid desk token.",
  "desk.over": "This desk is not entitled to what it asked for: {m}",
}, {
  "desk.token": "柜台令牌（发证机关登记时提供）：", "desk.save": "以此柜台登录",
  "desk.none": "本页尚未以已登记柜台身份登录：请输入发证机关提供的柜台令牌。",
  "desk.refused": "发证机关不认识此柜台（已注销或令牌错误）：请输入有效的柜台令牌。",
  "desk.over": "此柜台无权请求这些信息：{m}",
});
const deskToken = () => { try { return localStorage.getItem(DESK_KEY) || ""; } catch (e) { return ""; } };
function setDeskToken(tok) { try { if (tok) localStorage.setItem(DESK_KEY, tok); else localStorage.removeItem(DESK_KEY); } catch (e) { /* memory only */ } }
function showDeskForm(msgKey) {
  $("desk-form").hidden = false;
  fail(t(msgKey));
}
let pollTimer = null;
let current = null; // the request shown: {id, token}
let scanAbort = null;
let lastResult = null;
let trust = null; // mdocqr.loadTrust of the cached trust list
let trustNote = "";
const lists = new Map(); // status list URI -> mdocqr.loadStatusList
let pendingNonce = null; // the nonce of the request code shown (nonce mode)
const SEEN_KEY = "shenfen.qr.seen";

// seen is the replay memory of time-mode codes (kept across reloads).
const seen = (() => {
  let m;
  try { m = new Map(Object.entries(JSON.parse(localStorage.getItem(SEEN_KEY) || "{}"))); } catch (e) { m = new Map(); }
  return {
    has: (k) => (m.get(k) || 0) > Date.now(),
    add: (k, until) => {
      for (const [x, u] of m) if (u <= Date.now()) m.delete(x);
      m.set(k, until);
      try { localStorage.setItem(SEEN_KEY, JSON.stringify(Object.fromEntries(m))); } catch (e) { /* memory only */ }
    },
  };
})();

function show(name) {
  ["start", "request", "nonce", "scan", "result"].forEach((v) => { $("view-" + v).hidden = v !== name; });
  $("code-form").hidden = name !== "start" && name !== "nonce";
  document.body.dataset.view = name;
  if (shownViews++) focusHeading($("view-" + name));
}
let shownViews = 0;

function fail(msg) {
  $("status").textContent = msg || "";
  $("status").hidden = !msg;
}

async function showRequest() {
  fail("");
  if (!deskToken()) return showDeskForm("desk.none");
  try {
    const resp = await fetch("/api/verifier/requests", {
      method: "POST", headers: { "Content-Type": "application/json", Authorization: "Bearer " + deskToken() },
      // The answer comes encrypted to a key made for this request (HAIP).
      body: JSON.stringify({ format: "dc+sd-jwt", response_mode: "direct_post.jwt" }),
    });
    if (resp.status === 401) { setDeskToken(""); return showDeskForm("desk.refused"); }
    if (resp.status === 403) throw new Error(t("desk.over", { m: ((await resp.json()).detail) || "" }));
    if (!resp.ok) throw new Error(t("err.generic", { m: resp.status }));
    const req = await resp.json();
    show("request");
    drawQR($("request-qr"), req.qr, t("verifier.request"));
    // The same request as a link into the wallet on this origin (a phone
    // that opens it directly, or the end-to-end test).
    const link = new URL("/wallet/", location.origin);
    link.searchParams.set("request_uri", req.request_uri);
    $("request-link").href = link.href;
    $("request-link").textContent = req.request_uri;
    $("request-link").dataset.qr = req.qr;
    current = { id: req.id, token: req.result_token };
    poll(req.id, req.result_token, new Date(req.expires_at));
  } catch (e) {
    fail(e instanceof TypeError ? t("err.network") : e.message); // fetch rejects with a TypeError when offline
  }
}

// countdown says how long the request shown stays valid.
function countdown(expires) {
  const left = Math.max(0, Math.round((expires - Date.now()) / 1000));
  $("request-left").textContent = t("verifier.left", { m: Math.floor(left / 60), s: String(left % 60).padStart(2, "0") });
}

function poll(id, token, expires) {
  clearTimeout(pollTimer);
  countdown(expires);
  const once = async () => {
    try {
      const r = await fetch(`/api/verifier/requests/${encodeURIComponent(id)}`, {
        headers: { Authorization: "Bearer " + token }, cache: "no-store",
      });
      const s = await r.json();
      if (s.status === "pending") {
        if (new Date() > expires) return result({ status: "failed", error: "timeout" });
        countdown(expires);
        pollTimer = setTimeout(once, 1000);
        return;
      }
      current = null;
      // A guest who declines on the phone ends the wait (the wallet's
      // OpenID4VP error response access_denied: status "declined").
      result(s.status === "expired" ? { status: "failed", error: "timeout" } : s);
    } catch (e) {
      pollTimer = setTimeout(once, 2000);
    }
  };
  pollTimer = setTimeout(once, 1000);
}

// cancelRequest gives the request shown up: the server closes it, so the
// guest's wallet can no longer answer it.
async function cancelRequest() {
  clearTimeout(pollTimer);
  const c = current;
  current = null;
  if (c) {
    try {
      await fetch(`/api/verifier/requests/${encodeURIComponent(c.id)}`, { method: "DELETE", headers: { Authorization: "Bearer " + c.token } });
    } catch (e) { /* offline: the request expires by itself */ }
  }
  result({ status: "cancelled" });
}

function result(s) {
  show("result");
  lastResult = s;
  // Declined or cancelled says nothing about the card: a neutral result.
  const closed = s.status === "declined" || s.status === "cancelled";
  if (closed) {
    $("result").className = "result warn";
    $("result").dataset.status = s.status;
    $("result-title").textContent = t("verifier." + s.status);
    $("result-reason").textContent = t("verifier." + s.status + ".how");
    $("result-portrait").hidden = true;
    $("result-claims").replaceChildren();
    $("checkin-form").hidden = true;
    return;
  }
  const ok = s.status === "verified";
  // A code that does not decode (a damaged or partial scan) is not a
  // forgery: the clerk scans again.
  const unread = !ok && s.error === "malformed";
  $("result").className = "result " + (ok ? "ok" : unread ? "warn" : "bad");
  $("result").dataset.status = ok ? "verified" : unread ? "unreadable" : "failed";
  $("result-title").textContent = ok ? "✔ " + t("verifier.ok") : unread ? t("verifier.unread") : "✘ " + t("verifier.fail");
  let note = "";
  if (s.offline && ok) {
    note = t("verifier.offline.ok");
    if (s.signedAt) note += " " + t("verifier.signed", { s: Math.max(0, Math.round((Date.now() - new Date(s.signedAt)) / 1000)) });
  }
  $("result-reason").textContent = ok ? note : unread ? t("verifier.unread.how") : t("verifier.reason", { r: t("reason." + (s.error || "status")) }) + (s.detail ? ` (${s.detail})` : "");
  const img = $("result-portrait");
  const claims = s.claims || {};
  const pic = claims.picture || claims.portrait;
  if (ok && pic) {
    img.src = String(pic).startsWith("data:") ? pic : "data:image/jpeg;base64," + pic;
    img.alt = t("claim.portrait");
    img.classList.toggle("thumb", !!s.offline); // the issuer-signed 48x64 thumbnail, shown large
    img.hidden = false;
  } else {
    img.hidden = true;
  }
  const dl = $("result-claims");
  dl.replaceChildren();
  for (const [k, v] of Object.entries(claims)) {
    if (k === "picture" || k === "portrait" || typeof v === "object") continue;
    const dt = document.createElement("dt");
    dt.textContent = i18n.claimLabel(k);
    const dd = document.createElement("dd");
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
  $("checkin-form").hidden = !ok;
  $("checkin-result").textContent = "";
}

// scan reads the guest's code with the camera and checks it; nonce is
// the request code's nonce in nonce mode.
async function scan(nonce = null) {
  fail("");
  show("scan");
  const v = $("scanner");
  scanAbort = new AbortController();
  let stream, text;
  try {
    // HD, not the browser's default 640x480: the offline code is a
    // version 38 QR (177 modules with its quiet zone), which needs about 3
    // camera pixels a module (e2e/qrscan_test.go).
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } } });
    v.srcObject = stream;
    await v.play();
    text = await scanQR(v, scanAbort.signal);
  } catch (e) {
    if (e.name !== "AbortError") { fail(t("err.camera")); show("start"); }
    return;
  } finally {
    if (stream) stream.getTracks().forEach((tr) => tr.stop());
  }
  await check(text, nonce);
}

// check verifies a scanned code: shenfen's offline code here, anything
// else on the server.
async function check(text, nonce = null) {
  text = String(text).trim();
  if (text.startsWith(mdocqr.PREFIX)) return result(await checkHere(text, nonce));
  let r;
  try {
    r = await fetch("/verifier/api/check", { method: "POST", headers: { "Content-Type": "text/plain" }, body: text });
  } catch (e) {
    fail(t("err.network"));
    show("start");
    return;
  }
  try { result(await r.json()); } catch (e) { result({ status: "failed", error: "malformed" }); }
}

// checkHere verifies an offline code in the page with the cached trust
// list and status lists.
async function checkHere(text, nonce) {
  if (!trust) return { status: "failed", error: "untrusted", detail: t("verifier.trust.none") };
  try {
    const r = await mdocqr.verify(text, { trust, status: async (u) => lists.get(u) || null, seen, nonce });
    const claims = { ...r.claims };
    if (r.thumbnail) claims.picture = "data:image/jpeg;base64," + b64std(r.thumbnail);
    return { status: "verified", claims, offline: true, signedAt: r.signedAt, mode: r.mode };
  } catch (e) {
    if (e instanceof mdocqr.QRError) return { status: "failed", error: e.code, detail: e.message, offline: true };
    return { status: "failed", error: "malformed", detail: String((e && e.message) || e), offline: true };
  }
}

// showNonce shows a request code; the guest's wallet answers it with a
// code signed over its nonce, which is then scanned once.
function showNonce() {
  fail("");
  const { payload, nonce } = mdocqr.newRequest();
  pendingNonce = nonce;
  show("nonce");
  drawQR($("nonce-qr"), payload, t("verifier.nonce"), "Alphanumeric");
  $("nonce-qr").dataset.payload = payload;
}

// ---------- check-ins (kept in this browser) ----------
async function checkin(ev) {
  ev.preventDefault();
  const room = $("room").value.trim();
  if (!room || !lastResult) return;
  const c = lastResult.claims || {};
  const list = (await kv.get("checkins")) || [];
  list.unshift({
    at: new Date().toISOString(), room,
    name: c.name_original || [c.family_name, c.given_name].filter(Boolean).join(""),
    id: c.id_number ? c.id_number.slice(0, 6) + "********" + c.id_number.slice(14) : "",
  });
  await kv.set("checkins", list.slice(0, 500));
  $("checkin-result").className = "okmsg";
  $("checkin-result").textContent = t("verifier.checkedin", { room });
  renderCheckins();
}

async function renderCheckins() {
  const list = (await kv.get("checkins")) || [];
  // Today is the desk's local day, not UTC's (in China UTC's day starts at 08:00).
  const day = (d) => `${d.getFullYear()}-${d.getMonth() + 1}-${d.getDate()}`;
  const today = day(new Date());
  $("checkins").replaceChildren(...list.filter((c) => day(new Date(c.at)) === today).map((c) => {
    const tr = document.createElement("tr");
    for (const v of [new Date(c.at).toLocaleTimeString(), c.room, c.name, c.id]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
}

// ---------- offline: trust list and status lists ----------

// get fetches a text; an answer from the service worker's cache
// (X-Shenfen-Offline) counts as offline, so freshness stays honest.
async function get(path, accept) {
  const r = await fetch(path, { cache: "no-store", headers: { Accept: accept } });
  if (r.headers.get("X-Shenfen-Offline")) throw new Error("offline: " + path);
  if (!r.ok) throw new Error(`${path}: ${r.status}`);
  return r.text();
}

// loadCached rebuilds the trust and the status lists from IndexedDB.
async function loadCached() {
  const tc = await kv.get("verifier.trust");
  if (!tc) return;
  try {
    trust = await mdocqr.loadTrust(tc.list, { pin: await kv.get("verifier.root") });
  } catch (e) {
    trust = null;
    return;
  }
  const stored = (await kv.get("verifier.status")) || {};
  for (const [uri, c] of Object.entries(stored)) {
    try { lists.set(uri, { ...(await mdocqr.loadStatusList(c.token, trust, uri)), fetched: c.fetched }); } catch (e) { lists.delete(uri); }
  }
}

// refreshTrust fetches the trust list and the status lists, checks them
// and keeps them; offline, the cached ones stay in use.
async function refreshTrust() {
  try {
    const list = JSON.parse(await get("/trust-list", "application/json"));
    const pin = await kv.get("verifier.root");
    let fresh = null;
    try {
      fresh = await mdocqr.loadTrust(list, { pin });
      trustNote = "";
    } catch (e) {
      trustNote = e.code === "untrusted" && pin ? t("verifier.trust.changed") : e.message;
    }
    if (fresh) {
      trust = fresh;
      if (!pin) await kv.set("verifier.root", fresh.rootSHA256); // pinned on first use
      await kv.set("verifier.trust", { list, fetched: Date.now() });
    }
    if (trust) {
      const agg = JSON.parse(await get("/status", "application/json"));
      const stored = (await kv.get("verifier.status")) || {};
      const issuerOrigin = new URL(list.issuer || location.origin, location.origin).origin;
      for (const uri of agg.status_lists || []) {
        const u = new URL(uri, location.origin);
        // This server publishes its issuer's lists (its public URL may
        // differ from the address the page was opened at).
        if (u.origin !== location.origin && u.origin !== issuerOrigin) continue;
        const token = await get(u.pathname, "application/statuslist+jwt");
        const now = Date.now();
        try {
          lists.set(uri, { ...(await mdocqr.loadStatusList(token, trust, uri)), fetched: now });
          stored[uri] = { token, fetched: now };
        } catch (e) { /* a bad token does not replace a good cached one */ }
      }
      await kv.set("verifier.status", stored);
      localStorage.setItem("shenfen.status.fetched", String(Date.now()));
    }
    document.body.dataset.offline = "";
  } catch (e) {
    document.body.dataset.offline = "1";
  }
  await freshness();
}

async function freshness() {
  const mins = (at) => Math.max(0, Math.floor((Date.now() - at) / 60000));
  const off = navigator.onLine === false || document.body.dataset.offline === "1";
  const parts = [];
  if (off) parts.push(t("verifier.offline"));
  const tc = await kv.get("verifier.trust");
  parts.push(trust && tc ? t("verifier.trust", { n: trust.signers.size, fp: trust.rootSHA256.slice(0, 16), m: mins(tc.fetched) }) : t("verifier.trust.none"));
  const fetched = [...lists.values()].map((l) => l.fetched);
  parts.push(fetched.length ? t("verifier.fresh", { m: mins(Math.min(...fetched)) }) : t("verifier.fresh.none"));
  if (trustNote) parts.push(trustNote);
  $("freshness").textContent = parts.join(" ");
}

function main() {
  i18n.init();
  i18n.onChange(() => { freshness(); if (lastResult) result(lastResult); });
  $("show-request").addEventListener("click", showRequest);
  $("scan").addEventListener("click", () => scan());
  $("show-nonce").addEventListener("click", showNonce);
  // A desk barcode reader types the code like a keyboard.
  $("code-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const text = $("code").value;
    $("code").value = "";
    const n = pendingNonce;
    pendingNonce = null;
    if (text.trim()) check(text, n);
  });
  $("scan-answer").addEventListener("click", () => { const n = pendingNonce; pendingNonce = null; scan(n); });
  $("request-cancel").addEventListener("click", () => { fail(""); cancelRequest(); });
  $("again").addEventListener("click", () => { clearTimeout(pollTimer); if (scanAbort) scanAbort.abort(); lastResult = null; pendingNonce = null; show("start"); });
  $("checkin-form").addEventListener("submit", checkin);
  // The registration link "/verifier/#desk=TOKEN" signs this page in as
  // the desk; the token leaves the address at once.
  const h = new URLSearchParams(location.hash.slice(1));
  if (h.get("desk")) {
    setDeskToken(h.get("desk"));
    history.replaceState(null, "", location.pathname + location.search);
  }
  $("desk-form").hidden = !!deskToken();
  $("desk-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setDeskToken($("desk-token").value.trim());
    $("desk-token").value = "";
    $("desk-form").hidden = !!deskToken();
    fail("");
  });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/verifier/sw.js", { scope: "/verifier/" }).catch(() => {});
  show("start");
  renderCheckins();
  loadCached().finally(refreshTrust);
  // The network comes and goes: say so at once, refresh when it is back.
  window.addEventListener("offline", freshness);
  window.addEventListener("online", refreshTrust);
  setInterval(refreshTrust, 5 * 60 * 1000);
  setInterval(freshness, 30 * 1000);
  document.body.dataset.ready = "1";
}

main();
