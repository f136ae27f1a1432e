// The identity authority's console. A named operator signs in with their
// own sign-in name and secret (POST /admin/session, CSRF double-submit),
// then every call goes through /admin/console/api/... with the session
// cookie (HttpOnly, SameSite=Strict) and the session's CSRF token in
// X-CSRF-Token; the server acts as that operator. Reading a citizen's
// record or changing a card carries the reason chosen here (Shenfen-Reason
// header), and the citizen sees it in the wallet's history. Revoking a card
// or cancelling a record waits for a second operator (the approvals
// panel). Panels show only what the operator's roles allow. Charts are SVG
// drawn here (no chart library).
import * as i18n from "/web/i18n.js";
import "/web/accountability.js";

const t = i18n.t;
// The record's field names and coded values, in the operator's language.
i18n.add({
  "admin.field.id_number": "ID number", "admin.field.name": "Name", "admin.field.sex": "Sex",
  "admin.field.birth_date": "Date of birth", "admin.field.ethnicity": "Ethnicity", "admin.field.address": "Address",
  "admin.field.authority": "Issuing authority", "admin.field.valid_from": "Valid from", "admin.field.valid_until": "Valid until",
  "admin.field.status": "Record status", "admin.field.updated_at": "Updated",
  "admin.value.male": "male", "admin.value.female": "female", "admin.value.valid": "valid",
  "admin.value.cancelled": "cancelled", "admin.value.deceased": "deceased",
}, {
  "admin.field.id_number": "公民身份号码", "admin.field.name": "姓名", "admin.field.sex": "性别",
  "admin.field.birth_date": "出生日期", "admin.field.ethnicity": "民族", "admin.field.address": "住址",
  "admin.field.authority": "签发机关", "admin.field.valid_from": "有效期起", "admin.field.valid_until": "有效期至",
  "admin.field.status": "记录状态", "admin.field.updated_at": "更新时间",
  "admin.value.male": "男", "admin.value.female": "女", "admin.value.valid": "有效",
  "admin.value.cancelled": "已注销", "admin.value.deceased": "已死亡",
});
const $ = (id) => document.getElementById(id);
let csrf = "";
let mode = "operator";
let perms = [];

i18n.add({
  "ops.operator": "Operator sign-in name", "ops.secret": "Secret",
  "ops.whoami": "Signed in: {name} ({badge}), {office}. Roles: {roles}.",
  "ops.reason": "Reason for this access", "ops.purpose": "Purpose", "ops.purpose.choose": "— choose —",
  "ops.case": "Case number", "ops.reason.intro": "The citizen sees who looked at their record, when and why.",
  "ops.reason.missing": "Choose a purpose or enter a case number first.",
  "ops.approvals": "Awaiting a second officer", "ops.approvals.intro": "Card revocations and record cancellations take effect only when a second operator approves. You cannot approve your own requests.",
  "ops.approval.when": "Requested", "ops.approval.who": "By", "ops.approval.what": "Change", "ops.approval.why": "Reason",
  "ops.approve": "Approve", "ops.reject": "Reject", "ops.approvals.none": "Nothing awaits approval.",
  "ops.pending": "Requested: waits for a second operator's approval (request {id}).",
  "ops.done": "Done.",
}, {
  "ops.operator": "操作员登录名", "ops.secret": "密码",
  "ops.whoami": "已登录：{name}（{badge}），{office}。角色：{roles}。",
  "ops.reason": "查询事由", "ops.purpose": "用途", "ops.purpose.choose": "— 请选择 —",
  "ops.case": "案号", "ops.reason.intro": "公民可以看到谁在何时、因何查看了其信息。",
  "ops.reason.missing": "请先选择用途或填写案号。",
  "ops.approvals": "待复核", "ops.approvals.intro": "作废证件、注销户籍须经第二名操作员批准后生效。不能批准自己的申请。",
  "ops.approval.when": "申请时间", "ops.approval.who": "申请人", "ops.approval.what": "变更", "ops.approval.why": "事由",
  "ops.approve": "批准", "ops.reject": "驳回", "ops.approvals.none": "暂无待复核事项。",
  "ops.pending": "已提交：待第二名操作员批准（申请 {id}）。",
  "ops.done": "已完成。",
});

// reason is the Shenfen-Reason header for an access to a citizen's data,
// or "" when the operator gave none.
function reason() {
  const p = $("reason-purpose").value;
  const c = $("reason-case").value.trim();
  return [p && "purpose=" + p, c && "case=" + c].filter(Boolean).join("; ");
}

