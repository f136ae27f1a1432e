// OpenID4VCI 1.0 collection on the wallet's side: a credential offer with a
// pre-authorized code, from any issuer the authority's trust list anchors,
// and the checks the wallet makes before it keeps anything:
//
//  1. the offer: an https credential_issuer (http on loopback), the
//     pre-authorized code grant without a transaction code, at least one
//     configuration;
//  2. the issuer's metadata (/.well-known/openid-credential-issuer, path
//     inserted) names the same credential_issuer (OpenID4VCI 1.0 §12.2.2),
//     describes every offered configuration (dc+sd-jwt or mso_mdoc), takes
//     ES256 jwt proofs, and its endpoints are https;
//     When the metadata is signed (signed_metadata, §12.2.3: typ
//     openidvci-issuer-metadata+jwt, an x5c chain to a root of the trust
//     list whose leaf names the issuer, sub the issuer), its signed values
//     are the ones used, and the transparency log's note key it names
//     (shenfen_transparency_log.verifier_key) is returned for the wallet to
//     pin: the log key is then trusted as the cards are, not on first use;
//  3. the authorization server's metadata (RFC 8414) names the issuer it
//     was fetched for; the token response is a Bearer token;
//  4. each credential request carries a proof JWT (openid4vci-proof+jwt,
//     aud the credential issuer) over a c_nonce fresh from the nonce
//     endpoint; an invalid_nonce answer gets one retry with a new c_nonce;
//  5. an SD-JWT VC is kept only if: alg ES256, typ dc+sd-jwt, an x5c chain
//     up to one of the trust list's roots (the leaf not a CA and not a
//     verifier's reader certificate, every certificate valid now); the
//     issuer signature verifies; iss is the credential issuer and a
//     subjectAltName of the leaf (URI, or DNS name of an https iss); vct is
//     the configuration's; iat/nbf/exp hold; every disclosure is
//     referenced exactly once by a digest the issuer signed; and cnf.jwk is
//     the key that signed the proof (key binding);
//  6. an mdoc (IssuerSigned) is kept only if: its issuerAuth is a COSE_Sign1
//     ES256 by an x5chain leading to a root of the trust list (the same
//     certificate checks), the MSO names the configuration's docType, is
//     valid now, binds the proof's key (deviceKeyInfo), and every element
//     is covered by its value digest.
//
// No DOM, no storage: the caller passes fetch, the trust roots and the
// device key, so that the module also runs under Node against an
// independent issuer (scripts/test.d/interop-wallet-vci.sh).
import { b64u, fromUtf8, sha256, unb64u, utf8 } from "../web/b64.js";
import { parseCertificate, pemToDER, rawSignature, KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN } from "../web/der.js";
import { publicJwk, sign } from "../web/jws.js";
import { decode, decode24, encode, rawOf, Tagged } from "../web/cbor.js";

export const PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code";
export const SD_JWT_VC = "dc+sd-jwt";
const READER_AUTH = "1.0.18013.5.1.6";
const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const EC = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };
const SKEW_S = 300;
const MAX_CREDENTIAL = 256 << 10;

// Refused is an offer or a credential the wallet will not take; code is one
// of: offer, metadata, token, proof, untrusted, signature, issuer, type,
// expired, disclosure, binding, issuance.
export class Refused extends Error {
  constructor(code, message) {
    super(message);
    this.name = "Refused";
    this.code = code;
  }
}
const refuse = (code, msg) => { throw new Refused(code, msg); };

// stats counts ECDSA verifications (the tests read it).
export const stats = { verifications: 0 };

async function verify(key, sig, data) {
  stats.verifications++;
  return crypto.subtle.verify(ES256, key, sig, data);
}

