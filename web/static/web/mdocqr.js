// The offline in-person QR code in the browser, both sides (the format is
// package credential/qr's, docs in its package comment):
//
//   "SF1:" + Base45(zlib(DeviceResponse))
//
// where the DeviceResponse holds one document of the compact card (docType
// org.shenfen.pid.qr.1): issuer-signed items embedded exactly as issued,
// the issuerAuth with its x5chain replaced by a kid header (the first 8
// bytes of SHA-256 of the document signer certificate; the unprotected
// header is not signed), and a device signature over
// ["DeviceAuthentication", SessionTranscript, docType, DeviceNameSpaces]
// with SessionTranscript [null, null, ["ShenfenQR", nonce or null]]. In
// time mode (no nonce) the device also signs org.shenfen.qr/signed_at.
//
// Wallet: present() signs with the non-extractable WebCrypto device key
// (ECDSA P-256/SHA-256 returns r||s, the COSE form).
// Verifier page: loadTrust() checks the trust list's document signer
// certificates against the pinned root, loadStatusList() checks a status
// list token, verify() checks a payload offline.
import { decode, decode24, encode, rawOf, Raw, Tagged } from "./cbor.js";
import { parseCertificate, rawSignature, pemToDER, KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN } from "./der.js";

export const PREFIX = "SF1:";
export const REQUEST_PREFIX = "SFR1:";
export const DOCTYPE = "org.shenfen.pid.qr.1";
export const NAMESPACE = "org.shenfen.pid.qr.1";
export const DEVICE_NAMESPACE = "org.shenfen.qr";
export const DEFAULT_ELEMENTS = ["name_original", "birth_date", "id_number", "expiry_date", "portrait_thumbnail"];
export const WINDOW_MS = 60 * 1000; // how old a time-mode code may be
export const MAX_PAYLOAD = 4296; // the largest QR code's alphanumeric capacity
const MAX_INFLATED = 16 << 10;
const SKEW_MS = 30 * 1000; // a phone's clock ahead of the verifier's
const VALIDITY_SKEW_MS = 2 * 60 * 1000;
const ES256_PROTECTED = Uint8Array.of(0xa1, 0x01, 0x26); // {1: -7}
const OID_ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const OID_MDL_DS = "1.0.18013.5.1.2";
const EC = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };

// QRError is a refused payload; code is a stable reason (the verifier
// page's reason.* messages): malformed, too-large, untrusted, signature,
// expired, not-yet-valid, disclosure, holder-binding, nonce, stale,
// replay, revoked, suspended, status, unsupported.
export class QRError extends Error {
  constructor(code, msg) { super(msg || code); this.code = code; this.name = "QRError"; }
}

// ---------- Base45 (RFC 9285) ----------
const B45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

export function encodeBase45(b) {
  let s = "";
  for (let i = 0; i + 1 < b.length; i += 2) {
    const n = b[i] * 256 + b[i + 1];
    s += B45[n % 45] + B45[Math.floor(n / 45) % 45] + B45[Math.floor(n / 2025)];
  }
  if (b.length % 2) {
    const n = b[b.length - 1];
    s += B45[n % 45] + B45[Math.floor(n / 45)];
  }
  return s;
}

export function decodeBase45(s) {
  if (s.length % 3 === 1) throw new QRError("malformed", "invalid base45");
  const out = new Uint8Array(Math.floor(s.length / 3) * 2 + (s.length % 3 ? 1 : 0));
  let o = 0;
  const v = (c) => {
    const i = B45.indexOf(c);
    if (i < 0 || c === "") throw new QRError("malformed", "invalid base45");
    return i;
  };
  for (let i = 0; i < s.length; i += 3) {
    if (i + 2 === s.length) {
      const n = v(s[i]) + v(s[i + 1]) * 45;
      if (n > 0xff) throw new QRError("malformed", "invalid base45");
      out[o++] = n;
      break;
    }
    const n = v(s[i]) + v(s[i + 1]) * 45 + v(s[i + 2]) * 2025;
    if (n > 0xffff) throw new QRError("malformed", "invalid base45");
    out[o++] = n >> 8;
    out[o++] = n & 0xff;
  }
  return out;
}

