// The authority's side of "who saw my data": every operator access to the
// citizen's record and cards (office, when, what, why; the operator's
// badge, or name where the authority's policy shows names), listed with
// the relying-party disclosures. Each access is also committed to the
// transparency log as a keyed digest; the row keeps the leaf index so the
// citizen (or a tool) can check it.
import * as i18n from "/web/i18n.js";
import "/web/accountability.js";
import { b64u, unb64u, utf8 } from "/web/b64.js";

const t = i18n.t;

// describe turns "cards.status:revoked:requested" into words.
function describe(a) {
  const [perm, status, phase] = String(a.action || "").split(":");
  let s = t("access." + perm);
  if (s === "access." + perm) s = perm;
  if (status) s += " → " + status;
  if (a.batch) s = t("access.batch", { what: t("access." + perm), batch: a.batch });
  const parts = [s];
  if (phase === "requested") parts.push(t("access.requested"));
  if (a.approved_by) parts.push(t("access.approved", { who: a.approved_by }));
  return parts.join("; ");
}

function reasonText(r) {
  return String(r || "").split(";").map((p) => p.trim()).filter(Boolean).map((p) => {
    const [k, v] = p.split("=");
    if (k === "purpose") {
      const s = t("access.purpose." + v);
      return s === "access.purpose." + v ? v : s;
    }
    return k === "case" ? t("access.case", { n: v }) : p;
  }).join(", ");
}

i18n.add({
  "access.checked": "✓ in the public log (entry #{n})",
  "access.mismatch": "✗ does not match the public log (entry #{n})",
}, {
  "access.checked": "✓已记入公开日志（第 {n} 条）",
  "access.mismatch": "✗ 与公开日志不符（第 {n} 条）",
});

// goJSON is JSON as Go's encoding/json writes it (it escapes <, > and &).
const goJSON = (v) => JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));

// digest recomputes the keyed digest the access's log leaf must carry:
// HMAC-SHA256(key, "shenfen access v2" 0 subject 0 JSON(public part) 0 private_digest).
export async function digest(a) {
  const pub = { at: a.at, kind: a.kind };
  if (a.badge) pub.badge = a.badge;
  pub.office = a.office;
  pub.action = a.action;
  for (const k of ["reason", "approval", "approved_by", "batch"]) if (a[k]) pub[k] = a[k];
  const parts = [utf8("shenfen access v2\0" + a.subject + "\0"), utf8(goJSON(pub)), utf8("\0" + a.private_digest)];
  const msg = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { msg.set(p, o); o += p.length; }
  const key = await crypto.subtle.importKey("raw", unb64u(a.key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return b64u(await crypto.subtle.sign("HMAC", key, msg));
}

// check compares an access with its leaf in the public log and marks the row.
async function check(a, cell) {
  const mark = document.createElement("div");
  mark.className = "muted";
  try {
    const resp = await fetch(`/audit/leaf/${a.leaf_index}`, { cache: "no-store" });
    const leaf = JSON.parse(new TextDecoder().decode(unb64u((await resp.json()).leaf_input)));
    const ok = resp.ok && (leaf.type === "access" || leaf.type === "batch") && leaf.digest === await digest(a);
    mark.textContent = t(ok ? "access.checked" : "access.mismatch", { n: a.leaf_index });
    cell.closest("tr").dataset.checked = ok ? "ok" : "mismatch";
  } catch (e) {
    return; // offline: nothing shown, nothing claimed
  }
  cell.appendChild(mark);
}

// renderAccesses adds one row per access to the history table body, then
// orders every row (disclosures carry data-at too) newest first.
export function renderAccesses(accesses, rows) {
  const locale = i18n.current() === "zh" ? "zh-CN" : "en";
  for (const a of accesses) {
    const tr = document.createElement("tr");
    tr.className = "access";
    tr.dataset.at = a.at;
    tr.dataset.leaf = String(a.leaf_index);
    const when = document.createElement("td");
    when.textContent = new Date(a.at).toLocaleString(locale);
    const who = document.createElement("td");
    const by = a.kind === "machine" ? t("access.machine") : (a.name || (a.badge ? t("access.badge", { badge: a.badge }) : ""));
    who.textContent = t("access.by", { office: a.office }) + (by ? " (" + by + ")" : "");
    const what = document.createElement("td");
    what.textContent = describe(a);
    if (a.reason) {
      const why = document.createElement("div");
      why.className = "muted";
      why.textContent = t("access.reason", { reason: reasonText(a.reason) });
      what.appendChild(why);
    }
    what.title = t("access.leaf", { n: a.leaf_index });
    tr.append(when, who, what);
    rows.appendChild(tr);
    check(a, what);
  }
  const sorted = [...rows.children].sort((x, y) => String(y.dataset.at || "").localeCompare(String(x.dataset.at || "")));
  rows.replaceChildren(...sorted);
}
