// The wallet's check of who asks: an OpenID4VP 1.0 request object signed by
// a verifier the authority registered (docs/api.md §3.5). The same algorithm
// as the Go verifier.Checker, in the same order:
//
//  1. a compact JWS, alg ES256, typ oauth-authz-req+jwt, an x5c leaf;
//  2. the leaf certificate issued by the authority's root (ECDSA P-256,
//     SHA-256), valid now, not a CA, digitalSignature, extended key usage
//     mdoc reader authentication: a verifier's certificate, not a card
//     signer's. A leaf checked once is remembered by its hash, so a request
//     costs one signature verification (its own) after the verifier's first;
//  3. the request's signature under the leaf's key;
//  4. client_id: the link's equals the request's; x509_hash:<the leaf's
//     SHA-256> or x509_san_dns:<one of the leaf's DNS names>; nothing else;
//  5. response_type vp_token, response_mode direct_post, response_uri https
//     (http on loopback) on one of the leaf's DNS names;
//  6. exp not passed, iat not in the future, aud the static wallet audience,
//     a nonce;
//  7. one DCQL credential query for the card (dc+sd-jwt or mso_mdoc);
//  8. the authority's registration of that very certificate (looked up by
//     hash: names, purpose, logo, entitled claims): none is "unregistered";
//  9. every claim asked within the registration's entitlements, else
//     "over-asking";
// 10. not answered before (client_id + nonce), else "replay".
//
// No DOM, no storage: the caller gives the root, the registry look-up and
// the replay memory, so that the module also runs under Node (the interop
// suite, scripts/test.d/interop-oid4vc.sh).
import { b64u, unb64u, fromUtf8, sha256, utf8 } from "../web/b64.js";
import { parseCertificate, rawSignature, pemToDER, KU_DIGITAL_SIGNATURE } from "../web/der.js";

export const REQUEST_TYPE = "oauth-authz-req+jwt";
export const STATIC_AUDIENCE = "https://self-issued.me/v2";
export const READER_AUTH = "1.0.18013.5.1.6";
const ECDSA_SHA256 = "1.2.840.10045.4.3.2";
const EC = { name: "ECDSA", namedCurve: "P-256" };
const ES256 = { name: "ECDSA", hash: "SHA-256" };
const MAX_REQUEST = 64 << 10;

// Refused is a request the wallet will not answer; code is one of the Go
// verifier.Refuse* words (malformed, signature, untrusted, client-id,
// response-uri, unregistered, over-asking, expired, replay, unsupported).
export class Refused extends Error {
  constructor(code, message) {
    super(message);
    this.name = "Refused";
    this.code = code;
  }
}
const refuse = (code, msg) => { throw new Refused(code, msg); };

// stats counts ECDSA verifications (the benchmark and the tests read it).
export const stats = { verifications: 0 };

const leafs = new Map(); // base64url SHA-256 of DER -> { cert, key }

const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// loadRoot parses the authority's root certificate (DER, or a trust list
// {anchors: [{pem}]}) into what checkRequest needs.
export async function loadRoot(rootOrList) {
  const der = rootOrList instanceof Uint8Array ? rootOrList : pemToDER(rootOrList.anchors[0].pem);
  const cert = parseCertificate(der);
  if (!cert.isCA) throw new Error("the trust anchor is not a CA");
  const key = await crypto.subtle.importKey("spki", cert.spki, EC, false, ["verify"]);
  return { cert, key, der };
}

async function verify(key, sig, data) {
  stats.verifications++;
  return crypto.subtle.verify(ES256, key, sig, data);
}

// certHash is the x509_hash value of a DER certificate.
export async function certHash(der) {
  return b64u(await sha256(der));
}

