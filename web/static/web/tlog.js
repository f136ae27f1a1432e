// The holder's check of the transparency log (docs/trust.md): the log's
// checkpoints are C2SP tlog-checkpoint signed notes (C2SP signed-note,
// Ed25519 note key, verified with WebCrypto), and the proofs are RFC 6962
// inclusion and consistency proofs, verified here as RFC 9162 §2.1.3.2 and
// §2.1.4.2 say. checkIssuance proves that the holder's own card is in the
// log that everyone else sees: the authority issued nothing in secret to
// this citizen either, and did not show this wallet a fork (the last
// checkpoint the wallet saw must be a prefix of every later one).
//
// No DOM and no storage of its own: the caller passes fetch and a
// key-value store (the wallet's IndexedDB), so Node runs it too
// (interop/tlog, scripts/test.d/tlog-js.sh).

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

// TlogError carries a stable code: "checkpoint" (signature or format),
// "key-changed", "fork", "proof", "leaf", "not-found", "network".
export class TlogError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const fail = (code, msg) => { throw new TlogError(code, msg); };

function b64(s) {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) fail("checkpoint", "not standard base64");
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64url(bytes) {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const sha256 = async (bytes) => new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// RFC 6962 hashes.
export const hashLeaf = (data) => sha256(concat(Uint8Array.of(0), data));
const hashChildren = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

// parseVerifierKey reads a signed-note verifier key "name+hash+base64"
// (hash: 8 hex digits; base64: 0x01 then the 32-byte Ed25519 public key)
// and checks that hash is the first four bytes of
// SHA-256(name || "\n" || 0x01 || key), as C2SP signed-note defines it.
export async function parseVerifierKey(vkey) {
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(String(vkey).trim());
  if (!m) fail("checkpoint", "malformed verifier key");
  const [, name, hashHex, keyB64] = m;
  const key = b64(keyB64);
  if (key.length !== 33 || key[0] !== 0x01) fail("checkpoint", "not an Ed25519 note key");
  const hash = (await sha256(concat(enc.encode(name + "\n"), key))).slice(0, 4);
  const want = Uint8Array.from(hashHex.match(/../g), (h) => parseInt(h, 16));
  if (!equal(hash, want)) fail("checkpoint", "verifier key hash does not match");
  const pub = await crypto.subtle.importKey("raw", key.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, hash, pub, text: m[0] };
}

// openCheckpoint verifies a signed checkpoint with the log's verifier key
// and returns {origin, size (BigInt), root (32 bytes)}. A signature line
// by the log's key must verify; lines by other keys (witnesses) are
// ignored. The text must be exactly origin, size and root (shenfen's
// checkpoints have no extension lines), and the origin the key's name.
export async function openCheckpoint(note, vkey) {
  const key = typeof vkey === "string" ? await parseVerifierKey(vkey) : vkey;
  if (note.length > 16384) fail("checkpoint", "checkpoint too large");
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) fail("checkpoint", "not a signed note");
  const text = note.slice(0, split + 1);
  const sigLines = note.slice(split + 2, -1).split("\n");
  let verified = false;
  for (const line of sigLines) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) fail("checkpoint", "malformed signature line");
    if (m[1] !== key.name) continue;
    const sig = b64(m[2]);
    if (sig.length < 5 || !equal(sig.slice(0, 4), key.hash)) continue; // another key of the same name
    if (sig.length !== 68) fail("checkpoint", "malformed Ed25519 signature");
    if (!await crypto.subtle.verify({ name: "Ed25519" }, key.pub, sig.slice(4), enc.encode(text))) {
      fail("checkpoint", "the checkpoint's signature does not verify");
    }
    verified = true;
  }
  if (!verified) fail("checkpoint", "the checkpoint is not signed by the log's key");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length !== 3) fail("checkpoint", "a checkpoint has three lines");
  const [origin, sizeText, rootText] = lines;
  if (origin !== key.name) fail("checkpoint", "origin is not the key's name");
  if (!/^(0|[1-9][0-9]{0,19})$/.test(sizeText)) fail("checkpoint", "malformed tree size");
  const root = b64(rootText);
  if (root.length !== 32) fail("checkpoint", "malformed root hash");
  return { origin, size: BigInt(sizeText), root };
}

