// The citizen's wallet: device key, enrollment with camera and microphone,
// collecting the card (OpenID4VCI), showing it, presenting it to a
// verifier or a login page (OpenID4VP), the disclosure history, and
// suspending the card. See docs/api.md for the server side.
import * as i18n from "/web/i18n.js";
import * as kv from "/web/idb.js";
import { deviceKey, newDeviceKey, publicJwk, sign } from "/web/jws.js";
import { b64u, parseB64uJSON, sha256, unb64u } from "/web/b64.js";
import { askPermission, openMedia, closeMedia, recordReading, frame } from "/web/media.js";
import { drawQR, scanQR } from "/web/qr.js";
import * as sdjwt from "/web/sdjwt.js";
import * as mdocqr from "/web/mdocqr.js";
import { showLogCheck } from "./logcheck.js";
import * as batch from "/wallet/batch.js";
import * as qrview from "/wallet/qrview.js";
import * as idnumber from "/web/idnumber.js";
import * as gate from "/wallet/gate.js";
import * as cardstatus from "/wallet/status.js";
import * as reqwatch from "/wallet/reqwatch.js";
import { focusHeading } from "/web/focus.js";
import { showLight, hideLight, setLight } from "/wallet/light.js";

const t = i18n.t;
i18n.add({
  "enroll.id.format": "The ID number has 18 characters: 17 digits, then a digit or X.",
  "enroll.id.check": "The last character of this ID number does not match the others: check the number on your ID card.",
  "enroll.name.missing": "Enter your name as printed on your ID card.",
  "enroll.cancel": "Cancel",
  "err.camera.how": "The camera or microphone is blocked. Allow both for this site (tap the icon left of the address, then Permissions, or the browser's site settings), then press Try again.",
  "settings.reenroll.confirm": "Enroll again? This deletes the card and the phone's key here; you will need to record a new enrollment.",
  "card.qr.show": "Show my code",
  "enroll.challenge": "Read four digits aloud",
  "consent.return": "Continue to {rp}",
  "card.qr.locked": "Your code is shown after you confirm it's you.",
  "enroll.attempts": "{n} attempts left on this phone before a wait.",
  "enroll.attempts.one": "1 attempt left on this phone before a wait.",
  "enroll.attempts.none": "No attempts left on this phone for now: wait a few minutes, then try again.",
}, {
  "enroll.id.format": "公民身份号码为 18 位：17 位数字加 1 位数字或 X。",
  "enroll.id.check": "身份号码的最后一位与前面不符，请核对身份证上的号码。",
  "enroll.name.missing": "请输入身份证上的姓名。",
  "enroll.cancel": "取消",
  "err.camera.how": "摄像头或麦克风被禁止。请为本网站允许两者（点按地址栏左侧的图标，进入权限，或在浏览器的网站设置中），然后点“重试”。",
  "settings.reenroll.confirm": "确定重新申领？这会删除本机上的证件和密钥，需要重新录制申领。",
  "card.qr.show": "显示我的二维码",
  "enroll.challenge": "朗读四位数字",
  "consent.return": "返回 {rp} 继续",
  "card.qr.locked": "确认是您本人后显示二维码。",
  "enroll.attempts": "本机还可尝试 {n} 次，之后需等待。",
  "enroll.attempts.one": "本机还可尝试 1 次，之后需等待。",
  "enroll.attempts.none": "本机暂时不能再尝试：请等几分钟后再试。",
});
const $ = (id) => document.getElementById(id);
const ORIGIN = location.origin;
const RECORD_MS = 4500;
const QR_REFRESH_S = 30;

let media = null; // the open camera+microphone stream
let scanAbort = null;

// ---------- views ----------
const views = ["home", "enroll", "challenge", "card", "scan", "consent", "history", "settings"];
function show(name) {
  views.forEach((v) => { $("view-" + v).hidden = v !== name; });
  document.querySelectorAll("#tabs button").forEach((b) => {
    if (b.dataset.view === name) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  });
  document.body.dataset.view = name;
  if (name !== "challenge") { closeMedia(media); media = null; }
  if (name !== "scan" && scanAbort) { scanAbort.abort(); scanAbort = null; }
  if (name !== "card") { stopQR(); qrview.leave($("qrbox"), $("qr-close")); cardstatus.stop(); }
  if (name !== "consent") reqwatch.stop();
  // Every view after the first: focus its heading (not at start-up, where
  // the page's own order applies).
  if (shownViews++ && !$("gate").open) focusHeading($("view-" + name));
}
let shownViews = 0;