// personal calls the API with the reason; it answers a missing reason
// itself (the server refuses one too).
async function personal(path, opts = {}) {
  const r = reason();
  if (!r) throw new Error(t("ops.reason.missing"));
  return call(path, { ...opts, headers: { ...(opts.headers || {}), "Shenfen-Reason": r } });
}

const can = (p) => perms.includes(p);

function fail(msg) {
  $("status").textContent = msg || "";
  $("status").hidden = !msg;
}

async function detail(resp) {
  try {
    const j = await resp.json();
    return j.detail || j.title || String(resp.status);
  } catch (e) {
    return String(resp.status);
  }
}

async function call(path, opts = {}) {
  const headers = { "X-CSRF-Token": csrf, ...(opts.headers || {}) };
  if (opts.json !== undefined) {
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(opts.json);
  }
  const resp = await fetch("/admin/console/api/" + path, { ...opts, headers, credentials: "same-origin", cache: "no-store" });
  if (resp.status === 401) { signedOut(); throw new Error(await detail(resp)); }
  return resp;
}

async function session() {
  const s = await (await fetch("/admin/session", { credentials: "same-origin", cache: "no-store" })).json();
  csrf = s.csrf;
  mode = s.mode || "token";
  $("signin-operator").hidden = mode !== "operator";
  $("signin-token").hidden = mode === "operator";
  return s.signed_in;
}

function signedOut() {
  $("console").hidden = true;
  $("signout").hidden = true;
  $("signin").hidden = false;
  session();
}

async function signedIn() {
  $("signin").hidden = true;
  $("signout").hidden = false;
  const w = await (await call("whoami")).json();
  perms = w.permissions || [];
  const p = w.principal || {};
  $("whoami").textContent = t("ops.whoami", { name: p.name || p.id, badge: p.badge || "-", office: p.office || "-", roles: (p.roles || []).join(", ") });
  const sel = $("reason-purpose");
  sel.replaceChildren(sel.options[0]);
  for (const purpose of w.purposes || []) {
    const o = document.createElement("option");
    o.value = purpose;
    const k = "access.purpose." + purpose;
    o.textContent = t(k) === k ? purpose : t(k);
    sel.appendChild(o);
  }
  document.querySelectorAll("[data-perm]").forEach((el) => { el.hidden = !can(el.dataset.perm); });
  $("console").hidden = false;
  document.body.dataset.signedIn = "1";
  if (can("rps.read")) loadRPs();
  if (can("rps.read")) import("/admin/console/verifiers.js").then((m) => m.load({ call, detail, can })); // the verifier registry
  if (can("stats.read")) loadStats();
  if (can("approvals.read")) loadApprovals();
}

async function signIn(ev) {
  ev.preventDefault();
  fail("");
  const resp = await fetch("/admin/session", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify(mode === "operator" ? { operator: $("operator").value.trim(), secret: $("secret").value } : { token: $("token").value }),
  });
  $("token").value = "";
  $("secret").value = "";
  if (!resp.ok) {
    fail(await detail(resp));
    await session();
    return;
  }
  csrf = (await resp.json()).csrf;
  signedIn();
}

async function signOut() {
  await fetch("/admin/session", { method: "DELETE", credentials: "same-origin", headers: { "X-CSRF-Token": csrf } });
  signedOut();
}

// ---------- registry ----------
async function search(ev) {
  ev.preventDefault();
  const id = $("search-id").value.trim().toUpperCase();
  $("record-msg").textContent = "";
  let resp;
  try {
    resp = await personal("registry/" + encodeURIComponent(id));
  } catch (e) {
    $("record-msg").textContent = e.message;
    return;
  }
  if (resp.status === 404) {
    $("record").hidden = true;
    $("record-msg").textContent = t("admin.notfound");
    return;
  }
  if (!resp.ok) { $("record-msg").textContent = await detail(resp); return; }
  const r = await resp.json();
  const dl = $("record-fields");
  dl.replaceChildren();
  for (const k of ["id_number", "name", "sex", "birth_date", "ethnicity", "address", "authority", "valid_from", "valid_until", "status", "updated_at"]) {
    if (r[k] === undefined || r[k] === "") continue;
    const dt = document.createElement("dt");
    dt.textContent = t("admin.field." + k);
    dt.dataset.field = k;
    const dd = document.createElement("dd");
    const v = t("admin.value." + r[k]);
    dd.textContent = v === "admin.value." + r[k] ? r[k] : v;
    dl.append(dt, dd);
  }
  $("record-status-value").value = r.status;
  $("record").hidden = false;
  $("record").dataset.id = r.id_number;
  if (can("cards.read")) await loadCards(r.id_number);
}

