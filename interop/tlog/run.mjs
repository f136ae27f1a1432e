// The wallet half of the transparency-log test (scripts/test.d/tlog-js.sh,
// started by `go run ./interop/tlog`): the wallet's own module
// web/static/web/tlog.js, run in Node (WebCrypto Ed25519, fetch), against
// logs that package trustapi serves.
//
//   node interop/tlog/run.mjs FIXTURE.json GROW_URL
import { readFileSync } from "node:fs";
import * as tlog from "../../web/static/web/tlog.js";

const [file, growURL] = process.argv.slice(2);
const { fixture: fx, foreign_checkpoint: foreignCheckpoint } = JSON.parse(readFileSync(file, "utf8"));
let failures = 0;
function check(cond, msg) {
  if (!cond) { failures++; console.error("FAIL " + msg); } else console.log("ok   " + msg);
}
const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// A wallet's store (IndexedDB in the browser).
function memStore() {
  const m = new Map();
  return { get: async (k) => m.get(k), set: async (k, v) => { m.set(k, v); }, map: m };
}

async function code(p) {
  try { await p; return "ok"; } catch (e) {
    if (!(e instanceof tlog.TlogError)) throw e;
    return e.code;
  }
}

const args = (base, c, store, extra = {}) => ({ base, issuerSigned: c.issuer_signed, ref: { uri: c.uri, idx: c.idx }, format: c.format, store, ...extra });

// 1. Go's proofs, verified by the module's RFC 9162 verifiers.
async function proofs() {
  const p = fx.proofs;
  const roots = p.roots.map(b64);
  const leaves = await Promise.all(p.leaves.map((l) => tlog.hashLeaf(b64(l))));
  let n = 0, bad = 0;
  for (const [k, path] of Object.entries(p.inclusion)) {
    const [i, size] = k.split("/").map(BigInt);
    const hs = path.map(b64);
    await tlog.verifyInclusion(leaves[i], i, size, hs, roots[size]);
    n++;
    // Another leaf, another index, a tampered or padded path: refused.
    const other = leaves[(Number(i) + 1) % leaves.length];
    if (await code(tlog.verifyInclusion(other, i, size, hs, roots[size])) === "ok") bad++;
    if (size > 1n && await code(tlog.verifyInclusion(leaves[i], (i + 1n) % size, size, hs, roots[size])) === "ok") bad++;
    if (hs.length > 0) {
      const t = hs.map((h) => h.slice());
      t[t.length - 1][0] ^= 1;
      if (await code(tlog.verifyInclusion(leaves[i], i, size, t, roots[size])) === "ok") bad++;
      if (await code(tlog.verifyInclusion(leaves[i], i, size, [...hs, hs[0]], roots[size])) === "ok") bad++;
    }
  }
  check(bad === 0, `${n} inclusion proofs of Go verify; none verifies for another leaf, index, or a tampered or padded path`);
  n = 0; bad = 0;
  for (const [k, path] of Object.entries(p.consistency)) {
    const [s1, s2] = k.split("/").map(BigInt);
    const hs = path.map(b64);
    await tlog.verifyConsistency(s1, s2, roots[s1], roots[s2], hs);
    n++;
    if (s1 > 0n && s1 < s2) {
      if (await code(tlog.verifyConsistency(s1, s2, roots[s1 - 1n], roots[s2], hs)) === "ok") bad++; // rewritten history
      if (await code(tlog.verifyConsistency(s1, s2, roots[s1], roots[s2 - 1n], hs)) === "ok") bad++;
      if (await code(tlog.verifyConsistency(s1, s2, roots[s1], roots[s2], hs.slice(0, -1))) === "ok") bad++;
    }
  }
  check(bad === 0, `${n} consistency proofs of Go verify; none with a rewritten first root, a wrong second root or a truncated proof`);
  check(await code(tlog.verifyConsistency(5n, 4n, roots[5], roots[4], [])) === "fork", "a shrinking tree is a fork");
}

// 2. The wallet checks its cards in the real log, and follows it.
async function realLog() {
  const store = memStore();
  for (const c of fx.cards) {
    const r = await tlog.checkIssuance(args(fx.real, c, store));
    check(r.leafIndex === BigInt(c.leaf_index) && r.origin === "id.example/audit", `card ${c.idx} (${c.format}) found at leaf ${r.leafIndex} of ${r.treeSize}`);
  }
  const before = BigInt(store.map.get("tlog.checkpoint").size);
  check(typeof store.map.get("tlog.key") === "string", "the log's key is pinned");
  const grown = await fetch(growURL + "/grow", { method: "POST" });
  check(grown.status === 204, "the log grows");
  const r = await tlog.checkIssuance(args(fx.real, fx.cards[0], store));
  check(r.treeSize === before + 5n, `after growth the card is proved in the tree of ${r.treeSize}, consistent with ${before}`);
  return store;
}