function fail(msg) {
  const s = $("status");
  s.textContent = msg;
  s.hidden = !msg;
}

// problem turns a failed fetch Response into a localised message.
async function problem(resp) {
  let type = "", detail = "";
  try {
    const j = await resp.json();
    type = String(j.type || j.error || "").split("/").pop();
    detail = j.detail || j.error_description || j.error || "";
  } catch (e) { /* not JSON */ }
  const k = "err." + type;
  const s = t(k);
  return s === k ? t("err.generic", { m: detail || resp.status }) : s;
}

async function api(path, opts = {}) {
  let resp;
  try {
    resp = await fetch(path, { credentials: "same-origin", cache: "no-store", ...opts });
  } catch (e) {
    throw new Error(t("err.network"));
  }
  if (!resp.ok) throw new Error(await problem(resp));
  return resp;
}

// ---------- enrollment ----------
async function startEnrollment(ev) {
  ev.preventDefault();
  fail("");
  const id = $("id-number").value.trim().toUpperCase();
  const name = $("name").value.trim();
  const bad = idnumber.problemOf(id);
  $("id-number").setAttribute("aria-invalid", String(!!bad));
  $("name").setAttribute("aria-invalid", String(!name));
  if (bad || !name) {
    fail(bad ? t("enroll.id." + bad) : t("enroll.name.missing"));
    (bad ? $("id-number") : $("name")).focus();
    return;
  }
  $("enroll-start").disabled = true;
  try {
    // The browser asks for the camera and microphone before the digits'
    // timer starts.
    try {
      await askPermission();
    } catch (e) {
      throw new Error(t("err.camera"));
    }
    const key = await deviceKey();
    const resp = await api("/api/enrollments", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ device_key: await publicJwk(key), language: i18n.current() }),
    });
    const ch = await resp.json();
    // Kept across a reload or browser restart until submitted or expired.
    await kv.set("pending", {
      id: ch.id, digits: ch.digits, expires_at: ch.expires_at, id_number: id, name,
      language: ch.language || i18n.current(), light: ch.light || null,
    });
    await showChallenge();
  } catch (e) {
    fail(e.message);
  } finally {
    $("enroll-start").disabled = false;
  }
}

async function showChallenge() {
  const p = await kv.get("pending");
  if (!p) return show("enroll");
  if (new Date(p.expires_at) < new Date()) {
    await kv.del("pending");
    fail(t("err.challenge-expired"));
    return show("enroll");
  }
  show("challenge");
  $("read-label").hidden = false;
  $("preview").hidden = false;
  $("digits").textContent = p.digits;
  $("expires").textContent = t("enroll.expires", { t: new Date(p.expires_at).toLocaleTimeString() });
  $("phase").textContent = "";
  $("progress").hidden = true;
  $("record").hidden = false;
  $("record").disabled = false;
  $("retry").hidden = true;
  $("attempts-left").hidden = true;
  try {
    media = await openMedia($("preview"));
  } catch (e) {
    // Camera or microphone refused: say how to allow them, and offer to
    // try again (the digits stay valid until they expire).
    fail(t("err.camera.how"));
    $("record").hidden = true;
    $("retry").hidden = false;
  }
}

// cancelChallenge gives the digits up and goes back to the form (the ID
// number and name stay filled in).
async function cancelChallenge() {
  await kv.del("pending");
  fail("");
  show("enroll");
}

