// The lost-phone page: a citizen whose phone is gone enters the ID number
// and the revocation code written down when the card was collected, and
// every active card of theirs is suspended (POST /api/wallet/lost). Works
// from any browser; needs neither the phone nor its key.
import * as i18n from "/web/i18n.js";

const t = i18n.t;
const $ = (id) => document.getElementById(id);

function result(kind, msg) {
  const r = $("lost-result");
  r.className = kind;
  r.textContent = msg;
}

async function submit(ev) {
  ev.preventDefault();
  const id = $("lost-id").value.trim().toUpperCase();
  const code = $("lost-code").value.trim();
  const idOK = /^[0-9]{17}[0-9X]$/.test(id);
  $("lost-id").setAttribute("aria-invalid", String(!idOK));
  $("lost-code").setAttribute("aria-invalid", String(!code));
  if (!idOK || !code) {
    result("error", t("lost.missing"));
    return;
  }
  $("lost-submit").disabled = true;
  result("", t("lost.sending"));
  try {
    let resp;
    try {
      resp = await fetch("/api/wallet/lost", {
        method: "POST", credentials: "same-origin", cache: "no-store",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ id_number: id, revocation_code: code }),
      });
    } catch (e) {
      result("error", t("err.network"));
      return;
    }
    let body = {};
    try { body = await resp.json(); } catch (e) { /* not JSON */ }
    if (resp.ok) {
      $("lost-code").value = "";
      result("okmsg", t("lost.done", { n: body.suspended || 0 }));
      document.body.dataset.result = "suspended";
      return;
    }
    const type = String(body.type || "").split("/").pop();
    const k = "lost.err." + type;
    const s = t(k);
    result("error", s === k ? t("err.generic", { m: body.detail || resp.status }) : s);
    document.body.dataset.result = type || "error";
  } finally {
    $("lost-submit").disabled = false;
  }
}

function main() {
  i18n.init();
  $("lost-form").addEventListener("submit", submit);
  document.body.dataset.ready = "1";
}

main();
