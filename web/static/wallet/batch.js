// Single-use credentials (issue 17): the wallet keeps batches of
// credentials of each format, each bound to its own key and carrying its
// own salts, digests and status entry, and presents each one once, so that
// two verifiers comparing what they saw find nothing in common but the
// claims the citizen disclosed. docs/privacy.md says what stays linkable.
//
// Collection is OpenID4VCI 1.0 batch issuance: one credential request with
// one key proof per fresh key (proofs.jwt), every proof carrying a key
// attestation (typ key-attestation+jwt) signed by the enrolled device key
// that lists the batch's keys, so the issuer knows the keys belong to the
// enrolled device. The refresh token from the first token response gets
// new access tokens for refills.
//
// Storage (IndexedDB, /web/idb.js): "batch-index" holds, per format, the
// ids of unused credentials; each credential is "batch:<id>" with its
// non-extractable key pair. take() removes a credential from the index
// before it is shown, so it is never shown twice.
import * as kv from "/web/idb.js";
import { deviceKey, publicJwk, sign } from "/web/jws.js";
import { randomB64u } from "/web/b64.js";

// The configurations collected in batches and the wallet's name of each.
export const FORMATS = { pid_sd_jwt: "sdjwt", pid_mdoc: "mdoc", pid_mdoc_qr: "qr" };
// LOW is when a refill starts: fewer unused credentials of a format.
export const LOW = 5;
const INDEX = "batch-index";
const REFRESH = "batch-refresh";
const ALG = { name: "ECDSA", namedCurve: "P-256" };

async function index() {
  return (await kv.get(INDEX)) || { sdjwt: [], mdoc: [], qr: [] };
}

// remaining counts the unused credentials of each format.
export async function remaining() {
  const ix = await index();
  return { sdjwt: ix.sdjwt.length, mdoc: ix.mdoc.length, qr: ix.qr.length };
}

// keep stores the refresh token of the first token response.
export async function keep(tokenResponse) {
  if (tokenResponse && tokenResponse.refresh_token) await kv.set(REFRESH, tokenResponse.refresh_token);
}

// take returns an unused credential of a format ({credential, key}) and
// forgets it, or null when none is left. A refill starts in the background
// when few are left.
export async function take(format) {
  for (;;) {
    const ix = await index();
    const id = ix[format] && ix[format].shift();
    if (!id) {
      refillSoon();
      return null;
    }
    await kv.set(INDEX, ix);
    const c = await kv.get("batch:" + id);
    await kv.del("batch:" + id);
    if (ix[format].length < LOW) refillSoon();
    if (c) return c;
  }
}

// takeOrRefill is take, but when none is left it first waits for a refill
// (at most waitMs: the wallet may be offline), so that an online wallet
// that has just used its last credential does not fall back to the
// card's own, linkable credential (docs/privacy.md, "An empty wallet").
export async function takeOrRefill(format, waitMs = 8000) {
  const one = await take(format);
  if (one) return one;
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(false), waitMs); });
  try {
    await Promise.race([refillSoon(), late]);
  } finally {
    clearTimeout(timer);
  }
  return take(format);
}

// clear forgets every credential and the refresh token (re-enrollment).
export async function clear() {
  const ix = await index();
  for (const f of Object.keys(ix)) for (const id of ix[f]) await kv.del("batch:" + id);
  await kv.del(INDEX);
  await kv.del(REFRESH);
}

let running = null;

// refillSoon starts a refill unless one is running; errors are kept for
// the next attempt (the wallet may be offline).
export function refillSoon() {
  if (!running) running = refill().catch(() => false).finally(() => { running = null; });
  return running;
}