async function recordAndSubmit() {
  fail("");
  const p = await kv.get("pending");
  if (!p || !media) return;
  $("record").disabled = true;
  $("progress").hidden = false;
  $("phase").textContent = t("enroll.recording");
  document.body.dataset.recording = "1";
  try {
    const selfie = await frame($("preview"), 0.92);
    // The camera and microphone open together for the reading (the
    // preview's camera is closed first), the screen shows the light.
    closeMedia(media);
    media = null;
    let rec;
    showLight(p.digits);
    try {
      rec = await recordReading($("light-video"), RECORD_MS, p.light, setLight, (f) => { $("progress").value = f; });
    } finally {
      hideLight();
    }
    delete document.body.dataset.recording;
    $("phase").textContent = t("enroll.sending");
    const digest = async (blob) => b64u(await sha256(new Uint8Array(await blob.arrayBuffer())));
    const key = await deviceKey();
    const req = await sign(key, { typ: "shenfen-enrollment+jwt" }, {
      enrollment_id: p.id, id_number: p.id_number, name: p.name, iat: Math.floor(Date.now() / 1000),
      selfie: await digest(selfie), audio: await digest(rec.wav),
      frames: await Promise.all(rec.frames.map(digest)), frame_times_ms: rec.times, language: p.language,
    });
    const form = new FormData();
    form.append("request", req);
    form.append("selfie", selfie, "selfie.jpg");
    form.append("audio", rec.wav, "digits.wav");
    rec.frames.forEach((f, i) => form.append("frame", f, `frame${i}.jpg`));
    let resp;
    try {
      resp = await fetch(`/api/enrollments/${encodeURIComponent(p.id)}/submission`, { method: "POST", body: form });
    } catch (e) {
      throw new Error(t("err.network"));
    }
    if (!resp.ok) {
      // Any decided or expired challenge is spent: start again with new digits.
      await kv.del("pending");
      showAttempts((await resp.clone().json().catch(() => ({}))).attempts_left);
      throw new Error(await problem(resp));
    }
    const decision = await resp.json();
    await kv.del("pending");
    $("phase").textContent = t("enroll.collect");
    await collect(decision.credential_offer);
    await fetchRevocationCode().catch(() => {}); // settings can ask again
    await showCard();
  } catch (e) {
    delete document.body.dataset.recording;
    fail(e.message);
    $("phase").textContent = "";
    // These digits are spent (and the camera closed): a new try gets new
    // ones.
    $("digits").textContent = "";
    $("expires").textContent = "";
    $("read-label").hidden = true;
    $("preview").hidden = true;
    $("progress").hidden = true;
    $("record").hidden = true;
    $("retry").hidden = false;
  }
}

// showAttempts says how many tries the server's limit leaves this phone
// (a refusal's attempts_left; none shown when it does not say).
function showAttempts(n) {
  const el = $("attempts-left");
  el.hidden = typeof n !== "number";
  if (el.hidden) return;
  el.dataset.n = String(n);
  el.textContent = n === 0 ? t("enroll.attempts.none") : n === 1 ? t("enroll.attempts.one") : t("enroll.attempts", { n });
}

// ---------- OpenID4VCI: collect the card ----------
// /wallet/collect.js runs the flow and verifies each SD-JWT VC (issuer
// chain to the trust list, signature, iss, vct, disclosures, cnf = the
// device key) before anything is kept.
async function collect(offer) {
  const vci = await import("/wallet/collect.js");
  const key = await deviceKey();
  const got = await vci.collect(offer, {
    key, roots: await vci.loadRoots(await (await api("/trust-list")).json()),
    fetch: async (url, opts) => {
      try { return await fetch(sameOrigin(url), { credentials: "same-origin", cache: "no-store", ...opts }); } catch (e) { throw new Error(t("err.network")); }
    },
    problem, optional: (id, conf) => conf.doctype === mdocqr.DOCTYPE, // the card works without its offline code
  }).catch((e) => { throw e instanceof vci.Refused ? new Error(t("err.generic", { m: e.message })) : e; });
  await batch.keep(got.token);
  if (got.logKey) await kv.set("tlog.key", got.logKey); // pinned from the signed metadata (tlog.js checks against it)
  const card = { issuer: got.issuer };
  for (const [cfg, c] of Object.entries(got.credentials)) {
    const conf = got.metadata.credential_configurations_supported[cfg];
    if (conf.format === "dc+sd-jwt") card.sdjwt = c;
    else if (conf.doctype === mdocqr.DOCTYPE) card.qr = c; // the compact card behind the offline QR
    else card.mdoc = c;
  }
  if (!card.sdjwt) throw new Error(t("err.generic", { m: "no SD-JWT card" }));
  await kv.set("card", card);
  await batch.refillSoon(); // the single-use credentials verifiers see
}

// sameOrigin keeps calls on this server: the wallet is served by the issuer.
function sameOrigin(url) {
  const u = new URL(url, ORIGIN);
  return u.origin === ORIGIN ? u.pathname + u.search : url;
}