function loopback(host) {
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// httpsURL parses u and refuses anything but https (http on loopback)
// without credentials or fragment.
function httpsURL(u, what, code = "metadata") {
  let url;
  try { url = new URL(u); } catch (e) { refuse(code, what + " is not a URL"); }
  if (!(url.protocol === "https:" || (url.protocol === "http:" && loopback(url.hostname))) || url.username || url.password || url.hash) {
    refuse(code, what + " must be an https URL");
  }
  return url;
}

// wellKnown inserts /.well-known/<name> between the origin and the path of
// an identifier URL (RFC 8414 §3.1, OpenID4VCI 1.0 §12.2.2).
export function wellKnown(id, name) {
  const u = new URL(id);
  return `${u.origin}/.well-known/${name}${u.pathname.replace(/\/$/, "")}`;
}

// loadRoots parses the trust list ({anchors: [{pem}]}) or DER roots.
export async function loadRoots(list) {
  const ders = Array.isArray(list) ? list : list.anchors.map((a) => pemToDER(a.pem));
  const out = [];
  for (const der of ders) {
    const cert = parseCertificate(der);
    if (!cert.isCA) throw new Error("a trust anchor is not a CA");
    out.push({ cert, der, key: await crypto.subtle.importKey("spki", cert.spki, EC, false, ["verify"]) });
  }
  return out;
}

// parseOffer reads a credential offer: an object, its JSON, or an
// openid-credential-offer:// link with credential_offer by value.
export function parseOffer(offer) {
  let o = offer;
  if (typeof o === "string") {
    try {
      o = o.startsWith("{") ? JSON.parse(o) : JSON.parse(new URL(o).searchParams.get("credential_offer"));
    } catch (e) { refuse("offer", "the credential offer does not decode"); }
  }
  if (!o || typeof o !== "object") refuse("offer", "no credential offer");
  httpsURL(o.credential_issuer, "credential_issuer", "offer");
  const ids = o.credential_configuration_ids;
  if (!Array.isArray(ids) || !ids.length || !ids.every((x) => typeof x === "string")) refuse("offer", "no credential configurations offered");
  const g = o.grants && o.grants[PRE_AUTH];
  if (!g || typeof g["pre-authorized_code"] !== "string" || !g["pre-authorized_code"]) refuse("offer", "no pre-authorized code grant");
  if (g.tx_code) refuse("offer", "the offer asks for a transaction code, which this wallet does not take");
  return o;
}

async function getJSON(fetch, url, code) {
  let resp;
  try { resp = await fetch(url, { method: "GET", headers: { Accept: "application/json" } }); } catch (e) { refuse(code, url + ": " + e.message); }
  if (!resp.ok) refuse(code, url + ": HTTP " + resp.status);
  try { return await resp.json(); } catch (e) { refuse(code, url + ": not JSON"); }
}

// checkMetadata holds the issuer metadata to the offer.
export function checkMetadata(meta, offer) {
  if (!meta || meta.credential_issuer !== offer.credential_issuer) {
    refuse("metadata", "the issuer metadata names " + (meta && meta.credential_issuer) + ", not the offer's issuer");
  }
  httpsURL(meta.credential_endpoint, "credential_endpoint");
  if (meta.nonce_endpoint !== undefined) httpsURL(meta.nonce_endpoint, "nonce_endpoint");
  const confs = meta.credential_configurations_supported || {};
  for (const id of offer.credential_configuration_ids) {
    const c = confs[id];
    if (!c || !Object.hasOwn(confs, id)) refuse("metadata", "configuration " + id + " is not in the issuer metadata");
    if (c.format !== SD_JWT_VC && c.format !== "mso_mdoc") refuse("metadata", "configuration " + id + ": format " + c.format);
    if (c.format === SD_JWT_VC && typeof c.vct !== "string") refuse("metadata", "configuration " + id + " without vct");
    const jwt = c.proof_types_supported && c.proof_types_supported.jwt;
    if (c.proof_types_supported && (!jwt || !(jwt.proof_signing_alg_values_supported || []).includes("ES256"))) {
      refuse("metadata", "configuration " + id + " takes no ES256 jwt proof");
    }
  }
  return meta;
}

// collect runs the pre-authorized code flow of offer and returns
// {issuer, metadata, token, credentials: {configuration id: credential}}
// with every SD-JWT VC verified. opts: fetch (like window.fetch), roots
// (loadRoots), key (the device key pair: its public JWK goes in each
// proof and must come back as the credential's cnf), now, problem (async
// Response -> message, for HTTP errors), optional (configuration id,
// configuration -> true when the card can do without it).
export async function collect(offer, { fetch, roots, key, now = () => new Date(), problem = null, optional = () => false }) {
  const o = parseOffer(offer);
  const issuer = o.credential_issuer;
  let meta = checkMetadata(await getJSON(fetch, wellKnown(issuer, "openid-credential-issuer"), "metadata"), o);
  let logKey = null;
  if (meta.signed_metadata !== undefined) {
    const signed = await verifySignedMetadata(meta.signed_metadata, { roots, issuer, now: now() });
    meta = checkMetadata({ ...meta, ...signed }, o);
    const log = signed.shenfen_transparency_log;
    if (log && typeof log.verifier_key === "string") logKey = log.verifier_key;
  }
  const asID = Array.isArray(meta.authorization_servers) && meta.authorization_servers.length ? meta.authorization_servers[0] : issuer;
  httpsURL(asID, "authorization server");
  const as = await getJSON(fetch, wellKnown(asID, "oauth-authorization-server"), "metadata");
  if (as.issuer !== asID) refuse("metadata", "the authorization server metadata names " + as.issuer + ", not " + asID);
  httpsURL(as.token_endpoint, "token_endpoint");
  if (Array.isArray(as.grant_types_supported) && !as.grant_types_supported.includes(PRE_AUTH)) {
    refuse("metadata", "the authorization server does not take pre-authorized codes");
  }
  const tokResp = await post(fetch, as.token_endpoint, {
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: PRE_AUTH, "pre-authorized_code": o.grants[PRE_AUTH]["pre-authorized_code"] }),
  });
  if (!tokResp.ok) refuse("token", await describe(tokResp, problem));
  const token = await tokResp.json();
  if (typeof token.access_token !== "string" || !token.access_token || String(token.token_type).toLowerCase() !== "bearer") {
    refuse("token", "the token response has no Bearer access token");
  }
  const jwk = await publicJwk(key);
  const credentials = {};
  for (const id of o.credential_configuration_ids) {
    const conf = meta.credential_configurations_supported[id];
    try {
      const c = await request(fetch, meta, token, id, key, jwk, problem);
      if (conf.format === SD_JWT_VC) await verifyIssued(c, { roots, issuer, vct: conf.vct, jwk, now: now() });
      else await verifyIssuedMdoc(c, { roots, doctype: conf.doctype, jwk, now: now() });
      credentials[id] = c;
    } catch (e) {
      if (optional(id, conf)) continue;
      throw e;
    }
  }
  return { issuer, metadata: meta, token, credentials, logKey };
}