// ---------- a citizen's cards: suspend, revoke, reinstate ----------
// GET registry/{id}/cards lists them; POST cards/{card}/status changes one
// through the status service (logged with "by": "authority").
async function loadCards(id) {
  const resp = await personal(`registry/${encodeURIComponent(id)}/cards`);
  const body = $("cards");
  body.replaceChildren();
  if (!resp.ok) {
    $("cards-table").hidden = true;
    $("cards-msg").textContent = await detail(resp);
    return;
  }
  const cards = (await resp.json()).cards || [];
  $("cards-table").hidden = cards.length === 0;
  $("cards-msg").textContent = cards.length === 0 ? t("admin.cards.none") : "";
  for (const c of cards) {
    const tr = document.createElement("tr");
    tr.dataset.card = c.id;
    tr.dataset.status = c.status;
    const device = c.device.length > 12 ? c.device.slice(0, 12) + "…" : c.device;
    for (const v of [c.id.slice(0, 8), c.state, c.status, new Date(c.issued_at).toLocaleString(i18n.current() === "zh" ? "zh-CN" : "en"), device]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    tr.children[0].title = c.id;
    tr.children[4].title = c.device;
    const actions = document.createElement("td");
    const active = c.state === "active";
    const can = { suspended: active && c.status === "valid", valid: active && c.status === "suspended", revoked: c.state !== "revoked" };
    for (const [next, label] of [["suspended", "admin.card.suspend"], ["valid", "admin.card.reinstate"], ["revoked", "admin.card.revoke"]]) {
      if (!can[next] || !perms.includes("cards.status")) continue;
      const b = document.createElement("button");
      b.type = "button";
      b.className = next === "revoked" ? "danger" : "secondary";
      b.textContent = t(label);
      b.setAttribute("aria-label", t(label) + " " + t("admin.card.id") + " " + c.id);
      b.dataset.next = next;
      b.addEventListener("click", () => setCard(id, c.id, next));
      actions.appendChild(b);
    }
    tr.appendChild(actions);
    body.appendChild(tr);
  }
}

async function setCard(id, card, next) {
  if (next === "revoked" && !confirm(t("admin.card.confirm.revoke"))) return;
  if (next === "valid" && !confirm(t("admin.card.confirm.reinstate"))) return;
  let resp;
  try {
    resp = await personal(`cards/${encodeURIComponent(card)}/status`, { method: "POST", json: { status: next } });
  } catch (e) {
    $("cards-msg").textContent = e.message;
    return;
  }
  if (!resp.ok) {
    $("cards-msg").textContent = await detail(resp);
    return;
  }
  const r = await resp.json();
  if (resp.status === 202) {
    $("cards-msg").textContent = t("ops.pending", { id: r.approval });
    if (can("approvals.read")) loadApprovals();
    return;
  }
  await loadCards(id);
  $("cards-msg").textContent = t("admin.card.done", { id: card.slice(0, 8), prev: r.previous, status: r.status });
}

async function setRecordStatus(ev) {
  ev.preventDefault();
  const id = $("record").dataset.id;
  let resp;
  try {
    resp = await personal(`registry/${encodeURIComponent(id)}/status`, { method: "POST", json: { status: $("record-status-value").value } });
  } catch (e) {
    $("record-msg").textContent = e.message;
    return;
  }
  $("record-msg").textContent = await outcome(resp);
  if (resp.status === 202 && can("approvals.read")) loadApprovals();
}

// outcome is the message for a change's answer: saved, pending approval, or the problem.
async function outcome(resp) {
  if (!resp.ok) return detail(resp);
  if (resp.status === 202) return t("ops.pending", { id: (await resp.json()).approval });
  return t("admin.saved");
}

// ---------- four eyes ----------
async function loadApprovals() {
  const resp = await call("approvals");
  if (!resp.ok) { $("approvals-msg").textContent = await detail(resp); return; }
  const list = (await resp.json()).approvals || [];
  $("approvals-msg").textContent = list.length ? "" : t("ops.approvals.none");
  $("approvals").replaceChildren(...list.map((a) => {
    const tr = document.createElement("tr");
    for (const v of [new Date(a.created_at).toLocaleString(i18n.current() === "zh" ? "zh-CN" : "en"), a.requester + ", " + a.office, a.method + " " + a.path + " (" + a.action + ")", a.reason]) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    const actions = document.createElement("td");
    for (const [verb, label, cls] of [["approve", "ops.approve", "danger"], ["reject", "ops.reject", "secondary"]]) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = cls;
      b.textContent = t(label);
      b.addEventListener("click", async () => {
        const r = await call(`approvals/${encodeURIComponent(a.id)}/${verb}`, { method: "POST" });
        $("approvals-msg").textContent = r.ok ? t("ops.done") : await detail(r);
        loadApprovals();
      });
      actions.appendChild(b);
    }
    tr.appendChild(actions);
    return tr;
  }));
}