// ---------- the card ----------
let qrTimer = null;
let qrUnlocked = false; // the gate was passed since the card view opened
function stopQR() {
  if (qrTimer) { clearInterval(qrTimer); qrTimer = null; }
  qrUnlocked = false;
  $("card-qr").replaceChildren();
  delete $("card-qr").dataset.payload;
}

export function maskID(id) {
  return id && id.length === 18 ? id.slice(0, 6) + "********" + id.slice(14) : id || "";
}

async function loadCard() {
  const c = await kv.get("card");
  if (!c || !c.sdjwt) return null;
  return { stored: c, parsed: await sdjwt.parse(c.sdjwt) };
}

async function showCard() {
  const card = await loadCard();
  if (!card) { $("tabs").hidden = true; return show("home"); }
  $("tabs").hidden = false;
  show("card");
  const c = card.parsed.claims;
  $("card-name").textContent = c.name_original || [c.family_name, c.given_name].filter(Boolean).join("");
  $("card-id").textContent = maskID(c.id_number || c.personal_administrative_number);
  $("card-birth").textContent = c.birthdate || "";
  $("card-valid").textContent = c.date_of_expiry || (card.parsed.payload.exp ? new Date(card.parsed.payload.exp * 1000).toISOString().slice(0, 10) : "");
  if (typeof c.picture === "string" && c.picture.startsWith("data:image/")) $("card-portrait").src = c.picture;
  $("card-portrait").alt = t("claim.portrait");
  await showRevocationCode();
  showLogCheck($("card-log"), card.stored, card.parsed.payload); // not awaited: the card shows at once
  await showRemaining();
  // The status, without holding up the card: the status list may be slow.
  const drawStatus = (st) => cardstatus.render($("card-status"), $("card-status-note"), st);
  cardstatus.check(card.parsed).then(drawStatus);
  cardstatus.watch(card.parsed, drawStatus, () => $("card-status").dataset.status);
  if (qrUnlocked) return drawCardQR(card);
  // The code waits behind the gate.
  $("card-qr").replaceChildren();
  $("qr-full").hidden = true;
  $("qr-show").hidden = !card.stored.qr;
  $("card-qr-note").textContent = card.stored.qr ? t("card.qr.locked") : t("card.qr.none");
}

// unlockQR asks the gate, then shows the code (signed over nonce in
// nonce mode).
async function unlockQR(nonce = null) {
  if (!(await gate.verify(t("gate.why.code")))) return;
  const card = await loadCard();
  if (!card) return;
  qrUnlocked = true;
  const hadFocus = document.activeElement === $("qr-show");
  $("qr-show").hidden = true;
  await drawCardQR(card, nonce);
  // Its button gone, the focus goes to the code's next control.
  if (hadFocus || document.activeElement === document.body) {
    if ($("qr-full").hidden) focusHeading($("view-card"));
    else $("qr-full").focus();
  }
}

// showRemaining says how many single-use credentials are left.
async function showRemaining() {
  const n = await batch.remaining();
  $("batch-left").textContent = t("card.batch", { n: Math.min(n.sdjwt, n.qr) });
  $("batch-left").dataset.sdjwt = n.sdjwt;
  $("batch-left").dataset.mdoc = n.mdoc;
  $("batch-left").dataset.qr = n.qr;
}

// ---------- the lost-phone revocation code ----------
// Right after collecting the card the wallet asks for the card's
// revocation code (POST /api/wallet/revocation-code, once per card) and
// shows it until the citizen confirms having written it down; with it and
// the ID number, the lost-phone page (/wallet/lost.html) suspends the card
// from any browser. The server keeps only a hash.
async function fetchRevocationCode() {
  const resp = await api("/api/wallet/revocation-code", { method: "POST", headers: await cardAuth() });
  const code = (await resp.json()).revocation_code;
  await kv.set("revocation_code", code);
  return code;
}

async function showRevocationCode() {
  const code = await kv.get("revocation_code");
  $("revocation").hidden = !code;
  $("revocation-code").textContent = code || "";
}

async function ackRevocationCode() {
  await kv.del("revocation_code");
  $("revocation-code").textContent = "";
  $("revocation").hidden = true;
}

async function getRevocationCode() {
  try {
    await fetchRevocationCode();
    await showCard();
  } catch (e) {
    $("settings-result").className = "error";
    $("settings-result").textContent = e.message;
  }
}