// verifySignedMetadata checks signed_metadata and returns its claims.
export async function verifySignedMetadata(jwt, { roots, issuer, now = new Date() }) {
  const parts = typeof jwt === "string" ? jwt.split(".") : [];
  if (parts.length !== 3) refuse("metadata", "signed_metadata is not a compact JWS");
  let header, payload, sig;
  try {
    header = JSON.parse(fromUtf8(unb64u(parts[0])));
    payload = JSON.parse(fromUtf8(unb64u(parts[1])));
    sig = unb64u(parts[2]);
  } catch (e) { refuse("metadata", "signed_metadata does not decode"); }
  if (header.alg !== "ES256" || header.typ !== "openidvci-issuer-metadata+jwt" || header.crit) {
    refuse("metadata", "signed_metadata: alg " + header.alg + ", typ " + header.typ);
  }
  const { leaf, key } = await checkChain(header.x5c, roots, now);
  if (sig.length !== 64 || !(await verify(key, sig, utf8(parts[0] + "." + parts[1])))) {
    refuse("signature", "the issuer metadata's signature does not verify");
  }
  if (payload.sub !== issuer || (payload.iss !== undefined && payload.iss !== issuer) || !issuerNamed(leaf, issuer)) {
    refuse("issuer", "the signed metadata is not the credential issuer's");
  }
  const t = Math.floor(now.getTime() / 1000);
  if (typeof payload.iat !== "number" || payload.iat > t + SKEW_S || (typeof payload.exp === "number" && payload.exp < t)) {
    refuse("expired", "the signed metadata is not valid now");
  }
  for (const k of ["iss", "sub", "iat", "exp"]) delete payload[k];
  return payload;
}

async function post(fetch, url, opts) {
  try { return await fetch(url, { method: "POST", ...opts }); } catch (e) { refuse("issuance", url + ": " + e.message); }
}

async function describe(resp, problem) {
  if (problem) return problem(resp);
  try {
    const b = await resp.json();
    return (b.error || b.title || "HTTP " + resp.status) + (b.error_description || b.detail ? ": " + (b.error_description || b.detail) : "");
  } catch (e) { return "HTTP " + resp.status; }
}

async function cNonce(fetch, meta) {
  if (!meta.nonce_endpoint) return undefined;
  const r = await post(fetch, meta.nonce_endpoint, {});
  if (!r.ok) refuse("proof", "nonce endpoint: HTTP " + r.status);
  const n = (await r.json()).c_nonce;
  if (typeof n !== "string" || !n) refuse("proof", "the nonce endpoint gave no c_nonce");
  return n;
}