// 3. Attacks.
async function attacks(store) {
  const c = fx.cards[2];
  // A fork signed with the log's own key, shown to this wallet.
  check(await code(tlog.checkIssuance(args(fx.fork, c, store))) === "fork", "a fork signed with the log's own key is refused (no consistency with the checkpoint seen)");
  // Another key under the log's name.
  check(await code(tlog.checkIssuance(args(fx.foreign, c, store))) === "key-changed", "a log under another key is refused once a key is pinned");
  const key = store.map.get("tlog.key");
  check(await code(tlog.openCheckpoint(foreignCheckpoint, key)) === "checkpoint", "a checkpoint signed by another key under the log's name is refused");
  // Edited checkpoints.
  const good = await (await fetch(fx.real + "/audit/checkpoint")).text();
  const cp = await tlog.openCheckpoint(good, key);
  const edited = good.replace("\n" + cp.size + "\n", "\n" + (cp.size + 1n) + "\n");
  check(await code(tlog.openCheckpoint(edited, key)) === "checkpoint", "an edited tree size is refused");
  const lines = good.split("\n");
  const extra = lines.slice(0, 3).join("\n") + "\nextension\n\n" + lines.slice(4).join("\n");
  check(await code(tlog.openCheckpoint(extra, key)) === "checkpoint", "an added line is refused");
  check(await code(tlog.openCheckpoint(good.replace(/\n\n.*\n$/, "\n\n"), key)) === "checkpoint", "an unsigned checkpoint is refused");
  // A card that is not in the log.
  check(await code(tlog.checkIssuance(args(fx.real, fx.missing, store))) === "not-found", "a card that was never logged is not found");
  // The log answers with another card's leaf, or another card's proof.
  const other = fx.cards[5];
  const digestOf = async (s) => {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(s)));
    return btoa(String.fromCharCode(...d)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  const [mine, theirs] = [await digestOf(c.issuer_signed), await digestOf(other.issuer_signed)];
  const swapLeaf = (url, opts) => fetch(url.includes("/audit/issuance/") ? url.replace(mine, theirs) : url, opts);
  check(await code(tlog.checkIssuance(args(fx.real, c, store, { fetch: swapLeaf }))) === "leaf", "another card's leaf is refused");
  const swapPath = async (url, opts) => {
    if (!url.includes("/audit/issuance/")) return fetch(url, opts);
    const a = await (await fetch(url, opts)).json();
    const b = await (await fetch(url.replace(mine, theirs), opts)).json();
    return new Response(JSON.stringify({ ...a, audit_path: b.audit_path }), { headers: { "Content-Type": "application/json" } });
  };
  check(await code(tlog.checkIssuance(args(fx.real, c, store, { fetch: swapPath }))) === "proof", "this card's leaf with another card's proof is refused");
  const wrongRef = { ...c, idx: c.idx + 1 };
  check(await code(tlog.checkIssuance(args(fx.real, wrongRef, store))) === "leaf", "a leaf for another status entry is refused");
  // A batch of single-use credentials, logged as one event: found in
  // order and complete; reordered, missing a credential, or with one
  // altered, it is not in the log.
  const b = fx.batch;
  const bargs = (parts) => ({ base: fx.real, issuerSigned: parts, ref: { uri: b.uri, idx: b.idx }, format: b.format, store });
  const rb = await tlog.checkIssuance(bargs(b.parts));
  check(rb.leafIndex === BigInt(b.leaf_index), `a batch of ${b.parts.length} single-use credentials is proved at leaf ${rb.leafIndex}`);
  check(await code(tlog.checkIssuance(bargs([...b.parts].reverse()))) === "not-found", "the batch in another order is not in the log");
  check(await code(tlog.checkIssuance(bargs(b.parts.slice(1)))) === "not-found", "the batch less one credential is not in the log");
  check(await code(tlog.checkIssuance(bargs([b.parts[0] + "x", ...b.parts.slice(1)]))) === "not-found", "the batch with one credential altered is not in the log");
  check(await code(tlog.checkIssuance({ ...bargs(b.parts), ref: { uri: b.uri, idx: b.idx + 1 } })) === "leaf", "the batch under another card's entry is refused");
  check(await code(tlog.checkIssuance(args(fx.real, { issuer_signed: b.parts[0], uri: b.uri, idx: b.idx, format: b.format }, store))) === "not-found",
    "a single-use credential alone is not an entry (a verifier holding one cannot find its batch)");
  // After all that, the honest log still checks.
  check(await code(tlog.checkIssuance(args(fx.real, c, store))) === "ok", "the honest log still verifies");
}

await proofs();
await attacks(await realLog());
if (failures) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log("all transparency-log checks passed");
