// The authority's side of "who saw my data": every operator access to the
// citizen's record and cards (office, when, what, why; the operator's
// badge, or name where the authority's policy shows names), listed with
// the relying-party disclosures. Each access is also committed to the
// transparency log as a keyed digest; the row keeps the leaf index so the
// citizen (or a tool) can check it.
import * as i18n from "/web/i18n.js";
import "/web/accountability.js";

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
  }
  const sorted = [...rows.children].sort((x, y) => String(y.dataset.at || "").localeCompare(String(x.dataset.at || "")));
  rows.replaceChildren(...sorted);
}