// request asks for one credential of configuration id, with one retry on
// invalid_nonce (OpenID4VCI 1.0 §8.3.1.2).
async function request(fetch, meta, token, id, key, jwk, problem) {
  for (let attempt = 0; ; attempt++) {
    const nonce = await cNonce(fetch, meta);
    const claims = { aud: meta.credential_issuer, iat: Math.floor(Date.now() / 1000) };
    if (nonce !== undefined) claims.nonce = nonce;
    const proof = await sign(key, { typ: "openid4vci-proof+jwt", jwk }, claims);
    const resp = await post(fetch, meta.credential_endpoint, {
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + token.access_token },
      body: JSON.stringify({ credential_configuration_id: id, proofs: { jwt: [proof] } }),
    });
    if (resp.status === 400 && attempt === 0 && meta.nonce_endpoint) {
      const body = await resp.clone().json().catch(() => ({}));
      if (body.error === "invalid_nonce") continue;
    }
    if (!resp.ok) refuse("issuance", await describe(resp, problem));
    const got = await resp.json();
    const c = got.credentials && got.credentials[0] && got.credentials[0].credential;
    if (typeof c !== "string" || !c || c.length > MAX_CREDENTIAL) refuse("issuance", "no credential in the response for " + id);
    return c;
  }
}

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
const b64std = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

// checkChain verifies x5c (leaf first) up to one of roots and returns the
// leaf certificate and its key. Certificates equal to a root are dropped
// from the end; intermediates must be CAs that may sign certificates.
export async function checkChain(x5c, roots, now) {
  if (!Array.isArray(x5c) || !x5c.length || x5c.length > 4) refuse("untrusted", "no x5c chain");
  let certs;
  try { certs = x5c.map((c) => parseCertificate(b64std(c))); } catch (e) { refuse("untrusted", "x5c: " + e.message); }
  while (certs.length > 1 && roots.some((r) => equal(r.der, certs[certs.length - 1].der))) certs.pop();
  const valid = (c) => now >= c.notBefore && now <= c.notAfter;
  for (let i = 0; i < certs.length; i++) {
    const c = certs[i];
    if (!valid(c)) refuse("untrusted", "a certificate of the chain is outside its validity");
    if (c.sigAlg !== ECDSA_SHA256) refuse("untrusted", "certificate signature algorithm " + c.sigAlg);
    if (i > 0 && (!c.isCA || !(c.keyUsage & KU_KEY_CERT_SIGN))) refuse("untrusted", "an intermediate certificate is not a CA");
    let issuerKey;
    if (i + 1 < certs.length) {
      const up = certs[i + 1];
      if (!equal(c.issuer, up.subject)) refuse("untrusted", "the chain is broken");
      try { issuerKey = await crypto.subtle.importKey("spki", up.spki, EC, false, ["verify"]); } catch (e) { refuse("untrusted", "a CA key is not P-256"); }
    } else {
      const root = roots.find((r) => equal(c.issuer, r.cert.subject) && valid(r.cert));
      if (!root) refuse("untrusted", "the issuer's certificate does not lead to a root of the trust list");
      issuerKey = root.key;
    }
    let ok = false;
    try { ok = await verify(issuerKey, rawSignature(c.signature), c.tbs); } catch (e) { ok = false; }
    if (!ok) refuse("untrusted", "a certificate of the chain is not signed by its issuer");
  }
  const leaf = certs[0];
  if (leaf.isCA || !(leaf.keyUsage & KU_DIGITAL_SIGNATURE)) refuse("untrusted", "the issuer's certificate is not a signing certificate");
  if (leaf.eku.includes(READER_AUTH)) refuse("untrusted", "a verifier's reader certificate cannot sign cards");
  let key;
  try { key = await crypto.subtle.importKey("spki", leaf.spki, EC, false, ["verify"]); } catch (e) { refuse("untrusted", "the issuer's key is not P-256"); }
  return { leaf, key };
}

// issuerNamed applies SD-JWT VC's x5c rule: iss is a URI subjectAltName
// of the leaf, or the leaf names the host of an https iss.
function issuerNamed(leaf, iss) {
  if (leaf.uris.includes(iss)) return true;
  let u;
  try { u = new URL(iss); } catch (e) { return false; }
  return u.protocol === "https:" && leaf.dnsNames.some((d) => d.toLowerCase() === u.hostname.toLowerCase());
}