async function setCardStatus(ev) {
  ev.preventDefault();
  let resp;
  try {
    resp = await personal("status", { method: "POST", json: { uri: $("card-uri").value.trim(), idx: Number($("card-idx").value), status: $("card-value").value } });
  } catch (e) {
    $("card-msg").textContent = e.message;
    return;
  }
  $("card-msg").textContent = await outcome(resp);
}

// ---------- relying parties ----------
async function loadRPs() {
  const resp = await call("rps");
  if (!resp.ok) return;
  const list = (await resp.json()).rps || [];
  $("rps").replaceChildren(...list.map((rp) => {
    const tr = document.createElement("tr");
    for (const v of [rp.client_id, rpText(rp.name), rp.claims]) {
      const td = document.createElement("td");
      td.textContent = v || "";
      tr.appendChild(td);
    }
    return tr;
  }));
}

// rpText is a registration's text in the console's language, else the
// other (a relying party registered when names had one language).
function rpText(t) {
  if (!t || typeof t !== "object") return t || "";
  return (i18n.current() === "zh" ? t.zh || t.en : t.en || t.zh) || "";
}

async function addRP(ev) {
  ev.preventDefault();
  const spec = {
    name: { zh: $("rp-name-zh").value.trim(), en: $("rp-name-en").value.trim() },
    redirect_uris: $("rp-redirect").value.split(/\s+/).filter(Boolean),
    claims: $("rp-claims").value.trim(),
  };
  if ($("rp-id").value.trim()) spec.client_id = $("rp-id").value.trim();
  const purpose = { zh: $("rp-purpose-zh").value.trim(), en: $("rp-purpose-en").value.trim() };
  if (purpose.zh || purpose.en) spec.purpose = purpose;
  const resp = await call("rps", { method: "POST", json: spec });
  if (!resp.ok) { $("rp-msg").textContent = await detail(resp); return; }
  const rp = await resp.json();
  // The secret is shown once, here, for the operator to hand over.
  $("rp-msg").textContent = t("admin.saved") + (rp.client_secret ? " client_secret: " + rp.client_secret : "");
  $("rp-add").reset();
  loadRPs();
}

// ---------- statistics (SVG charts) ----------
const SVG = "http://www.w3.org/2000/svg";
function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// barChart draws labelled horizontal bars; rows: [{label, value, bad}].
export function barChart(title, rows) {
  const w = 420, rowH = 24, left = 150, top = 24;
  const h = top + rows.length * rowH + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const svg = el("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": title });
  svg.appendChild(el("title", {}, title));
  svg.appendChild(el("text", { x: 0, y: 14, "font-weight": "700" }, title));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const bw = Math.round(((w - left - 50) * r.value) / max);
    svg.appendChild(el("text", { x: left - 6, y: y + 15, "text-anchor": "end" }, r.label));
    svg.appendChild(el("rect", { x: left, y: y + 3, width: Math.max(bw, 1), height: rowH - 8, class: "bar" + (r.bad ? " bad" : "") }));
    svg.appendChild(el("text", { x: left + bw + 4, y: y + 15 }, String(r.value)));
  });
  return svg;
}

async function loadStats() {
  const resp = await call("enrollments/stats");
  if (!resp.ok) {
    $("chart-outcomes").replaceChildren();
    $("chart-latency").replaceChildren();
    $("stats-note").textContent = t("admin.stats.none");
    return;
  }
  const s = await resp.json();
  const outcomes = [{ label: t("admin.stats.approved"), value: s.approved || 0 }];
  for (const [reason, n] of Object.entries(s.refused_by_reason || {})) outcomes.push({ label: t("admin.stats.refused") + ": " + reason, value: n, bad: true });
  $("chart-outcomes").replaceChildren(barChart(t("admin.stats"), outcomes));
  const lat = s.latency_ms || {};
  $("chart-latency").replaceChildren(barChart(t("admin.stats.latency"),
    ["p50", "p90", "p99"].filter((k) => lat[k] !== undefined).map((k) => ({ label: k, value: Math.round(lat[k]) }))));
  $("stats-note").textContent = "";
}

async function main() {
  i18n.init();
  $("signin").addEventListener("submit", signIn);
  $("signout").addEventListener("click", signOut);
  $("search").addEventListener("submit", search);
  $("record-status").addEventListener("submit", setRecordStatus);
  $("card-status").addEventListener("submit", setCardStatus);
  $("rp-add").addEventListener("submit", addRP);
  if (await session()) signedIn();
  else signedOut();
  document.body.dataset.ready = "1";
}

main();
