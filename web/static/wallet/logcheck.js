// The card view's line about the transparency log: the wallet proves that
// its own card's issuance is in the authority's public log (/web/tlog.js)
// each time the card is shown, and says so, or says why not.
import * as i18n from "/web/i18n.js";
import * as kv from "/web/idb.js";
import { checkIssuance } from "/web/tlog.js";
import { parseB64uJSON, unb64u } from "/web/b64.js";

i18n.add({
  "log.ok": "✓ In the public transparency log: entry {i} of {n}, checked {t}.",
  "log.ok.many": "✓ In the public transparency log: entries {i} of {n} (this card in each of its forms), checked {t}.",
  "log.offline": "The transparency log could not be reached; last checked {t}.",
  "log.never": "The transparency log could not be reached; not checked yet.",
  "log.failed": "⚠ This card could not be found in the public transparency log as it should be ({why}). Contact the authority.",
  "log.checking": "Checking the public transparency log…",
}, {
  "log.ok": "✓ 已在公开透明日志中：第 {i} 条（共 {n} 条），核验于 {t}。",
  "log.ok.many": "✓ 已在公开透明日志中：第 {i} 条（共 {n} 条，此证件的各种形式各一条），核验于 {t}。",
  "log.offline": "无法连接透明日志；上次核验于 {t}。",
  "log.never": "无法连接透明日志；尚未核验。",
  "log.failed": "⚠ 在公开透明日志中未能按规定找到此证件（{why}），请联系发证机关。",
  "log.checking": "正在核验公开透明日志…",
});

// showLogCheck checks the card as the wallet stores it ({sdjwt, mdoc, qr}:
// the SD-JWT VC and, when collected, the mdoc and the compact mdoc behind
// the offline code; each issuance is a leaf of its own, all under the
// card's status entry, read from the SD-JWT's payload) and writes the
// outcome into el: data-state "ok", "offline" or "failed" (an answer that
// does not verify: a forged or forked log, a card missing from it).
export async function showLogCheck(el, stored, payload) {
  const sdjwt = stored.sdjwt;
  if (!el) return;
  const st = payload && payload.status && payload.status.status_list;
  if (!st) { el.hidden = true; return; }
  el.hidden = false;
  el.className = "muted";
  el.dataset.state = "checking";
  el.textContent = i18n.t("log.checking");
  const signed = sdjwt.split("~")[0];
  const last = await kv.get("tlog.checked");
  const when = (ms) => new Date(ms).toLocaleString();
  const forms = [{ signed, format: "dc+sd-jwt" }];
  for (const c of [stored.mdoc, stored.qr]) if (c) forms.push({ signed: unb64u(c), format: "mso_mdoc" });
  try {
    const entries = [];
    let size = 0n;
    for (const f of forms) {
      const r = await checkIssuance({ issuerSigned: f.signed, ref: st, format: f.format, store: kv });
      entries.push(String(r.leafIndex + 1n));
      if (r.treeSize > size) size = r.treeSize;
    }
    const rec = { card: signed.slice(-16), i: entries.join(", "), n: String(size), at: Date.now() };
    await kv.set("tlog.checked", rec);
    el.dataset.state = "ok";
    el.dataset.entries = String(entries.length);
    el.textContent = i18n.t(entries.length > 1 ? "log.ok.many" : "log.ok", { i: rec.i, n: rec.n, t: when(rec.at) });
  } catch (e) {
    if (e.code === "network") {
      el.dataset.state = "offline";
      const mine = last && last.card === signed.slice(-16);
      el.textContent = mine ? i18n.t("log.offline", { t: when(last.at) }) : i18n.t("log.never");
      return;
    }
    el.dataset.state = "failed";
    el.dataset.code = e.code || "error";
    el.className = "error";
    el.textContent = i18n.t("log.failed", { why: e.message });
  }
}

// checkBatch proves that a batch of single-use credentials, as one
// credential response returned them (configuration cfg, in order), is
// in the log: one "batch-issuance" event under the card's own status entry
// (/web/tlog.js). batch.js calls it before keeping a batch; it throws a
// TlogError when the log answers but does not hold the batch (the batch is
// then not kept), and lets the batch be kept when the log cannot be
// reached (the wallet may be offline; the next refill checks again).
export async function checkBatch(cfg, credentials) {
  const card = await kv.get("card");
  const payload = card && card.sdjwt ? parseB64uJSON(card.sdjwt.split("~")[0].split(".")[1]) : null;
  const st = payload && payload.status && payload.status.status_list;
  if (!st || !credentials.length) return;
  const format = cfg === "pid_sd_jwt" ? "dc+sd-jwt" : "mso_mdoc";
  const parts = credentials.map((c) => (format === "dc+sd-jwt" ? c.split("~")[0] : unb64u(c)));
  try {
    await checkIssuance({ issuerSigned: parts, ref: st, format, store: kv });
  } catch (e) {
    if (e.code !== "network") throw e;
  }
}