// verifyIssued checks an issued SD-JWT VC ("JWT~D1~...~Dn~", no key
// binding JWT) before the wallet keeps it. It returns its payload.
export async function verifyIssued(sdjwt, { roots, issuer, vct, jwk, now = new Date() }) {
  if (typeof sdjwt !== "string" || sdjwt.length > MAX_CREDENTIAL || !sdjwt.endsWith("~")) refuse("issuance", "not an issued SD-JWT (JWT~disclosures~)");
  const parts = sdjwt.split("~");
  const jws = parts[0].split(".");
  const discs = parts.slice(1, -1);
  if (jws.length !== 3) refuse("issuance", "the issuer JWT is not a compact JWS");
  let header, payload, sig;
  try {
    header = JSON.parse(fromUtf8(unb64u(jws[0])));
    payload = JSON.parse(fromUtf8(unb64u(jws[1])));
    sig = unb64u(jws[2]);
  } catch (e) { refuse("issuance", "the issuer JWT does not decode"); }
  if (header.alg !== "ES256") refuse("signature", "alg " + header.alg);
  if (header.typ !== SD_JWT_VC) refuse("type", "typ " + header.typ + ", want " + SD_JWT_VC);
  if (header.crit) refuse("issuance", "critical header");
  const { leaf, key } = await checkChain(header.x5c, roots, now);
  if (sig.length !== 64 || !(await verify(key, sig, utf8(jws[0] + "." + jws[1])))) {
    refuse("signature", "the issuer's signature does not verify");
  }
  if (payload.iss !== issuer) refuse("issuer", "iss " + payload.iss + " is not the credential issuer " + issuer);
  if (!issuerNamed(leaf, payload.iss)) refuse("issuer", "iss " + payload.iss + " is not named by the issuer's certificate");
  if (payload.vct !== vct) refuse("type", "vct " + payload.vct + ", the configuration's is " + vct);
  const t = Math.floor(now.getTime() / 1000);
  if (typeof payload.iat === "number" && payload.iat > t + SKEW_S) refuse("expired", "issued in the future");
  if (typeof payload.nbf === "number" && payload.nbf > t + SKEW_S) refuse("expired", "not valid yet");
  if (typeof payload.exp === "number" && payload.exp < t) refuse("expired", "expired");
  if (payload._sd_alg !== undefined && payload._sd_alg !== "sha-256") refuse("disclosure", "_sd_alg " + payload._sd_alg);
  await checkDisclosures(payload, discs);
  const cnf = payload.cnf && payload.cnf.jwk;
  if (!cnf || cnf.kty !== jwk.kty || cnf.crv !== jwk.crv || cnf.x !== jwk.x || cnf.y !== jwk.y) {
    refuse("binding", "the credential is not bound to the key that signed the proof");
  }
  return payload;
}

// checkDisclosures requires every disclosure to decode, to be referenced
// exactly once by a digest in the signed payload or in another referenced
// disclosure, and digests to be unique (RFC 9901 §7.1).
async function checkDisclosures(payload, discs) {
  const byDigest = new Map();
  for (const d of discs) {
    let v;
    try { v = JSON.parse(fromUtf8(unb64u(d))); } catch (e) { refuse("disclosure", "a disclosure does not decode"); }
    if (!Array.isArray(v) || (v.length !== 2 && v.length !== 3) || typeof v[0] !== "string") refuse("disclosure", "a disclosure is not [salt, (name,) value]");
    if (v.length === 3 && (typeof v[1] !== "string" || v[1] === "_sd" || v[1] === "...")) refuse("disclosure", "a disclosure names " + v[1]);
    const dg = b64u(await sha256(utf8(d)));
    if (byDigest.has(dg)) refuse("disclosure", "a disclosure is given twice");
    byDigest.set(dg, { v, used: false });
  }
  const seen = new Set();
  const use = (dg, arrayElement) => {
    if (typeof dg !== "string") refuse("disclosure", "a digest is not a string");
    if (seen.has(dg)) refuse("disclosure", "a digest appears twice");
    seen.add(dg);
    const d = byDigest.get(dg);
    if (!d) return; // a decoy, or a claim not disclosed to the holder
    if ((d.v.length === 2) !== arrayElement) refuse("disclosure", "a disclosure's kind does not match where its digest is");
    d.used = true;
    walk(d.v[d.v.length - 1]);
  };
  const walk = (node) => {
    if (Array.isArray(node)) {
      for (const el of node) {
        if (el && typeof el === "object" && !Array.isArray(el) && Object.keys(el).length === 1 && "..." in el) use(el["..."], true);
        else walk(el);
      }
    } else if (node && typeof node === "object") {
      for (const [k, v] of Object.entries(node)) {
        if (k === "_sd") {
          if (!Array.isArray(v)) refuse("disclosure", "_sd is not an array");
          v.forEach((dg) => use(dg, false));
        } else walk(v);
      }
    }
  };
  walk(payload);
  for (const d of byDigest.values()) if (!d.used) refuse("disclosure", "a disclosure is not referenced by anything the issuer signed");
}