// verifyInclusion checks an audit path (RFC 9162 §2.1.3.2). index and size
// are BigInts; leaf, root and path elements 32-byte arrays.
export async function verifyInclusion(leaf, index, size, path, root) {
  if (index >= size) fail("proof", "leaf index beyond the tree");
  let fn = index, sn = size - 1n, r = leaf;
  for (const p of path) {
    if (sn === 0n) fail("proof", "inclusion proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await hashChildren(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await hashChildren(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !equal(r, root)) fail("proof", "inclusion proof does not verify");
}

// verifyConsistency checks that the tree of size1 (root1) is a prefix of
// the tree of size2 (root2) (RFC 9162 §2.1.4.2).
export async function verifyConsistency(size1, size2, root1, root2, path) {
  if (size1 > size2) fail("fork", "the tree shrank");
  if (size1 === size2) {
    if (path.length !== 0 || !equal(root1, root2)) fail("fork", "two roots for one tree size");
    return;
  }
  if (size1 === 0n) {
    if (path.length !== 0) fail("proof", "consistency proof from the empty tree");
    return;
  }
  if (path.length === 0) fail("proof", "empty consistency proof");
  const p = (size1 & (size1 - 1n)) === 0n ? [root1, ...path] : path;
  let fn = size1 - 1n, sn = size2 - 1n;
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = p[0], sr = p[0];
  for (const c of p.slice(1)) {
    if (sn === 0n) fail("fork", "consistency proof too long");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await hashChildren(c, fr);
      sr = await hashChildren(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await hashChildren(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n || !equal(fr, root1) || !equal(sr, root2)) fail("fork", "the log does not extend the checkpoint seen before");
}

function hashes(list) {
  if (!Array.isArray(list) || list.length > 128) fail("proof", "malformed proof");
  return list.map((h) => {
    const b = b64(String(h));
    if (b.length !== 32) fail("proof", "malformed proof hash");
    return b;
  });
}

async function get(fetchFn, url, type) {
  let resp;
  try {
    resp = await fetchFn(url, { cache: "no-store", credentials: "omit" });
  } catch (e) {
    fail("network", "the log cannot be reached");
  }
  if (resp.status === 404) fail("not-found", "not in the log");
  if (!resp.ok) fail("network", "the log answered " + resp.status);
  return type === "json" ? resp.json() : resp.text();
}

// checkIssuance proves that a card is in the log. issuerSigned is what the
// issuance leaf digests (the SD-JWT issuer JWT, without disclosures);
// ref is the card's status entry {uri, idx}; format "dc+sd-jwt" or
// "mso_mdoc". store keeps, across calls, the pinned verifier key
// ("tlog.key": set by the wallet at collection from the issuer's signed
// metadata, whose x5c chain leads to the trust list's root (collect.js);
// only without one, the first key seen, trusted on first use; a key
// other than the pinned one is refused) and the last verified checkpoint
// ("tlog.checkpoint"),
// which every new checkpoint must extend. Returns {origin, leafIndex,
// treeSize} (BigInts) or throws a TlogError.
//
// issuerSigned may also be a batch of single-use credentials as issued in
// one response (an array, in order): the issuer logs a batch as one
// "batch-issuance" event under the card's own status entry, whose digest
// is SHA-256 over the SHA-256 digests of the batch's issuer-signed parts
// (oid4vc.Issuer.logIssuance), with attrs count and format.
export async function checkIssuance({ base = "", issuerSigned, ref, format, store, fetch: fetchFn = globalThis.fetch.bind(globalThis) }) {
  const served = String(await get(fetchFn, base + "/audit/checkpoint-key", "text")).trim();
  const pinned = await store.get("tlog.key");
  if (pinned && pinned !== served) fail("key-changed", "the log's key is not the one this wallet knows");
  const key = await parseVerifierKey(pinned || served);
  const cp = await openCheckpoint(await get(fetchFn, base + "/audit/checkpoint", "text"), key);
  // Every checkpoint this wallet sees extends the last one it verified.
  const prev = await store.get("tlog.checkpoint");
  if (prev) {
    const size1 = BigInt(prev.size), root1 = b64(prev.root);
    let path = [];
    if (cp.size > size1) {
      const c = await get(fetchFn, `${base}/audit/consistency?first=${size1}&second=${cp.size}`, "json");
      path = hashes(c.consistency);
    }
    await verifyConsistency(size1, cp.size, root1, cp.root, path);
  }
  if (!pinned) await store.set("tlog.key", key.text);
  await store.set("tlog.checkpoint", { size: String(cp.size), root: btoa(String.fromCharCode(...cp.root)) });

  const bytes = (x) => (typeof x === "string" ? enc.encode(x) : x);
  const batch = Array.isArray(issuerSigned);
  const digest = batch
    ? b64url(await sha256(concat(...await Promise.all(issuerSigned.map((x) => sha256(bytes(x)))))))
    : b64url(await sha256(bytes(issuerSigned)));
  const a = await get(fetchFn, `${base}/audit/issuance/${digest}?tree_size=${cp.size}`, "json");
  const input = b64(String(a.leaf_input));
  let ev;
  try { ev = JSON.parse(dec.decode(input)); } catch (e) { fail("leaf", "the leaf is not an event"); }
  if (ev.type !== (batch ? "batch-issuance" : "issuance") || ev.digest !== digest || ev.ref !== `${ref.uri}#${ref.idx}` ||
      !ev.attrs || ev.attrs.format !== format || (batch && ev.attrs.count !== String(issuerSigned.length))) {
    fail("leaf", "the log's entry is not this card's issuance");
  }
  const index = BigInt(a.leaf_index);
  await verifyInclusion(await hashLeaf(input), index, cp.size, hashes(a.audit_path), cp.root);
  return { origin: cp.origin, leafIndex: index, treeSize: cp.size };
}