// The in-person code (package credential/qr, /web/mdocqr.js): the compact
// card as an ISO 18013-5 DeviceResponse signed by the device key, checked
// offline by the counter. Time mode: the device signs the current time and
// the code is redrawn every QR_REFRESH_S seconds (a verifier accepts it for
// a minute, once). Nonce mode, after scanning the counter's request code:
// the device signs the counter's nonce.
async function drawCardQR(card, nonce = null) {
  if (qrTimer) { clearInterval(qrTimer); qrTimer = null; }
  if (!card.stored.qr) { // collected before the compact card was issued
    $("card-qr").replaceChildren();
    $("card-qr-note").textContent = t("card.qr.none");
    $("qr-full").hidden = true;
    return;
  }
  // A single-use compact card for this showing of the code (its 30 s
  // refreshes re-sign the same one); the card's own when none is left.
  const one = await batch.takeOrRefill("qr");
  const issued = unb64u(one ? one.credential : card.stored.qr);
  const draw = async () => {
    try {
      const key = one ? one.key : await deviceKey();
      const payload = await mdocqr.present(issued, key.privateKey, { nonce });
      drawQR($("card-qr"), payload, t("card.title"), "Alphanumeric");
      $("card-qr").dataset.payload = payload;
      $("qr-full").hidden = false;
      $("card-qr-note").textContent = nonce ? t("card.qr.answer") : t("card.qr", { s: QR_REFRESH_S });
    } catch (e) {
      $("card-qr").replaceChildren();
      $("card-qr-note").textContent = t("card.qr.none");
      $("qr-full").hidden = true;
    }
  };
  await draw();
  if (!nonce) qrTimer = setInterval(draw, QR_REFRESH_S * 1000);
}

// answerRequest shows the card's code signed over the nonce of a counter's
// request code ("SFR1:...", nonce mode).
async function answerRequest(text) {
  let nonce;
  try { nonce = mdocqr.parseRequest(text); } catch (e) { return fail(t("err.generic", { m: e.message })); }
  await showCard();
  await unlockQR(nonce);
}

// ---------- scanning and presenting (OpenID4VP / wallet login) ----------
// Desks, online verifiers and the OpenID Provider's sign-in all send a
// signed OpenID4VP request; /wallet/consent.js checks it (request.js) and
// draws the consent: who asks, why, and the card's exact values.
let pendingRequest = null;
const consentModule = () => import("/wallet/consent.js");

async function openLink(text) {
  fail("");
  if (text.trim().startsWith(mdocqr.REQUEST_PREFIX)) return answerRequest(text.trim());
  const consent = await consentModule();
  try {
    let u;
    try { u = new URL(text.trim(), ORIGIN); } catch (e) { throw new Error(t("err.generic", { m: "not a link" })); }
    const requestURI = u.searchParams.get("request_uri") || (u.protocol.startsWith("http") ? u.href : "");
    if (!requestURI) throw new Error(t("err.generic", { m: "no request in this code" }));
    const card = await loadCard();
    if (!card) throw new Error(t("home.none"));
    const checked = await consent.open(sameOrigin(requestURI), u.searchParams.get("client_id") || "");
    checked.uri = sameOrigin(requestURI);
    pendingRequest = checked;
    show("consent");
    consent.render(checked, card.parsed.claims, $("consent-who"), $("consent-claims"));
    $("consent-result").textContent = "";
    $("consent-return").hidden = true;
    $("consent-approve").disabled = false;
    reqwatch.label($("consent-deny"), false);
    reqwatch.watch(checked.uri, () => requestGone(checked));
  } catch (e) {
    pendingRequest = null;
    fail(consent.message(e));
  }
}

// requestGone says the request on screen closed (cancelled by the desk,
// expired, answered elsewhere): nothing to share any more.
function requestGone(req) {
  if (pendingRequest !== req) return;
  pendingRequest = null;
  reqwatch.stop();
  $("consent-approve").disabled = true;
  reqwatch.label($("consent-deny"), true);
  $("consent-result").className = "error";
  $("consent-result").textContent = t("consent.gone");
}