const mget = (m, k) => (m instanceof Map ? m.get(k) : undefined);
const isBytes = (b) => b instanceof Uint8Array;
const CBOR_LIMITS = { maxBytes: MAX_CREDENTIAL, maxItems: 4096, maxDepth: 16 };

// verifyIssuedMdoc checks an issued mdoc (base64url IssuerSigned) before
// the wallet keeps it. It returns the MSO.
export async function verifyIssuedMdoc(b64, { roots, doctype, jwk, now = new Date() }) {
  let is, prot, unprot, payload, sig, mso;
  try {
    is = decode(unb64u(b64), CBOR_LIMITS);
    [prot, unprot, payload, sig] = mget(is, "issuerAuth");
    mso = decode24(decode(payload, CBOR_LIMITS), CBOR_LIMITS);
  } catch (e) { refuse("issuance", "the mdoc does not decode"); }
  if (!isBytes(prot) || !isBytes(payload) || !isBytes(sig) || !(unprot instanceof Map)) refuse("issuance", "issuerAuth is not a COSE_Sign1");
  let alg;
  try { alg = mget(decode(prot, CBOR_LIMITS), 1); } catch (e) { refuse("issuance", "issuerAuth protected header"); }
  if (alg !== -7) refuse("signature", "issuerAuth alg " + alg + ", want ES256 (-7)");
  const x5 = mget(unprot, 33) ?? mget(decode(prot, CBOR_LIMITS), 33);
  const chain = (Array.isArray(x5) ? x5 : [x5]).filter(isBytes).map((d) => btoa(String.fromCharCode(...d)));
  const { key } = await checkChain(chain, roots, now);
  if (sig.length !== 64 || !(await verify(key, sig, encode(["Signature1", prot, new Uint8Array(0), payload])))) {
    refuse("signature", "the mdoc's issuer signature does not verify");
  }
  if (mget(mso, "docType") !== doctype) refuse("type", "docType " + mget(mso, "docType") + ", the configuration's is " + doctype);
  const vi = mget(mso, "validityInfo");
  const until = vi && mget(vi, "validUntil"), from = vi && mget(vi, "validFrom");
  const time = (t) => new Date(t instanceof Tagged ? t.value : t);
  if (!until || time(until) < now || (from && time(from).getTime() > now.getTime() + SKEW_S * 1000)) refuse("expired", "the mdoc is not valid now");
  const dk = mget(mget(mso, "deviceKeyInfo"), "deviceKey");
  const x = dk && mget(dk, -2), y = dk && mget(dk, -3);
  if (!isBytes(x) || !isBytes(y) || mget(dk, 1) !== 2 || mget(dk, -1) !== 1 || b64u(x) !== jwk.x || b64u(y) !== jwk.y) {
    refuse("binding", "the mdoc is not bound to the key that signed the proof");
  }
  const digests = mget(mso, "valueDigests");
  const nss = mget(is, "nameSpaces");
  if (!(nss instanceof Map) || !(digests instanceof Map)) refuse("disclosure", "no name spaces or value digests");
  for (const [ns, items] of nss) {
    const want = mget(digests, ns);
    if (!Array.isArray(items) || !(want instanceof Map)) refuse("disclosure", "name space " + ns + " without digests");
    for (const t of items) {
      let item;
      try { item = decode24(t, CBOR_LIMITS); } catch (e) { refuse("disclosure", "an element does not decode"); }
      const d = mget(want, mget(item, "digestID"));
      const got = await sha256(rawOf(t));
      if (!isBytes(d) || d.length !== got.length || !d.every((b, i) => b === got[i])) {
        refuse("disclosure", "element " + mget(item, "elementIdentifier") + " does not match its digest");
      }
    }
  }
  return mso;
}
