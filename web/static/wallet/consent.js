// The wallet's consent screen for a verifier's request: fetch the request
// object, check it (request.js: signature, chain to the authority's root,
// client_id against the certificate, the registration, entitlements,
// replay), then show who asks (the registered name and logo, the purpose),
// and every claim asked with the card's exact value; optional claims have
// a tick box the citizen may clear. A refused request gets a message that
// says why in the citizen's language.
import * as i18n from "/web/i18n.js";
import * as kv from "/web/idb.js";
import { checkRequest, loadRoot, Refused } from "/wallet/request.js";

const t = i18n.t;

i18n.add({
  "consent.purpose": "Purpose: {p}",
  "consent.via": "{rp}, through {v}",
  "consent.optional": "optional",
  "consent.none": "(not on your card)",
  "consent.yes": "yes", "consent.no": "no",
  "consent.portrait": "your portrait",
  "refused.malformed": "This is not a signed request from a verifier: it was not shared.",
  "refused.signature": "The request's signature does not verify: it was not shared.",
  "refused.untrusted": "The asker's certificate was not issued by the identity authority: it was not shared.",
  "refused.client-id": "The asker's name does not match its certificate: it was not shared.",
  "refused.response-uri": "The request would send your data to a place its certificate does not cover: it was not shared.",
  "refused.unregistered": "This verifier is not registered with the identity authority: it was not shared.",
  "refused.over-asking": "This verifier asks for more than it is registered for ({m}): it was not shared.",
  "refused.expired": "This request has expired: ask for a new code.",
  "refused.replay": "This request was answered already: ask for a new code.",
  "refused.unsupported": "This wallet cannot answer this request ({m}).",
}, {
  "consent.purpose": "用途：{p}",
  "consent.via": "{rp}（通过 {v}）",
  "consent.optional": "可选",
  "consent.none": "（证件上没有）",
  "consent.yes": "是", "consent.no": "否",
  "consent.portrait": "您的照片",
  "refused.malformed": "这不是核验方签名的请求：未提供任何信息。",
  "refused.signature": "请求的签名无法验证：未提供任何信息。",
  "refused.untrusted": "请求方的证书不是发证机关签发的：未提供任何信息。",
  "refused.client-id": "请求方的名称与其证书不符：未提供任何信息。",
  "refused.response-uri": "该请求会把信息发往其证书未覆盖的地址：未提供任何信息。",
  "refused.unregistered": "该核验方未在发证机关登记：未提供任何信息。",
  "refused.over-asking": "该核验方请求的信息超出其登记范围（{m}）：未提供任何信息。",
  "refused.expired": "该请求已过期：请重新获取二维码。",
  "refused.replay": "该请求已经回应过：请重新获取二维码。",
  "refused.unsupported": "本钱包无法回应该请求（{m}）。",
});

let root = null;

async function getJSON(path) {
  const r = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.json();
}

// answered is the replay memory: client_id + nonce -> expiry (ms).
async function answered() {
  const m = (await kv.get("answered-requests")) || {};
  const now = Date.now();
  for (const [k, until] of Object.entries(m)) if (until < now) delete m[k];
  return m;
}

// open fetches the request at requestURI (a path on this origin) and checks
// it; outerClientID is the link's client_id. It throws Refused.
export async function open(requestURI, outerClientID) {
  const resp = await fetch(requestURI, { cache: "no-store", headers: { Accept: "application/oauth-authz-req+jwt" } });
  if (!resp.ok) throw new Refused("expired", "the request is unknown or has expired");
  const ct = resp.headers.get("Content-Type") || "";
  if (!ct.startsWith("application/oauth-authz-req+jwt")) throw new Refused("malformed", "the request is not a signed request object");
  const object = await resp.text();
  if (!root) root = await loadRoot(await getJSON("/trust-list"));
  const seenMap = await answered();
  const checked = await checkRequest(object, {
    root, outerClientID,
    lookup: (hash) => getJSON("/api/verifiers/" + encodeURIComponent(hash)),
    seen: async (k) => k in seenMap,
  });
  if (checked.query.format !== "dc+sd-jwt") throw new Refused("unsupported", checked.query.format);
  return checked;
}

// remember marks a request answered (until it expires).
export async function remember(checked) {
  const m = await answered();
  m[checked.request.client_id + " " + checked.request.nonce] = checked.request.exp * 1000;
  await kv.set("answered-requests", m);
}