async function approve() {
  const req = pendingRequest;
  if (!req) return;
  $("consent-approve").disabled = true;
  if (!(await reqwatch.open(req.uri))) return requestGone(req);
  const consent = await consentModule();
  if (!(await gate.verify(t("gate.why.share", { rp: consent.who(req) }), $("consent-approve")))) {
    $("consent-approve").disabled = false;
    return;
  }
  try {
    const card = await loadCard();
    if (!card) throw new Error(t("home.none"));
    // Each presentation gets a single-use credential, the card's own when
    // none is left (docs/privacy.md).
    const one = await batch.takeOrRefill("sdjwt");
    const key = one ? one.key : await deviceKey();
    const pres = await sdjwt.present(one ? await sdjwt.parse(one.credential) : card.parsed, consent.chosen(req, $("consent-claims")),
      req.request.client_id, req.request.nonce, key);
    // direct_post, or direct_post.jwt: encrypted to the verifier's key.
    const body = await (await import("/wallet/respond.js")).responseBody(req, { [req.query.id]: [pres] });
    const resp = await fetch(sameOrigin(req.request.response_uri), {
      method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body,
    });
    await consent.remember(req);
    // The desk cancelled meanwhile (the response endpoint's fixed sentence
    // for a request that is no longer open, docs/api.md §3.3).
    if (!resp.ok && reqwatch.watchable(req.uri) && (await resp.clone().json().catch(() => ({}))).error_description === "unknown, expired or answered request") return requestGone(req);
    if (!resp.ok) throw new Error(t("consent.failed", { m: await problem(resp) }));
    $("consent-result").className = "okmsg";
    $("consent-result").textContent = t("consent.done", { rp: consent.who(req) });
    pendingRequest = null;
    // Same device: the response endpoint names where the citizen goes on
    // (OpenID4VP redirect_uri); offer it, on the verifier's own origin only.
    showReturn(req.request.response_uri, consent.who(req), await resp.json().catch(() => ({})));
  } catch (e) {
    $("consent-result").className = "error";
    $("consent-result").textContent = e.message;
  }
}