async function checkLeaf(der, root, now) {
  const hash = await certHash(der);
  let l = leafs.get(hash);
  if (!l) {
    let cert;
    try { cert = parseCertificate(der); } catch (e) { refuse("untrusted", "x5c: " + e.message); }
    if (cert.sigAlg !== ECDSA_SHA256 || !equal(cert.issuer, root.cert.subject)) {
      refuse("untrusted", "the verifier's certificate is not issued by the authority");
    }
    let ok = false;
    try { ok = await verify(root.key, rawSignature(cert.signature), cert.tbs); } catch (e) { ok = false; }
    if (!ok) refuse("untrusted", "the verifier's certificate is not signed by the authority's root");
    if (cert.isCA || !(cert.keyUsage & KU_DIGITAL_SIGNATURE) || !cert.eku.includes(READER_AUTH)) {
      refuse("untrusted", "the certificate is not a verifier's (mdoc reader authentication)");
    }
    let key;
    try { key = await crypto.subtle.importKey("spki", cert.spki, EC, false, ["verify"]); } catch (e) {
      refuse("untrusted", "the verifier's key is not P-256");
    }
    l = { cert, key, hash };
    if (leafs.size > 1024) leafs.clear();
    leafs.set(hash, l);
  }
  if (now < l.cert.notBefore || now > l.cert.notAfter || now < root.cert.notBefore || now > root.cert.notAfter) {
    refuse("untrusted", "the verifier's certificate is outside its validity");
  }
  return l;
}