// message is the citizen's words for an error of open.
export function message(e) {
  if (e instanceof Refused) return t("refused." + e.code, { m: e.message });
  return t("err.generic", { m: e.message });
}

const local = (text) => (text && (i18n.current() === "zh" ? text.zh || text.en : text.en || text.zh)) || "";

// signIn is the relying party's registered name and purpose the provider's
// signed sign-in request carries (client_metadata: client_name#zh-CN and
// #en, purpose#zh-CN and #en), or null for any other request.
function signIn(checked) {
  const m = checked.verifier.kind === "sign-in" && checked.request.client_metadata;
  if (!m) return null;
  const str = (k) => (typeof m[k] === "string" ? m[k] : "");
  return {
    name: local({ zh: str("client_name#zh-CN"), en: str("client_name#en") }) || str("client_name"),
    purpose: local({ zh: str("purpose#zh-CN"), en: str("purpose#en") }),
  };
}

// who names the asker: the registered name (for the provider's sign-in, the
// relying party it signs in to, named in the signed request, in the
// citizen's language).
export function who(checked) {
  const v = local(checked.verifier.name);
  const s = signIn(checked);
  return s && s.name ? t("consent.via", { rp: s.name, v }) : v;
}

// purpose is why the asker asks: for a sign-in the relying party's
// registered purpose, else (or when it registered none) the verifier's.
export function purposeOf(checked) {
  const s = signIn(checked);
  return (s && s.purpose) || local(checked.verifier.purpose);
}

function valueAt(claims, path) {
  let v = claims;
  for (const p of path) {
    if (v == null || typeof v !== "object") return undefined;
    v = v[p];
  }
  return v;
}

function valueNode(v) {
  if (typeof v === "string" && v.startsWith("data:image/")) {
    const img = document.createElement("img");
    img.src = v;
    img.alt = t("consent.portrait");
    img.className = "consent-portrait";
    return img;
  }
  const span = document.createElement("span");
  span.className = "consent-value";
  if (v === undefined) span.textContent = t("consent.none");
  else if (typeof v === "boolean") span.textContent = t(v ? "consent.yes" : "consent.no");
  else if (v && typeof v === "object") span.textContent = v.formatted || Object.values(v).filter((x) => typeof x !== "object").join(", ");
  else span.textContent = String(v);
  return span;
}

// render fills the consent view: whoEl gets the logo, name and purpose;
// listEl one item per claim with its label and the card's value, a tick
// box for each optional one (ticked).
export function render(checked, cardClaims, whoEl, listEl) {
  const parts = [];
  if (checked.verifier.logo) {
    const img = document.createElement("img");
    img.src = checked.verifier.logo;
    img.alt = "";
    img.className = "consent-logo";
    parts.push(img);
  }
  const name = document.createElement("strong");
  name.textContent = who(checked);
  name.id = "consent-verifier";
  const purpose = document.createElement("span");
  purpose.id = "consent-purpose";
  purpose.textContent = t("consent.purpose", { p: purposeOf(checked) });
  parts.push(name, document.createElement("br"), purpose);
  whoEl.replaceChildren(...parts);
  whoEl.dataset.verifier = checked.verifier.id;
  listEl.replaceChildren(...checked.claims.map((c) => {
    const li = document.createElement("li");
    const dotted = c.path.join(".");
    li.dataset.claim = dotted;
    const label = document.createElement("span");
    label.className = "consent-label";
    label.textContent = i18n.claimLabel(dotted) + ": ";
    const v = valueAt(cardClaims, c.path);
    li.dataset.hasValue = v === undefined ? "0" : "1";
    if (c.optional) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = true;
      box.name = "share";
      box.value = dotted;
      box.setAttribute("aria-label", i18n.claimLabel(dotted) + " (" + t("consent.optional") + ")");
      li.append(box, " ");
      li.dataset.optional = "1";
    }
    li.append(label, valueNode(v));
    return li;
  }));
}

// chosen lists the dotted paths to share: every required claim and the
// optional ones still ticked.
export function chosen(checked, listEl) {
  const off = new Set([...listEl.querySelectorAll("input[name=share]")].filter((b) => !b.checked).map((b) => b.value));
  return checked.claims.map((c) => c.path.join(".")).filter((p) => !off.has(p));
}
