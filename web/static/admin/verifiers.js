// The console's verifier registry (docs/api.md §6.1): in-person desks and
// online verifiers, beside the relying parties. Operators who read
// relying parties (rps.read) see each verifier's names, purpose,
// entitlements and certificate (with its end date, marked when less than
// 30 days are left); those who manage them (rps.manage) register, edit,
// renew the certificate and retire. Every call goes through the console's
// session with its CSRF token (admin.js's call). The OpenID Provider's own
// sign-in registration is shown, not changed: it renews itself.
import * as i18n from "/web/i18n.js";

const t = i18n.t;
i18n.add({
  "vf.title": "Verifiers (desks and online)", "vf.intro": "Wallets show the citizen these names and this purpose before sharing anything, and refuse a verifier that asks for claims it is not entitled to, or that is not registered here.",
  "vf.id": "Id", "vf.id.optional": "Id (optional: a random one otherwise)", "vf.kind": "Kind", "vf.name": "Name", "vf.purpose": "Purpose",
  "vf.purpose.zh": "Purpose in Chinese", "vf.purpose.en": "Purpose in English",
  "vf.claims": "Entitled claims", "vf.claims.help": "Entitled claims (comma separated; a trailing ? lets the citizen leave one out)",
  "vf.cert": "Certificate", "vf.cert.until": "until {d}", "vf.cert.soon": "renew: {n} days left", "vf.cert.pem": "Certificate (PEM) for the verifier's x5c",
  "vf.kind.desk": "in-person desk", "vf.kind.online": "online verifier", "vf.kind.sign-in": "sign-in (built in)",
  "vf.dns": "Host name (online verifier)", "vf.jwk": "Public key (JWK, EC P-256; online verifier)",
  "vf.add": "Register a verifier", "vf.register": "Register", "vf.edit": "Edit", "vf.editing": "Edit {id}", "vf.save": "Save changes",
  "vf.cancel": "Cancel", "vf.renew": "Renew certificate", "vf.retire": "Retire",
  "vf.confirm.retire": "Retire {id}? Wallets refuse its requests from now on, and a desk's token stops working.",
  "vf.confirm.renew": "Issue a new certificate to {id}? Its current one stops being registered (an online verifier must use the new one at once).",
  "vf.registered": "Registered {id}.", "vf.token": "Registered {id}. Desk token (shown once, for the verifier page): {token}",
  "vf.saved": "Saved {id}.", "vf.renewed": "New certificate for {id}, valid until {d}.", "vf.retired": "Retired {id}.",
  "vf.jwk.bad": "The public key is not valid JSON.",
}, {
  "vf.title": "核验方（前台与在线）", "vf.intro": "钱包在提供任何信息之前向公民显示这些名称和用途；核验方请求未授权的信息项或未在此登记时，钱包一律拒绝。",
  "vf.id": "标识", "vf.id.optional": "标识（可选，否则随机生成）", "vf.kind": "类型", "vf.name": "名称", "vf.purpose": "用途",
  "vf.purpose.zh": "中文用途", "vf.purpose.en": "英文用途",
  "vf.claims": "授权信息项", "vf.claims.help": "授权信息项（逗号分隔；末尾加 ? 表示公民可以不提供）",
  "vf.cert": "证书", "vf.cert.until": "有效期至 {d}", "vf.cert.soon": "请续期：剩余 {n} 天", "vf.cert.pem": "证书（PEM，供核验方放入 x5c）",
  "vf.kind.desk": "现场前台", "vf.kind.online": "在线核验方", "vf.kind.sign-in": "登录（内置）",
  "vf.dns": "主机名（在线核验方）", "vf.jwk": "公钥（JWK，EC P-256；在线核验方）",
  "vf.add": "登记核验方", "vf.register": "登记", "vf.edit": "修改", "vf.editing": "修改 {id}", "vf.save": "保存修改",
  "vf.cancel": "取消", "vf.renew": "续期证书", "vf.retire": "注销",
  "vf.confirm.retire": "注销 {id}？此后钱包将拒绝其请求，前台令牌随即失效。",
  "vf.confirm.renew": "为 {id} 签发新证书？当前证书随即不再登记（在线核验方须立即改用新证书）。",
  "vf.registered": "已登记 {id}。", "vf.token": "已登记 {id}。前台令牌（仅显示一次，供核验页面使用）：{token}",
  "vf.saved": "已保存 {id}。", "vf.renewed": "已为 {id} 签发新证书，有效期至 {d}。", "vf.retired": "已注销 {id}。",
  "vf.jwk.bad": "公钥不是有效的 JSON。",
});

const $ = (id) => document.getElementById(id);
const SOON_DAYS = 30;
let api = null; // {call, detail, can} from admin.js
let editing = null; // the id being edited, or null
let list = [];

const text = (x) => (x ? (i18n.current() === "zh" ? x.zh || x.en : x.en || x.zh) || "" : "");
const day = (iso) => new Date(iso).toLocaleDateString(i18n.current() === "zh" ? "zh-CN" : "en", { year: "numeric", month: "2-digit", day: "2-digit" });

// load shows the registry; admin.js calls it once the operator is known.
export async function load(deps) {
  const first = !api;
  api = deps;
  if (first) {
    i18n.apply($("verifiers-panel")); // the panel's labels are this module's strings
    $("vf-form").addEventListener("submit", submit);
    $("vf-kind").addEventListener("change", kindChanged);
    $("vf-cancel").addEventListener("click", () => stopEditing());
    i18n.onChange(() => render());
  }
  await refresh();
}

async function refresh() {
  const resp = await api.call("verifiers");
  if (!resp.ok) { $("vf-msg").textContent = await api.detail(resp); return; }
  list = (await resp.json()).verifiers || [];
  render();
}

