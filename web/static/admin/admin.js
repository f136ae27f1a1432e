// The identity authority's console. Signs in once with the admin token
// (POST /admin/session, CSRF double-submit), then every call goes through
// /admin/console/api/... with the session cookie (HttpOnly, SameSite=Strict)
// and the session's CSRF token in X-CSRF-Token; the server adds the bearer
// token. Charts are SVG drawn here (no chart library).
import * as i18n from "/web/i18n.js";

const t = i18n.t;
const $ = (id) => document.getElementById(id);
let csrf = "";

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
  $("console").hidden = false;
  $("signout").hidden = false;
  document.body.dataset.signedIn = "1";
  loadRPs();
  loadStats();
}

async function signIn(ev) {
  ev.preventDefault();
  fail("");
  const resp = await fetch("/admin/session", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
    body: JSON.stringify({ token: $("token").value }),
  });
  $("token").value = "";
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
  const resp = await call("registry/" + encodeURIComponent(id));
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
    dt.textContent = k;
    const dd = document.createElement("dd");
    dd.textContent = r[k];
    dl.append(dt, dd);
  }
  $("record-status-value").value = r.status;
  $("record").hidden = false;
  $("record").dataset.id = r.id_number;
  await loadCards(r.id_number);
}

// ---------- a citizen's cards: suspend, revoke, reinstate ----------
// GET registry/{id}/cards lists them; POST cards/{card}/status changes one
// through the status service (logged with "by": "authority").
async function loadCards(id) {
  const resp = await call(`registry/${encodeURIComponent(id)}/cards`);
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
      if (!can[next]) continue;
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
  const resp = await call(`cards/${encodeURIComponent(card)}/status`, { method: "POST", json: { status: next } });
  if (!resp.ok) {
    $("cards-msg").textContent = await detail(resp);
    return;
  }
  const r = await resp.json();
  await loadCards(id);
  $("cards-msg").textContent = t("admin.card.done", { id: card.slice(0, 8), prev: r.previous, status: r.status });
}

async function setRecordStatus(ev) {
  ev.preventDefault();
  const id = $("record").dataset.id;
  const resp = await call(`registry/${encodeURIComponent(id)}/status`, { method: "POST", json: { status: $("record-status-value").value } });
  $("record-msg").textContent = resp.ok ? t("admin.saved") : await detail(resp);
}

async function setCardStatus(ev) {
  ev.preventDefault();
  const resp = await call("status", { method: "POST", json: { uri: $("card-uri").value.trim(), idx: Number($("card-idx").value), status: $("card-value").value } });
  $("card-msg").textContent = resp.ok ? t("admin.saved") : await detail(resp);
}

// ---------- relying parties ----------
async function loadRPs() {
  const resp = await call("rps");
  if (!resp.ok) return;
  const list = (await resp.json()).rps || [];
  $("rps").replaceChildren(...list.map((rp) => {
    const tr = document.createElement("tr");
    for (const v of [rp.client_id, rp.name, rp.claims]) {
      const td = document.createElement("td");
      td.textContent = v || "";
      tr.appendChild(td);
    }
    return tr;
  }));
}

async function addRP(ev) {
  ev.preventDefault();
  const spec = {
    name: $("rp-name").value.trim(),
    redirect_uris: $("rp-redirect").value.split(/\s+/).filter(Boolean),
    claims: $("rp-claims").value.trim(),
  };
  if ($("rp-id").value.trim()) spec.client_id = $("rp-id").value.trim();
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