// ---------- zlib through the Compression Streams API ----------
async function pump(stream, input, max) {
  const w = stream.writable.getWriter();
  w.write(input).catch(() => {});
  w.close().catch(() => {});
  const r = stream.readable.getReader();
  const parts = [];
  let n = 0;
  for (;;) {
    const { done, value } = await r.read();
    if (done) break;
    n += value.length;
    if (n > max) {
      r.cancel().catch(() => {});
      throw new QRError("too-large", `inflates beyond ${max} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export const deflate = (b) => pump(new CompressionStream("deflate"), b, 1 << 20);

// inflate inflates zlib data, refusing more than max bytes (a zlib bomb).
export async function inflate(b, max) {
  try {
    return await pump(new DecompressionStream("deflate"), b, max);
  } catch (e) {
    if (e instanceof QRError) throw e;
    throw new QRError("malformed", "zlib: " + (e.message || e));
  }
}

// ---------- helpers ----------
const get = (m, k) => (m instanceof Map ? m.get(k) : undefined);
const bytes = (v, what) => {
  if (!(v instanceof Uint8Array)) throw new QRError("malformed", what + " is not a byte string");
  return v;
};
const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest("SHA-256", b));
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const b64u = (b) => btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const unb64u = (s) => {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new QRError("malformed", "bad base64url");
  const t = s.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(t + "===".slice((t.length + 3) % 4));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
};
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// sessionTranscript is [null, null, ["ShenfenQR", nonce or null]].
export function sessionTranscript(nonce) {
  return encode([null, null, ["ShenfenQR", nonce || null]]);
}

// deviceAuthenticationBytes is #6.24(bstr .cbor ["DeviceAuthentication",
// SessionTranscript, DocType, DeviceNameSpacesBytes]).
function deviceAuthenticationBytes(st, docType, dnsBytes) {
  return encode(new Tagged(24, encode(["DeviceAuthentication", new Raw(st), docType, new Raw(dnsBytes)])));
}

// sigStructure is the COSE_Sign1 Sig_structure (RFC 9052 §4.4).
const sigStructure = (prot, payload) => encode(["Signature1", prot, new Uint8Array(0), payload]);

// tdate is the 18013-5 tdate text: RFC 3339, UTC, whole seconds.
const tdate = (d) => new Date(Math.floor(d.getTime() / 1000) * 1000).toISOString().replace(".000Z", "Z");

// ---------- wallet: request parsing and presentation ----------

// parseRequest returns the nonce of a verifier's request QR ("SFR1:...").
export function parseRequest(text) {
  if (typeof text !== "string" || !text.startsWith(REQUEST_PREFIX)) throw new QRError("malformed", "not a shenfen request QR");
  const n = decodeBase45(text.slice(REQUEST_PREFIX.length));
  if (n.length < 16 || n.length > 64) throw new QRError("malformed", "request nonce");
  return n;
}

// newRequest makes a request QR payload with a fresh 16-byte nonce.
export function newRequest() {
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  return { payload: REQUEST_PREFIX + encodeBase45(nonce), nonce };
}

// present makes the QR payload of the compact card issuerSigned (the
// IssuerSigned bytes the issuer returned), disclosing elements, signed by
// the device's private key: over nonce (nonce mode) or, when nonce is
// null, over signed_at = now (time mode).
export async function present(issuerSigned, privateKey, { nonce = null, now = new Date(), elements = DEFAULT_ELEMENTS } = {}) {
  const is = decode(issuerSigned);
  const ia = get(is, "issuerAuth");
  if (!Array.isArray(ia) || ia.length !== 4) throw new QRError("malformed", "issuerAuth");
  const [prot, unprot, payload, sig] = ia;
  const mso = decode24(decode(bytes(payload, "MSO")));
  const docType = get(mso, "docType");
  if (docType !== DOCTYPE) throw new QRError("unsupported", "not a compact QR card: " + docType);
  // The issuer certificate is named, not carried (its kid is in the trust list).
  let kid = get(unprot, 4);
  const x5 = get(unprot, 33);
  if (x5 !== undefined) kid = (await sha256(bytes(Array.isArray(x5) ? x5[0] : x5, "x5chain"))).subarray(0, 8);
  bytes(kid, "kid");
  const items = get(get(is, "nameSpaces"), NAMESPACE) || [];
  const byName = new Map();
  for (const t of items) byName.set(get(decode24(t), "elementIdentifier"), new Raw(rawOf(t)));
  const chosen = [];
  for (const e of elements) {
    if (byName.has(e)) chosen.push(byName.get(e));
    else if (e === "name_original") for (const n of ["family_name", "given_name"]) if (byName.has(n)) chosen.push(byName.get(n));
  }
  const dns = nonce ? new Map() : new Map([[DEVICE_NAMESPACE, new Map([["signed_at", new Tagged(0, tdate(now))]])]]);
  const dnsBytes = encode(new Tagged(24, encode(dns)));
  const da = deviceAuthenticationBytes(sessionTranscript(nonce), docType, dnsBytes);
  const devSig = new Uint8Array(await crypto.subtle.sign(ES256, privateKey, sigStructure(ES256_PROTECTED, da)));
  const resp = encode({
    version: "1.0",
    documents: [{
      docType,
      issuerSigned: { nameSpaces: new Map([[NAMESPACE, chosen]]), issuerAuth: [prot, new Map([[4, kid]]), payload, sig] },
      deviceSigned: { nameSpaces: new Raw(dnsBytes), deviceAuth: { deviceSignature: [ES256_PROTECTED, new Map(), null, devSig] } },
    }],
    status: 0,
  });
  const s = PREFIX + encodeBase45(await deflate(resp));
  if (s.length > MAX_PAYLOAD) throw new QRError("too-large", `payload of ${s.length} characters does not fit a QR code`);
  return s;
}

// ---------- verifier: trust list ----------

// loadTrust checks a trust list (the JSON of /trust-list) and returns the
// document signers a verifier may accept. The list itself is not signed:
// trust comes from the certificates. Its root must be the pinned one
// (pin: hex SHA-256 of the root's DER; without a pin the caller pins the
// returned rootSHA256 on first use), be a CA with keyCertSign, and be
// valid; each signer must be signed by that root (ECDSA P-256/SHA-256),
// be valid at now, not a CA, with digitalSignature and the mdlDS extended
// key usage. Signers that fail are listed in rejected, not trusted.
export async function loadTrust(list, { pin = null, now = new Date() } = {}) {
  if (!list || !Array.isArray(list.anchors) || list.anchors.length !== 1 || !Array.isArray(list.signers)) {
    throw new QRError("untrusted", "trust list without one anchor and a signer list");
  }
  const rootDER = pemToDER(list.anchors[0].pem);
  const rootSHA256 = hex(await sha256(rootDER));
  if (pin && pin !== rootSHA256) throw new QRError("untrusted", "the trust list's root is not the pinned one");
  const root = parseCertificate(rootDER);
  if (!root.isCA || !(root.keyUsage & KU_KEY_CERT_SIGN)) throw new QRError("untrusted", "trust anchor is not a CA");
  if (now < root.notBefore || now > root.notAfter) throw new QRError("untrusted", "trust anchor outside its validity");
  let rootKey;
  try { rootKey = await crypto.subtle.importKey("spki", root.spki, EC, false, ["verify"]); } catch (e) {
    throw new QRError("unsupported", "trust anchor key is not P-256");
  }
  const signers = new Map(), rejected = [];
  for (const s of list.signers.slice(0, 64)) {
    try {
      const der = pemToDER(s.pem);
      const c = parseCertificate(der);
      if (c.sigAlg !== OID_ECDSA_SHA256) throw new Error("signature algorithm " + c.sigAlg);
      if (!equal(c.issuer, root.subject)) throw new Error("not issued by the root");
      if (!(await crypto.subtle.verify(ES256, rootKey, rawSignature(c.signature), c.tbs))) throw new Error("root signature does not verify");
      if (now < c.notBefore || now > c.notAfter) throw new Error("outside its validity");
      if (c.isCA || !(c.keyUsage & KU_DIGITAL_SIGNATURE) || !c.eku.includes(OID_MDL_DS)) throw new Error("not a document signer");
      const key = await crypto.subtle.importKey("spki", c.spki, EC, false, ["verify"]);
      const h = await sha256(der);
      signers.set(hex(h.subarray(0, 8)), { key, der, sha256: hex(h), jwsKid: s.kid || "", notBefore: c.notBefore, notAfter: c.notAfter });
    } catch (e) {
      rejected.push({ kid: s.kid || "", reason: e.message });
    }
  }
  return { rootSHA256, signers, rejected, updated: list.updated || "" };
}

// ---------- verifier: status list tokens ----------

// loadStatusList verifies a Token Status List JWT (typ statuslist+jwt,
// ES256 by a trusted document signer named by x5c or kid) fetched from uri
// and inflates its list (at most maxBytes). It returns {uri, bits, list,
// iat, exp, ttl} (times in ms).
export async function loadStatusList(jwt, trust, uri, { now = new Date(), maxBytes = 16 << 20 } = {}) {
  if (typeof jwt !== "string" || jwt.length > 4 << 20) throw new QRError("status", "status list token too large");
  const parts = jwt.trim().split(".");
  if (parts.length !== 3) throw new QRError("status", "status list token is not a compact JWS");
  let h, c;
  try {
    h = JSON.parse(new TextDecoder().decode(unb64u(parts[0])));
    c = JSON.parse(new TextDecoder().decode(unb64u(parts[1])));
  } catch (e) {
    throw new QRError("status", "status list token is not JSON");
  }
  if (h.alg !== "ES256" || h.typ !== "statuslist+jwt") throw new QRError("status", "status list token typ/alg");
  let signer = null;
  if (Array.isArray(h.x5c) && h.x5c.length) {
    const d = hex(await sha256(Uint8Array.from(atob(h.x5c[0]), (ch) => ch.charCodeAt(0))));
    signer = [...trust.signers.values()].find((s) => s.sha256 === d);
  } else if (h.kid) {
    signer = [...trust.signers.values()].find((s) => s.jwsKid === h.kid);
  }
  if (!signer) throw new QRError("untrusted", "status list signed by an unknown key");
  const ok = await crypto.subtle.verify(ES256, signer.key, unb64u(parts[2]), new TextEncoder().encode(parts[0] + "." + parts[1]));
  if (!ok) throw new QRError("signature", "status list signature");
  if (c.sub !== uri) throw new QRError("status", `status list sub ${c.sub}, fetched ${uri}`);
  if (!(c.iat > 0) || c.iat * 1000 > now.getTime() + VALIDITY_SKEW_MS) throw new QRError("status", "status list iat");
  if (c.exp && c.exp * 1000 <= now.getTime()) throw new QRError("status", "status list expired");
  const sl = c.status_list || {};
  if (![1, 2, 4, 8].includes(sl.bits) || typeof sl.lst !== "string") throw new QRError("status", "status_list bits/lst");
  const list = await inflate(unb64u(sl.lst), maxBytes);
  return { uri, bits: sl.bits, list, iat: c.iat * 1000, exp: c.exp ? c.exp * 1000 : 0, ttl: (c.ttl || 0) * 1000 };
}

// statusAt reads entry idx of a loaded list (0 valid, 1 invalid, 2 suspended).
export function statusAt(sl, idx) {
  const bit = idx * sl.bits;
  if (!Number.isSafeInteger(idx) || idx < 0 || bit / 8 >= sl.list.length) throw new QRError("status", "status index outside the list");
  return (sl.list[Math.floor(bit / 8)] >> (bit % 8)) & ((1 << sl.bits) - 1);
}

// ---------- verifier: the payload ----------

// decodePayload returns the DeviceResponse bytes of a payload.
export async function decodePayload(text) {
  if (typeof text !== "string") throw new QRError("malformed", "no payload");
  if (text.length > MAX_PAYLOAD) throw new QRError("too-large", `payload of ${text.length} characters`);
  if (!text.startsWith(PREFIX)) throw new QRError("malformed", "not a shenfen QR code");
  return inflate(decodeBase45(text.slice(PREFIX.length)), MAX_INFLATED);
}

function sign1(v, what) {
  if (!Array.isArray(v) || v.length !== 4) throw new QRError("malformed", what + " is not a COSE_Sign1");
  const [prot, unprot, payload, sig] = v;
  bytes(prot, what + " protected header");
  if (!(unprot instanceof Map) || unprot.has(1) || unprot.has(2)) throw new QRError("malformed", what + " unprotected header");
  const ph = prot.length ? decode(prot) : null;
  if (!(ph instanceof Map) || ph.get(1) !== -7) throw new QRError("unsupported", what + " algorithm is not ES256");
  if (ph.has(2)) throw new QRError("unsupported", what + " critical headers");
  if (!(sig instanceof Uint8Array) || sig.length !== 64) throw new QRError("signature", what + " signature size");
  return { prot, unprot, payload, sig };
}

const time = (v, what) => {
  const s = v instanceof Tagged && v.tag === 0 ? v.value : null;
  const t = s && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s) ? Date.parse(s) : NaN;
  if (Number.isNaN(t)) throw new QRError("malformed", what + " is not a tdate");
  return t;
};

// plain maps a decoded element value to a display value.
function plain(v) {
  if (v instanceof Tagged) return v.tag === 0 || v.tag === 1004 ? v.value : plain(v.value);
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), plain(x)]));
  if (Array.isArray(v)) return v.map(plain);
  return v;
}

// verify checks a QR payload offline and returns {claims, thumbnail,
// signedAt, validFrom, validUntil, status: {uri, idx, value}, mode}. opts:
//   trust       from loadTrust (required)
//   status      (uri) => a loaded list (loadStatusList) or null; a card with
//               a status reference and no list fails (fail closed)
//   seen        replay memory: {has(key), add(key, untilMs)} (required)
//   nonce       the request nonce the wallet answered (nonce mode) or null
//   now         Date (default: now)
export async function verify(text, { trust, status, seen, nonce = null, now = new Date(), window = WINDOW_MS } = {}) {
  if (!trust || !seen) throw new Error("mdocqr: verify needs trust and seen");
  const resp = await decodePayload(text);
  let dr;
  try { dr = decode(resp); } catch (e) { throw new QRError("malformed", e.message); }
  if (get(dr, "version") !== "1.0") throw new QRError("unsupported", "DeviceResponse version");
  const docs = get(dr, "documents");
  if (get(dr, "status") !== 0 || !Array.isArray(docs) || docs.length !== 1) throw new QRError("malformed", "one document expected");
  const doc = docs[0];
  const docType = get(doc, "docType");
  const isg = get(doc, "issuerSigned"), dsg = get(doc, "deviceSigned");
  if (typeof docType !== "string" || !(isg instanceof Map) || !(dsg instanceof Map)) throw new QRError("malformed", "document");

  // Issuer signature with the cached document signer named by kid.
  const ia = sign1(get(isg, "issuerAuth"), "issuerAuth");
  const kid = ia.unprot.get(4);
  if (!(kid instanceof Uint8Array) || ia.unprot.has(33)) throw new QRError("untrusted", "issuerAuth does not name a cached signer");
  const signer = trust.signers.get(hex(kid));
  if (!signer) throw new QRError("untrusted", "issuer certificate " + hex(kid) + " not in the trust list");
  if (now < signer.notBefore || now > signer.notAfter) throw new QRError("untrusted", "issuer certificate outside its validity");
  if (!(await crypto.subtle.verify(ES256, signer.key, ia.sig, sigStructure(ia.prot, bytes(ia.payload, "MSO"))))) {
    throw new QRError("signature", "issuer signature does not verify");
  }
  let mso;
  try { mso = decode24(decode(ia.payload)); } catch (e) { throw new QRError("malformed", "MSO: " + e.message); }
  if (get(mso, "docType") !== docType || docType !== DOCTYPE) throw new QRError("disclosure", "docType " + docType);
  if (get(mso, "version") !== "1.0" || get(mso, "digestAlgorithm") !== "SHA-256") throw new QRError("unsupported", "MSO version or digest");
  const vi = get(mso, "validityInfo");
  const validFrom = time(get(vi, "validFrom"), "validFrom"), validUntil = time(get(vi, "validUntil"), "validUntil");
  if (validFrom > now.getTime() + VALIDITY_SKEW_MS) throw new QRError("not-yet-valid", "valid from " + new Date(validFrom).toISOString());
  if (now.getTime() - VALIDITY_SKEW_MS >= validUntil) throw new QRError("expired", "valid until " + new Date(validUntil).toISOString());

  // Every disclosed item against its digest.
  const claims = {};
  const nss = get(isg, "nameSpaces");
  if (!(nss instanceof Map)) throw new QRError("malformed", "nameSpaces");
  const vd = get(mso, "valueDigests");
  for (const [ns, items] of nss) {
    const digests = get(vd, ns);
    if (!Array.isArray(items) || !(digests instanceof Map)) throw new QRError("disclosure", "namespace " + ns);
    const used = new Set(), out = {};
    for (const t of items) {
      if (!(t instanceof Tagged) || t.tag !== 24) throw new QRError("malformed", "item is not tag 24");
      const it = decode24(t);
      const id = get(it, "digestID"), name = get(it, "elementIdentifier"), rnd = get(it, "random");
      if (typeof id !== "number" || typeof name !== "string" || !(rnd instanceof Uint8Array) || rnd.length < 16) {
        throw new QRError("malformed", "IssuerSignedItem");
      }
      const want = digests.get(id);
      if (!(want instanceof Uint8Array) || !equal(want, await sha256(rawOf(t)))) throw new QRError("disclosure", `${ns}/${name} does not match its digest`);
      if (used.has(id) || name in out) throw new QRError("disclosure", `${ns}/${name} twice`);
      used.add(id);
      out[name] = plain(get(it, "elementValue"));
    }
    if (ns === NAMESPACE) Object.assign(claims, out);
  }
  const thumb = get(decode24Items(nss.get(NAMESPACE)), "portrait_thumbnail");
  if (thumb !== undefined && !(thumb instanceof Uint8Array && thumb[0] === 0xff && thumb[1] === 0xd8)) {
    throw new QRError("malformed", "thumbnail is not a JPEG");
  }
  delete claims.portrait_thumbnail;

  // Device signature over this session, with the MSO's device key.
  const dk = get(get(mso, "deviceKeyInfo"), "deviceKey");
  const x = get(dk, -2), y = get(dk, -3);
  if (get(dk, 1) !== 2 || get(dk, -1) !== 1 || !(x instanceof Uint8Array) || !(y instanceof Uint8Array) || x.length !== 32 || y.length !== 32) {
    throw new QRError("unsupported", "device key is not EC2 P-256");
  }
  let devKey;
  try {
    devKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: b64u(x), y: b64u(y), ext: true }, EC, false, ["verify"]);
  } catch (e) {
    throw new QRError("malformed", "device key");
  }
  const ds = sign1(get(get(dsg, "deviceAuth"), "deviceSignature"), "deviceSignature");
  if (ds.payload !== null) throw new QRError("malformed", "device signature payload is not detached");
  const dnsT = get(dsg, "nameSpaces");
  if (!(dnsT instanceof Tagged) || dnsT.tag !== 24) throw new QRError("malformed", "DeviceNameSpaces");
  const dns = decode24(dnsT);
  const sa = get(get(dns, DEVICE_NAMESPACE), "signed_at");
  // An answer to a request code (no signed_at) with no request pending.
  if (!nonce && sa === undefined) throw new QRError("nonce", "an answer to a request code, and no request is pending");
  const da = deviceAuthenticationBytes(sessionTranscript(nonce), docType, rawOf(dnsT));
  if (!(await crypto.subtle.verify(ES256, devKey, ds.sig, sigStructure(ds.prot, da)))) {
    throw new QRError("holder-binding", "device signature does not cover this session");
  }

  // Freshness: the nonce (the caller consumes it) or signed_at, and replay.
  let signedAt = null, seenKey = null;
  if (!nonce) {
    signedAt = time(sa, "signed_at");
    if (signedAt < now.getTime() - window || signedAt > now.getTime() + SKEW_MS) {
      throw new QRError("stale", "signed at " + new Date(signedAt).toISOString());
    }
    seenKey = "qr:" + hex(await sha256(resp));
    if (await seen.has(seenKey)) throw new QRError("replay", "this code was already shown");
  }

  // Status from the cached list (fail closed).
  const st = get(mso, "status");
  let statusInfo = null;
  if (st !== undefined) {
    const sl = get(st, "status_list");
    const uri = get(sl, "uri"), idx = get(sl, "idx");
    if (typeof uri !== "string" || typeof idx !== "number") throw new QRError("malformed", "MSO status");
    const list = status ? await status(uri) : null;
    if (!list) throw new QRError("status", "no cached status list for " + uri);
    const value = statusAt(list, idx);
    statusInfo = { uri, idx, value, listIssuedAt: list.iat };
    if (value === 1) throw new QRError("revoked", "the card is revoked");
    if (value === 2) throw new QRError("suspended", "the card is suspended");
    if (value !== 0) throw new QRError("status", "status " + value);
  }
  if (seenKey) await seen.add(seenKey, signedAt + window + SKEW_MS);
  return {
    mode: nonce ? "nonce" : "time", docType, claims, thumbnail: thumb || null,
    signedAt: signedAt === null ? null : new Date(signedAt), validFrom: new Date(validFrom), validUntil: new Date(validUntil),
    status: statusInfo, issuer: hex(kid),
  };
}

function decode24Items(items) {
  const m = new Map();
  for (const t of items || []) {
    const it = decode24(t);
    m.set(get(it, "elementIdentifier"), get(it, "elementValue"));
  }
  return m;
}

// memorySeen is a replay memory kept in memory (the page persists it too).
export function memorySeen() {
  const m = new Map();
  return {
    has: (k) => { const until = m.get(k); return until !== undefined && until > Date.now(); },
    add: (k, until) => {
      for (const [x, u] of m) if (u <= Date.now()) m.delete(x);
      m.set(k, until);
    },
  };
}