function cell(v) {
  const td = document.createElement("td");
  td.textContent = v;
  return td;
}

function button(label, id, cls, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = cls;
  b.textContent = t(label);
  b.setAttribute("aria-label", t(label) + " " + id);
  b.addEventListener("click", onClick);
  return b;
}

function render() {
  const manage = api && api.can("rps.manage");
  $("verifiers").replaceChildren(...list.map((v) => {
    const tr = document.createElement("tr");
    tr.dataset.verifier = v.id;
    tr.dataset.certHash = v.cert_hash;
    const left = Math.floor((new Date(v.not_after) - Date.now()) / 86400000);
    const cert = cell(t("vf.cert.until", { d: day(v.not_after) }));
    cert.title = v.client_id;
    if (left < SOON_DAYS) {
      const soon = document.createElement("strong");
      soon.textContent = " " + t("vf.cert.soon", { n: Math.max(0, left) });
      cert.appendChild(soon);
      tr.dataset.renewSoon = "1";
    }
    tr.append(cell(v.id), cell(t("vf.kind." + v.kind)), cell(text(v.name)), cell(text(v.purpose)), cell(v.claim_list), cert);
    const actions = document.createElement("td");
    if (manage && v.kind !== "sign-in") {
      actions.append(button("vf.edit", v.id, "secondary", () => startEditing(v)), " ",
        button("vf.renew", v.id, "secondary", () => renew(v)), " ",
        button("vf.retire", v.id, "danger", () => retire(v)));
    }
    tr.appendChild(actions);
    return tr;
  }));
}

function kindChanged() {
  $("vf-online").hidden = $("vf-kind").value !== "online";
}

function startEditing(v) {
  editing = v.id;
  $("vf-id").value = v.id;
  $("vf-kind").value = v.kind;
  $("vf-name-zh").value = v.name.zh;
  $("vf-name-en").value = v.name.en;
  $("vf-purpose-zh").value = v.purpose.zh;
  $("vf-purpose-en").value = v.purpose.en;
  $("vf-claims").value = v.claim_list;
  $("vf-dns").value = (v.dns_names || [])[0] || "";
  $("vf-jwk").value = "";
  for (const id of ["vf-id", "vf-kind", "vf-dns", "vf-jwk"]) $(id).disabled = true;
  kindChanged();
  $("vf-form-title").textContent = t("vf.editing", { id: v.id });
  $("vf-submit").textContent = t("vf.save");
  $("vf-cancel").hidden = false;
  $("vf-name-zh").focus();
}

function stopEditing() {
  editing = null;
  $("vf-form").reset();
  for (const id of ["vf-id", "vf-kind", "vf-dns", "vf-jwk"]) $(id).disabled = false;
  kindChanged();
  $("vf-form-title").textContent = t("vf.add");
  $("vf-submit").textContent = t("vf.register");
  $("vf-cancel").hidden = true;
}

function showCert(doc) {
  const der = doc && doc.x5c && doc.x5c[0];
  $("vf-cert").hidden = !der;
  $("vf-pem").textContent = der ? "-----BEGIN CERTIFICATE-----\n" + der.match(/.{1,64}/g).join("\n") + "\n-----END CERTIFICATE-----" : "";
}

async function submit(ev) {
  ev.preventDefault();
  const spec = {
    name: { zh: $("vf-name-zh").value.trim(), en: $("vf-name-en").value.trim() },
    purpose: { zh: $("vf-purpose-zh").value.trim(), en: $("vf-purpose-en").value.trim() },
    claims: $("vf-claims").value.trim(),
  };
  let resp;
  if (editing) {
    resp = await api.call("verifiers/" + encodeURIComponent(editing), { method: "PUT", json: spec });
  } else {
    spec.kind = $("vf-kind").value;
    if ($("vf-id").value.trim()) spec.id = $("vf-id").value.trim();
    if (spec.kind === "online") {
      spec.dns_name = $("vf-dns").value.trim();
      try { spec.jwk = JSON.parse($("vf-jwk").value); } catch (e) { $("vf-msg").textContent = t("vf.jwk.bad"); return; }
    }
    resp = await api.call("verifiers", { method: "POST", json: spec });
  }
  if (!resp.ok) { $("vf-msg").textContent = await api.detail(resp); return; }
  const doc = await resp.json();
  $("vf-msg").textContent = editing ? t("vf.saved", { id: doc.id })
    : doc.desk_token ? t("vf.token", { id: doc.id, token: doc.desk_token }) : t("vf.registered", { id: doc.id });
  showCert(editing || doc.kind !== "online" ? null : doc);
  stopEditing();
  await refresh();
}

async function renew(v) {
  if (!confirm(t("vf.confirm.renew", { id: v.id }))) return;
  const resp = await api.call("verifiers/" + encodeURIComponent(v.id) + "/certificate", { method: "POST", json: {} });
  if (!resp.ok) { $("vf-msg").textContent = await api.detail(resp); return; }
  const doc = await resp.json();
  $("vf-msg").textContent = t("vf.renewed", { id: doc.id, d: day(doc.not_after) });
  showCert(doc.kind === "online" ? doc : null);
  await refresh();
}

async function retire(v) {
  if (!confirm(t("vf.confirm.retire", { id: v.id }))) return;
  const resp = await api.call("verifiers/" + encodeURIComponent(v.id), { method: "DELETE" });
  if (!resp.ok) { $("vf-msg").textContent = await api.detail(resp); return; }
  $("vf-msg").textContent = t("vf.retired", { id: v.id });
  if (editing === v.id) stopEditing();
  await refresh();
}