// refill collects a batch of every format with fewer than LOW unused
// credentials; it reports whether it collected any.
export async function refill({ size = 0 } = {}) {
  const rt = await kv.get(REFRESH);
  if (!rt) return false;
  const counts = await remaining();
  const need = Object.entries(FORMATS).filter(([, f]) => counts[f] < LOW);
  if (!need.length) return false;
  const meta = await getJSON("/.well-known/openid-credential-issuer");
  const as = await getJSON("/.well-known/oauth-authorization-server");
  const batch = Math.max(1, size || (meta.batch_credential_issuance && meta.batch_credential_issuance.batch_size) || 1);
  const tok = await postJSON(local(as.token_endpoint), {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: rt }),
  });
  let got = false;
  for (const [cfg, f] of need) {
    if (!meta.credential_configurations_supported[cfg]) continue;
    await collect(meta, tok.access_token, cfg, f, batch);
    got = true;
  }
  return got;
}

// collect asks for n credentials of configuration cfg and stores them.
async function collect(meta, accessToken, cfg, format, n) {
  const keys = [];
  for (let i = 0; i < n; i++) keys.push(await crypto.subtle.generateKey(ALG, false, ["sign", "verify"]));
  const jwks = await Promise.all(keys.map((k) => publicJwk(k)));
  const nonce = (await postJSON(local(meta.nonce_endpoint), { method: "POST" })).c_nonce;
  const iat = Math.floor(Date.now() / 1000);
  const attestation = await sign(await deviceKey(), { typ: "key-attestation+jwt" }, { iat, nonce, attested_keys: jwks });
  const proofs = [];
  for (let i = 0; i < n; i++) {
    // The attestation goes in the first proof only: the issuer takes it for
    // the whole request (docs/api.md §2.4).
    const header = i === 0 ? { typ: "openid4vci-proof+jwt", jwk: jwks[i], key_attestation: attestation }
      : { typ: "openid4vci-proof+jwt", jwk: jwks[i] };
    proofs.push(await sign(keys[i], header, { aud: meta.credential_issuer, iat, nonce }));
  }
  const got = await postJSON(local(meta.credential_endpoint), {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + accessToken },
    body: JSON.stringify({ credential_configuration_id: cfg, proofs: { jwt: proofs } }),
  });
  const creds = got.credentials || [];
  if (creds.length !== n) throw new Error(`asked ${n} credentials, got ${creds.length}`);
  // Kept only if every credential verifies as the card did (collect.js:
  // issuer chain to the trust list, signature, type, bound to its own key)
  // and the batch is in the transparency log (logcheck.js).
  const vci = await import("/wallet/collect.js");
  const roots = await vci.loadRoots(await getJSON("/trust-list"));
  const conf = meta.credential_configurations_supported[cfg];
  for (let i = 0; i < n; i++) {
    if (conf.format === "dc+sd-jwt") await vci.verifyIssued(creds[i].credential, { roots, issuer: meta.credential_issuer, vct: conf.vct, jwk: jwks[i] });
    else await vci.verifyIssuedMdoc(creds[i].credential, { roots, doctype: conf.doctype, jwk: jwks[i] });
  }
  await (await import("/wallet/logcheck.js")).checkBatch(cfg, creds.map((c) => c.credential));
  const ids = [];
  for (let i = 0; i < n; i++) {
    const id = randomB64u(12);
    await kv.set("batch:" + id, { credential: creds[i].credential, key: keys[i] });
    ids.push(id);
  }
  const ix = await index(); // read just before the write: take() may have run meanwhile
  ix[format].push(...ids);
  await kv.set(INDEX, ix);
}

async function getJSON(path) {
  const resp = await fetch(path, { credentials: "same-origin", cache: "no-store" });
  if (!resp.ok) throw new Error(`${path}: ${resp.status}`);
  return resp.json();
}

async function postJSON(path, opts) {
  const resp = await fetch(path, { credentials: "same-origin", cache: "no-store", ...opts });
  if (!resp.ok) throw new Error(`${path}: ${resp.status}`);
  return resp.json();
}

// local keeps calls on this server: the wallet is served by the issuer.
function local(url) {
  const u = new URL(url, location.origin);
  return u.origin === location.origin ? u.pathname + u.search : url;
}