// declineRequest tells the verifier the citizen said no (an OpenID4VP
// error response, access_denied), so a desk stops waiting, and goes back
// to the card.
function declineRequest() {
  const req = pendingRequest;
  pendingRequest = null;
  reqwatch.stop();
  const r = req && req.request;
  if (r && r.response_uri) {
    const body = new URLSearchParams({ error: "access_denied" });
    if (r.state) body.set("state", r.state);
    fetch(sameOrigin(r.response_uri), { method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" }, body }).catch(() => {});
  }
  showCard();
}

function showReturn(responseURI, rpName, answer) {
  const a = $("consent-return");
  a.hidden = true;
  let u;
  try { u = new URL(answer.redirect_uri, ORIGIN); } catch (e) { return; }
  if (!/^https?:$/.test(u.protocol) || u.origin !== new URL(responseURI, ORIGIN).origin) return;
  a.href = u.href;
  a.textContent = t("consent.return", { rp: rpName });
  a.hidden = false;
  a.focus();
}

async function startScan() {
  const v = $("scanner");
  v.hidden = false;
  scanAbort = new AbortController();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    v.srcObject = stream;
    await v.play();
    // The codes the wallet reads (a desk's request, a login page's link)
    // are small: jsQR (257 KB) reads them, no need for zxing-cpp (1 MB).
    const text = await scanQR(v, scanAbort.signal, "jsqr");
    await openLink(text);
  } catch (e) {
    if (e.name !== "AbortError") fail(t("err.camera"));
  } finally {
    closeMedia(stream);
    v.hidden = true;
  }
}

// ---------- authenticated citizen calls: a fresh card presentation ----------
async function cardAuth(path) {
  const card = await loadCard();
  if (!card) throw new Error(t("home.none"));
  const nonce = (await (await api("/api/wallet/nonce", { method: "POST" })).json()).nonce;
  const key = await deviceKey();
  const pres = await sdjwt.present(card.parsed, ["id_number", "personal_administrative_number"], ORIGIN + "/api/wallet", nonce, key);
  return { Authorization: "Card " + pres };
}

async function showHistory() {
  show("history");
  fail("");
  const rows = $("history-rows");
  rows.replaceChildren();
  try {
    const resp = await api("/api/wallet/history", { headers: await cardAuth() });
    const h = await resp.json();
    const list = h.disclosures || [];
    $("history-none").hidden = list.length + (h.accesses || []).length > 0;
    for (const d of list) {
      const tr = document.createElement("tr");
      const when = document.createElement("td");
      when.textContent = new Date(d.at).toLocaleString(i18n.current() === "zh" ? "zh-CN" : "en");
      const who = document.createElement("td");
      who.textContent = d.rp_name || d.rp;
      const what = document.createElement("td");
      what.textContent = (d.claims || []).map(i18n.claimLabel).join(", ");
      tr.append(when, who, what);
      tr.dataset.channel = d.channel || "";
      tr.dataset.at = d.at;
      rows.appendChild(tr);
    }
    // The authority's own accesses (operators), in their own module.
    (await import("/wallet/accesses.js")).renderAccesses(h.accesses || [], rows);
  } catch (e) {
    fail(e.message);
  }
}

async function suspend() {
  if (!confirm(t("settings.confirm"))) return;
  try {
    await api("/api/wallet/suspend", { method: "POST", headers: await cardAuth() });
    $("settings-result").className = "okmsg";
    $("settings-result").textContent = t("settings.suspended");
  } catch (e) {
    $("settings-result").className = "error";
    $("settings-result").textContent = e.message;
  }
}

async function reenroll() {
  if (!confirm(t("settings.reenroll.confirm"))) return;
  await kv.del("card");
  await kv.del("pending");
  await kv.del("revocation_code");
  await batch.clear();
  await gate.forget();
  await newDeviceKey();
  $("tabs").hidden = true;
  show("enroll");
}

// ---------- start ----------

// openLinked opens the request of a link into the wallet, if the address
// holds one: the verifier page links here with ?request_uri=, the OpenID
// Provider's same-device login with #/approve?request_uri=. It reports
// whether there was one.
async function openLinked() {
  const here = new URL(location.href);
  const hash = location.hash.startsWith("#/approve?") ? new URLSearchParams(location.hash.slice(10)) : null;
  const ru = here.searchParams.get("request_uri") || (hash && hash.get("request_uri"));
  if (!ru) return false;
  const cid = here.searchParams.get("client_id") || (hash && hash.get("client_id")) || "";
  history.replaceState(null, "", "/wallet/");
  await showCard();
  await openLink("openid4vp://?" + (cid ? "client_id=" + encodeURIComponent(cid) + "&" : "") + "request_uri=" + encodeURIComponent(ru));
  return true;
}

async function main() {
  i18n.init();
  i18n.onChange(() => {
    if (document.body.dataset.view === "card") showCard();
    if (!$("attempts-left").hidden) showAttempts(Number($("attempts-left").dataset.n));
  });
  $("go-enroll").addEventListener("click", () => show("enroll"));
  $("enroll-form").addEventListener("submit", startEnrollment);
  $("record").addEventListener("click", recordAndSubmit);
  $("retry").addEventListener("click", () => { fail(""); show("enroll"); });
  $("challenge-cancel").addEventListener("click", cancelChallenge);
  $("scan-form").addEventListener("submit", (e) => { e.preventDefault(); openLink($("scan-url").value); });
  $("scan-camera").addEventListener("click", startScan);
  $("consent-approve").addEventListener("click", approve);
  $("consent-deny").addEventListener("click", declineRequest);
  $("suspend").addEventListener("click", suspend);
  $("reenroll").addEventListener("click", reenroll);
  $("revocation-ack").addEventListener("click", ackRevocationCode);
  $("get-code").addEventListener("click", getRevocationCode);
  qrview.wire($("qrbox"), $("qr-full"), $("qr-close"));
  $("qr-show").addEventListener("click", () => unlockQR());
  document.querySelectorAll("#tabs button").forEach((b) => b.addEventListener("click", () => {
    const v = b.dataset.view;
    if (v === "card") showCard();
    else if (v === "history") showHistory();
    else show(v);
  }));
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/wallet/sw.js", { scope: "/wallet/" }).catch(() => {});
  // A link opened into the wallet while it is already open in this tab
  // changes only the fragment: no reload, so answer the hashchange.
  window.addEventListener("hashchange", () => { openLinked(); });
  if (await openLinked()) return;
  if (await kv.get("pending")) return showChallenge();
  await showCard();
  document.body.dataset.ready = "1";
}

main().finally(() => { document.body.dataset.ready = "1"; });