function loopback(host) {
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

// claimName is the top-level name of a DCQL claim path (mdoc: the element).
export function claimName(format, path) {
  const p = path[format === "mso_mdoc" ? 1 : 0];
  return typeof p === "string" ? p : "";
}

// checkRequest verifies a request object. opts: root (loadRoot), lookup
// (async certHash -> registration or null), seen (async key -> bool, true
// when answered before; optional), outerClientID (the link's client_id),
// now. It returns {request, verifier, query, claims: [{id, path, name,
// optional}], certHash}.
export async function checkRequest(object, { root, lookup, seen = null, outerClientID = "", now = new Date() }) {
  if (typeof object !== "string" || object.length > MAX_REQUEST) refuse("malformed", "request object missing or too large");
  const parts = object.trim().split(".");
  if (parts.length !== 3) refuse("malformed", "the request object is not a compact JWS");
  let header, payload, sig;
  try {
    header = JSON.parse(fromUtf8(unb64u(parts[0])));
    payload = JSON.parse(fromUtf8(unb64u(parts[1])));
    sig = unb64u(parts[2]);
  } catch (e) { refuse("malformed", "the request object does not decode"); }
  if (header.alg !== "ES256") refuse("malformed", "the request is not signed (alg " + header.alg + ")");
  if (header.typ !== REQUEST_TYPE) refuse("malformed", "typ " + header.typ + ", want " + REQUEST_TYPE);
  if (header.crit) refuse("malformed", "critical header");
  if (!Array.isArray(header.x5c) || !header.x5c.length) refuse("untrusted", "no x5c certificate");
  let der;
  try { der = Uint8Array.from(atob(header.x5c[0]), (c) => c.charCodeAt(0)); } catch (e) { refuse("untrusted", "x5c is not base64"); }
  const leaf = await checkLeaf(der, root, now);
  if (sig.length !== 64 || !(await verify(leaf.key, sig, utf8(parts[0] + "." + parts[1])))) {
    refuse("signature", "the request's signature does not verify under the verifier's certificate");
  }
  const r = payload;
  if (outerClientID && outerClientID !== r.client_id) refuse("client-id", "the link's client_id is not the request's");
  const cid = String(r.client_id || "");
  if (cid.startsWith("x509_hash:")) {
    if (cid.slice(10) !== leaf.hash) refuse("client-id", "x509_hash client_id is not the hash of the certificate");
  } else if (cid.startsWith("x509_san_dns:")) {
    if (!leaf.cert.dnsNames.includes(cid.slice(13))) refuse("client-id", "x509_san_dns client_id is not a DNS name of the certificate");
  } else {
    refuse("client-id", "client_id " + cid + ": x509_san_dns or x509_hash prefix required");
  }
  if (r.response_type !== "vp_token" || (r.response_mode !== "direct_post" && r.response_mode !== "direct_post.jwt")) {
    refuse("unsupported", "response_type " + r.response_type + ", response_mode " + r.response_mode);
  }
  const encryption = r.response_mode === "direct_post.jwt" ? await responseEncryption(r.client_metadata) : null;
  let ru;
  try { ru = new URL(r.response_uri); } catch (e) { refuse("response-uri", "response_uri is not a URL"); }
  if (!(ru.protocol === "https:" || (ru.protocol === "http:" && loopback(ru.hostname))) || ru.username || ru.password || ru.hash) {
    refuse("response-uri", "response_uri must be an https URL");
  }
  if (!leaf.cert.dnsNames.includes(ru.hostname)) refuse("response-uri", "response_uri host " + ru.hostname + " is not a DNS name of the certificate");
  const t = Math.floor(now.getTime() / 1000);
  if (!r.exp || t > r.exp || (r.iat && r.iat > t + 300)) refuse("expired", "the request has expired");
  if (r.aud !== undefined && r.aud !== STATIC_AUDIENCE) refuse("malformed", "aud " + r.aud);
  if (typeof r.nonce !== "string" || !r.nonce || r.nonce.length > 256) refuse("malformed", "nonce missing");
  const creds = r.dcql_query && r.dcql_query.credentials;
  if (!Array.isArray(creds) || creds.length !== 1) refuse("unsupported", "one credential query expected");
  const q = creds[0];
  if ((q.format !== "dc+sd-jwt" && q.format !== "mso_mdoc") || !Array.isArray(q.claims) || !q.claims.length) {
    refuse("unsupported", "query format " + q.format + " without claims");
  }
  const reg = await lookup(leaf.hash);
  if (!reg || reg.cert_hash !== leaf.hash) refuse("unregistered", "no verifier is registered with the authority under this certificate");
  const entitled = new Map((reg.claims || []).map((c) => [c.claim, !!c.optional]));
  const sets = Array.isArray(q.claim_sets) ? q.claim_sets : [];
  const claims = [], over = [];
  for (const c of q.claims) {
    if (!Array.isArray(c.path)) refuse("unsupported", "claim without a path");
    const name = claimName(q.format, c.path);
    if (c.id !== undefined && !/^[A-Za-z0-9_-]{1,64}$/.test(String(c.id))) refuse("malformed", "DCQL claim id " + c.id);
    if (!name) refuse("unsupported", "claim path " + JSON.stringify(c.path));
    if (!entitled.has(name)) over.push(name);
    const optional = !!c.id && sets.length > 0 && sets.some((s) => !s.includes(c.id));
    claims.push({ id: c.id || "", path: c.path, name, optional });
  }
  if (over.length) {
    refuse("over-asking", (reg.name && reg.name.en) + " is not entitled to " + over.join(", "));
  }
  if (seen && (await seen(cid + " " + r.nonce))) refuse("replay", "this request was answered already");
  return { request: r, verifier: reg, query: q, claims, certHash: leaf.hash, encryption };
}

// responseEncryption reads the key of a direct_post.jwt request (as the Go
// verifier's responseEncryption): the first EC P-256 key of
// client_metadata.jwks for encryption (use "enc" or none, alg "ECDH-ES" or
// none), A128GCM unless encrypted_response_enc_values_supported lists
// only A256GCM; a published private key is malformed. It returns {jwk,
// kid, enc}.
async function responseEncryption(meta) {
  const m = meta && typeof meta === "object" ? meta : {};
  let enc = "A128GCM";
  const encs = m.encrypted_response_enc_values_supported;
  if (encs !== undefined) {
    if (Array.isArray(encs) && encs.includes("A128GCM")) enc = "A128GCM";
    else if (Array.isArray(encs) && encs.includes("A256GCM")) enc = "A256GCM";
    else refuse("unsupported", "encrypted_response_enc_values_supported: A128GCM or A256GCM needed");
  }
  const keys = (m.jwks && Array.isArray(m.jwks.keys)) ? m.jwks.keys : [];
  for (const k of keys) {
    if (!k || typeof k !== "object") continue;
    if (k.d) refuse("malformed", "client_metadata.jwks publishes a private key");
    if (k.kty !== "EC" || k.crv !== "P-256" || (k.use && k.use !== "enc") || (k.alg && k.alg !== "ECDH-ES")) continue;
    let x, y;
    try { x = unb64u(k.x); y = unb64u(k.y); } catch (e) { continue; }
    if (x.length !== 32 || y.length !== 32) continue;
    try {
      await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: k.x, y: k.y }, { name: "ECDH", namedCurve: "P-256" }, false, []);
    } catch (e) { continue; } // not a point of the curve
    return { jwk: { kty: "EC", crv: "P-256", x: k.x, y: k.y }, kid: typeof k.kid === "string" ? k.kid : "", enc };
  }
  refuse("unsupported", "direct_post.jwt without a P-256 ECDH-ES key in client_metadata.jwks");
}

// forget clears the remembered verifier certificates (tests).
export function forget() { leafs.clear(); }
