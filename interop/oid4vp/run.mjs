// OpenID4VP 1.0 interop with the OpenWallet Foundation's oid4vc-ts
// (@openid4vc/openid4vp, its JAR and client-identifier handling) and the
// dcql library, against the server of interop/oidc/server
// (scripts/test.d/interop-oid4vp.sh):
//
//  1. their wallet answers shenfen's front desk: it parses the QR link,
//     resolves the signed request object (x5c chain checked against the
//     authority's root, x509_hash client_id checked by the library), matches
//     the DCQL query with dcql, presents the card with @sd-jwt/sd-jwt-vc
//     (KB-JWT aud = client_id), answers direct_post with the DCQL vp_token;
//     the desk's result must be "verified";
//  2. their wallet signs in to shenfen's OpenID Provider (x509_san_dns
//     client_id): login page, signed request, DCQL, direct_post, the
//     login's finish (no second consent), code, token; the ID token must carry a pairwise sub;
//  3. their verifier checks shenfen's wallet: Openid4vpVerifier makes a
//     signed request (JAR, x5c of a verifier the authority registered);
//     shenfen's wallet modules (web/static/wallet/request.js, web/sdjwt.js)
//     check it and answer; the library validates the response against the
//     DCQL query, dcql validates the presentation result, and
//     @sd-jwt/sd-jwt-vc verifies the SD-JWT VC and its KB-JWT;
//  4. refusals: their wallet refuses a desk request whose client_id was
//     changed in the link, and shenfen's wallet refuses their verifier's
//     request when it over-asks or is signed by an unregistered key.
import { readFileSync } from "node:fs";
import { X509Certificate, createHash, randomBytes, webcrypto } from "node:crypto";
import { Openid4vpClient, Openid4vpVerifier, validateOpenid4vpAuthorizationResponsePayload } from "@openid4vc/openid4vp";
import { setGlobalConfig } from "@openid4vc/oauth2";
import { DcqlQuery, DcqlPresentationResult } from "dcql";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { StatusList, createHeaderAndPayload } from "@sd-jwt/jwt-status-list";
import { SignJWT, CompactEncrypt, compactDecrypt, compactVerify, exportJWK, generateKeyPair, importJWK, importX509, decodeJwt, decodeProtectedHeader } from "jose";
import * as rq from "../../web/static/wallet/request.js";
import * as sdjwt from "../../web/static/web/sdjwt.js";
import * as respond from "../../web/static/wallet/respond.js";
import { parse as parseMdoc, DeviceResponse } from "@auth0/mdl";
import { cborDecode, cborEncode } from "@auth0/mdl/lib/cbor/index.js";

const s = JSON.parse(readFileSync(process.argv[2], "utf8"));
// The test servers listen on loopback http; the library insists on https
// unless told otherwise. Nothing else is relaxed.
setGlobalConfig({ allowInsecureUrls: true });
let checks = 0;
const fail = (msg) => { console.error("FAIL: " + msg); process.exit(1); };
const ok = (cond, msg) => { if (!cond) fail(msg); checks++; console.log("ok   " + msg); };

const roots = [new X509Certificate(s.desk.root), new X509Certificate(s.sign_in_root)];
const pem = (b64) => "-----BEGIN CERTIFICATE-----\n" + b64.match(/.{1,64}/g).join("\n") + "\n-----END CERTIFICATE-----\n";

// Their wallet's callbacks: verifyJwt checks an x5c chain up to one of the
// authority's roots with node:crypto and the signature with jose; the
// library itself checks the client identifier against the certificate.
const callbacks = {
  hash: (data, alg) => new Uint8Array(createHash(alg.replace("-", "").toLowerCase()).update(data).digest()),
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
  fetch: (...a) => fetch(...a),
  getX509CertificateMetadata: (cert) => {
    const c = new X509Certificate(Buffer.from(cert, "base64"));
    const san = c.subjectAltName || "";
    return {
      sanDnsNames: san.split(", ").filter((x) => x.startsWith("DNS:")).map((x) => x.slice(4)),
      sanUriNames: san.split(", ").filter((x) => x.startsWith("URI:")).map((x) => x.slice(4)),
    };
  },
  verifyJwt: async (signer, jwt) => {
    if (signer.method !== "x5c") return { verified: false };
    const leaf = new X509Certificate(Buffer.from(signer.x5c[0], "base64"));
    const root = roots.find((r) => leaf.checkIssued(r) && leaf.verify(r.publicKey));
    if (!root) return { verified: false };
    const key = await importX509(pem(signer.x5c[0]), "ES256");
    try { await compactVerify(jwt.compact, key); } catch { return { verified: false }; }
    return { verified: true, signerJwk: leaf.publicKey.export({ format: "jwk" }) };
  },
  signJwt: async (signer, jwt) => {
    const key = await importJWK(s.desk.online.jwk, "ES256");
    const out = await new SignJWT(jwt.payload).setProtectedHeader(jwt.header).sign(key);
    return { jwt: out, signerJwk: { kty: "EC", crv: "P-256", x: s.desk.online.jwk.x, y: s.desk.online.jwk.y } };
  },
};
// Encrypted responses (direct_post.jwt): their wallet encrypts with jose
// (ECDH-ES, the enc and apu/apv the library chooses); their verifier
// decrypts with jose under its ephemeral key.
const theirEncKey = await generateKeyPair("ECDH-ES", { crv: "P-256", extractable: true });
const theirEncJwk = { ...(await exportJWK(theirEncKey.publicKey)), use: "enc", alg: "ECDH-ES", kid: "their-enc-1" };
callbacks.encryptJwe = async (enc, data) => {
  const h = { alg: enc.alg, enc: enc.enc };
  if (enc.publicJwk.kid) h.kid = enc.publicJwk.kid;
  const kmp = {};
  if (enc.apu) kmp.apu = Buffer.from(enc.apu, "base64url");
  if (enc.apv) kmp.apv = Buffer.from(enc.apv, "base64url");
  const jwe = await new CompactEncrypt(new TextEncoder().encode(data)).setProtectedHeader(h).setKeyManagementParameters(kmp)
    .encrypt(await importJWK(enc.publicJwk, "ECDH-ES"));
  return { jwe, encryptionJwk: enc.publicJwk };
};
callbacks.decryptJwe = async (jwe) => {
  try {
    const { plaintext } = await compactDecrypt(jwe, theirEncKey.privateKey, { keyManagementAlgorithms: ["ECDH-ES"], contentEncryptionAlgorithms: ["A128GCM", "A256GCM"] });
    return { decrypted: true, decryptionJwk: theirEncJwk, payload: new TextDecoder().decode(plaintext) };
  } catch { return { decrypted: false }; }
};
const jarmServer = { authorization_encryption_alg_values_supported: ["ECDH-ES"], authorization_encryption_enc_values_supported: ["A128GCM", "A256GCM"] };
const theirWallet = new Openid4vpClient({ callbacks });

// The card for their wallet: the SD-JWT VC and its device key.
const { d, ...holderPub } = s.holder_jwk;
const vcLib = new SDJwtVcInstance({ hasher: digest, hashAlg: "sha-256", kbSigner: await ES256.getSigner(s.holder_jwk), kbSignAlg: "ES256" });
const cardClaims = await vcLib.getClaims(s.card);

// answerWith runs their wallet on an OpenID4VP link: resolve, match DCQL,
// present, submit. It returns the submit response.
async function answerWith(link, frameFor = (q) => q) {
  const parsed = theirWallet.parseOpenid4vpAuthorizationRequest({ authorizationRequest: link });
  const resolved = await theirWallet.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params });
  const req = resolved.authorizationRequestPayload;
  const query = DcqlQuery.parse(resolved.dcql.query);
  DcqlQuery.validate(query);
  const match = DcqlQuery.query(query, [{ credential_format: "dc+sd-jwt", vct: cardClaims.vct, claims: cardClaims, cryptographic_holder_binding: true }]);
  if (!match.can_be_satisfied) throw new Error("dcql: the card cannot satisfy the query");
  const frame = {};
  for (const c of query.credentials[0].claims) {
    let f = frame;
    c.path.forEach((p, i) => { if (i === c.path.length - 1) f[p] = true; else f = f[p] = f[p] || {}; });
  }
  const vp = await vcLib.present(s.card, frameFor(frame), { kb: { payload: { iat: Math.floor(Date.now() / 1000), aud: req.client_id, nonce: req.nonce } } });
  const encrypted = req.response_mode === "direct_post.jwt";
  const { authorizationResponsePayload, jarm } = await theirWallet.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: req, authorizationResponsePayload: { vp_token: { [query.credentials[0].id]: [vp] } },
    jarm: encrypted ? { encryption: {}, serverMetadata: jarmServer } : undefined,
  });
  const { response } = await theirWallet.submitOpenid4vpAuthorizationResponse({ authorizationRequestPayload: req, authorizationResponsePayload, jarm });
  return { response, resolved, jwe: jarm && jarm.responseJwt };
}

// ---------- 1. their wallet answers the desk ----------
async function deskRequest(body = {}) {
  const r = await fetch(s.desk.url + "/api/verifier/requests", {
    method: "POST", headers: { "content-type": "application/json", authorization: "Bearer " + s.desk.token }, body: JSON.stringify(body),
  });
  ok(r.status === 201, "desk request created (" + r.status + ")");
  return r.json();
}
{
  const req = await deskRequest();
  const { response, resolved } = await answerWith(req.qr);
  ok(resolved.client.prefix === "x509_hash" && resolved.jar && resolved.jar.signer.method === "x5c",
    "oid4vc-ts resolved the desk's signed request (x509_hash, x5c): " + resolved.client.prefix);
  ok(response.status === 200, "desk accepted oid4vc-ts's direct_post (" + response.status + ")");
  const res = await (await fetch(s.desk.url + "/api/verifier/requests/" + req.id, { headers: { authorization: "Bearer " + req.result_token } })).json();
  ok(res.status === "verified" && res.claims.family_name === cardClaims.family_name, "desk verified oid4vc-ts's presentation: " + res.status);

  // Optional claim left out (the picture): still verified, without it.
  const req2 = await deskRequest();
  const { response: r2 } = await answerWith(req2.qr, (f) => { delete f.picture; return f; });
  const res2 = await (await fetch(s.desk.url + "/api/verifier/requests/" + req2.id, { headers: { authorization: "Bearer " + req2.result_token } })).json();
  ok(r2.status === 200 && res2.status === "verified" && res2.claims.picture === undefined, "optional claim left out by oid4vc-ts: verified without it");

  // An encrypted response (direct_post.jwt): their wallet encrypts to the
  // desk's ephemeral key from the signed request, the desk decrypts.
  const req4 = await deskRequest({ response_mode: "direct_post.jwt" });
  const { response: r4, resolved: res4r, jwe } = await answerWith(req4.qr);
  const jh = decodeProtectedHeader(jwe);
  const res4 = await (await fetch(s.desk.url + "/api/verifier/requests/" + req4.id, { headers: { authorization: "Bearer " + req4.result_token } })).json();
  ok(res4r.authorizationRequestPayload.client_metadata.jwks.keys[0].use === "enc" && jh.alg === "ECDH-ES" && jh.kid === res4r.authorizationRequestPayload.client_metadata.jwks.keys[0].kid &&
    r4.status === 200 && res4.status === "verified" && res4.claims.family_name === cardClaims.family_name,
    `desk decrypted and verified oid4vc-ts's direct_post.jwt response (${jh.alg}/${jh.enc}${jh.apv ? ", apv" : ""}): ${res4.status}`);

  // The link's client_id changed: their wallet refuses.
  const req3 = await deskRequest();
  const bad = req3.qr.replace(/client_id=[^&]+/, "client_id=" + encodeURIComponent("x509_hash:" + "A".repeat(43)));
  let refused = false;
  try { await answerWith(bad); } catch { refused = true; }
  ok(refused, "oid4vc-ts refuses a desk request whose link names another client_id");
}

// ---------- 1b. their wallet answers the desk with the mdoc ----------
// The desk's mso_mdoc request, resolved by oid4vc-ts and matched by dcql;
// the DeviceResponse made by @auth0/mdl from the card's IssuerSigned (as
// issued by shenfen) with the device key, over the OpenID4VP 1.0 session
// transcript (OpenID4VPHandover: SHA-256 of [client_id, nonce, null,
// response_uri]); the desk verifies it.
// With direct_post.jwt the transcript also binds the JWK SHA-256
// thumbprint of the desk's encryption key, and their wallet encrypts.
async function mdocAnswer(mode) {
  const req = await deskRequest({ format: "mso_mdoc", claims: ["family_name", "given_name"], response_mode: mode });
  const parsed = theirWallet.parseOpenid4vpAuthorizationRequest({ authorizationRequest: req.qr });
  const resolved = await theirWallet.resolveOpenId4vpAuthorizationRequest({ authorizationRequestPayload: parsed.params });
  const r = resolved.authorizationRequestPayload;
  const query = DcqlQuery.parse(resolved.dcql.query);
  DcqlQuery.validate(query);
  const issuerSigned = cborDecode(Buffer.from(s.mdoc, "base64url"));
  const mdoc = parseMdoc(cborEncode(new Map([["version", "1.0"], ["documents", [new Map([["docType", s.doctype], ["issuerSigned", issuerSigned]])]], ["status", 0]])));
  const ns = mdoc.documents[0].getIssuerNameSpace(s.namespace);
  const match = DcqlQuery.query(query, [{ credential_format: "mso_mdoc", doctype: s.doctype, namespaces: { [s.namespace]: ns }, cryptographic_holder_binding: true }]);
  let thumb = null;
  if (mode === "direct_post.jwt") {
    const k = r.client_metadata.jwks.keys[0];
    thumb = createHash("sha256").update(JSON.stringify({ crv: k.crv, kty: k.kty, x: k.x, y: k.y })).digest();
  }
  const info = cborEncode([r.client_id, r.nonce, thumb, r.response_uri]);
  const st = cborEncode([null, null, ["OpenID4VPHandover", createHash("sha256").update(info).digest()]]);
  const head = st.length < 24 ? [0x40 | st.length] : st.length < 256 ? [0x58, st.length] : [0x59, st.length >> 8, st.length & 255];
  const pd = { id: "desk", input_descriptors: [{ id: s.doctype, format: { mso_mdoc: { alg: ["ES256"] } },
    constraints: { limit_disclosure: "required", fields: query.credentials[0].claims.map((c) => ({ path: [`$['${c.path[0]}']['${c.path[1]}']`], intent_to_retain: false })) } }] };
  const dr = await DeviceResponse.from(mdoc).usingPresentationDefinition(pd)
    .usingSessionTranscriptBytes(Buffer.from([0xd8, 0x18, ...head, ...st]))
    .authenticateWithSignature({ ...s.holder_jwk, kid: "device-1" }, "ES256").sign();
  const { authorizationResponsePayload, jarm } = await theirWallet.createOpenid4vpAuthorizationResponse({
    authorizationRequestPayload: r, authorizationResponsePayload: { vp_token: { [query.credentials[0].id]: [Buffer.from(dr.encode()).toString("base64url")] } },
    jarm: mode === "direct_post.jwt" ? { encryption: {}, serverMetadata: jarmServer } : undefined,
  });
  const { response } = await theirWallet.submitOpenid4vpAuthorizationResponse({ authorizationRequestPayload: r, authorizationResponsePayload, jarm });
  const res = await (await fetch(s.desk.url + "/api/verifier/requests/" + req.id, { headers: { authorization: "Bearer " + req.result_token } })).json();
  return { match, response, res };
}
{
  const { match, response, res } = await mdocAnswer("direct_post");
  ok(match.can_be_satisfied, "dcql: the card's mdoc (parsed by @auth0/mdl) satisfies the desk's mso_mdoc query");
  ok(response.status === 200 && res.status === "verified" && res.format === "mso_mdoc" && res.claims.family_name === cardClaims.family_name && res.claims.birthdate === undefined,
    `desk verified an mdoc DeviceResponse made by @auth0/mdl and sent by oid4vc-ts: ${res.status} ${res.error || ""}`);
  const enc = await mdocAnswer("direct_post.jwt");
  ok(enc.response.status === 200 && enc.res.status === "verified" && enc.res.format === "mso_mdoc",
    `desk verified the same over direct_post.jwt, the transcript binding its key's thumbprint: ${enc.res.status} ${enc.res.error || ""}`);
}

// ---------- 2. their wallet signs in to the OpenID Provider ----------
function browser() {
  const jar = new Map();
  return async function go(url, init = {}) {
    const u = new URL(url);
    const cookie = [...jar].filter(([k]) => k.startsWith(u.host + "|")).map(([k, v]) => k.split("|")[1] + "=" + v).join("; ");
    const res = await fetch(url, { ...init, redirect: "manual", headers: { ...(init.headers || {}), ...(cookie ? { cookie } : {}) } });
    for (const c of res.headers.getSetCookie()) {
      const [kv] = c.split(";");
      const i = kv.indexOf("=");
      jar.set(u.host + "|" + kv.slice(0, i), kv.slice(i + 1));
    }
    return res;
  };
}
const unescape = (x) => x.replace(/&amp;/g, "&").replace(/&#43;/g, "+").replace(/&#34;/g, '"').replace(/&#39;/g, "'");
{
  const go = browser();
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  const auth = new URL(s.issuer + "/authorize");
  const nonce = randomBytes(8).toString("hex");
  Object.entries({ client_id: s.hotel.client_id, response_type: "code", redirect_uri: s.redirect_uri, scope: "openid profile id_number",
    state: "st", nonce, code_challenge: challenge, code_challenge_method: "S256" }).forEach(([k, v]) => auth.searchParams.set(k, v));
  let res = await go(auth.href);
  const loginURL = new URL(res.headers.get("location"), auth).href;
  res = await go(loginURL);
  const page = await res.text();
  const m = page.match(/#\/approve\?client_id=([^&"]*)&amp;request_uri=([^"]+)"/);
  ok(!!m, "login page links the wallet with client_id and request_uri");
  const link = "openid4vp://?client_id=" + m[1] + "&request_uri=" + m[2];
  const { response, resolved } = await answerWith(unescape(link));
  ok(resolved.client.prefix === "x509_san_dns", "oid4vc-ts resolved the sign-in's signed request (" + resolved.client.prefix + ")");
  ok(response.status === 200, "provider accepted oid4vc-ts's DCQL vp_token (" + response.status + ")");
  res = await go(loginURL.replace("/login?", "/finish?"));
  ok(res.status === 302, "the login's finish answers the RP with no second consent (" + res.status + ")");
  const cb = new URL(res.headers.get("location"));
  const tok = await fetch(s.issuer + "/oauth/token", {
    method: "POST", body: new URLSearchParams({ grant_type: "authorization_code", code: cb.searchParams.get("code"), redirect_uri: s.redirect_uri, code_verifier: verifier }),
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic " + Buffer.from(s.hotel.client_id + ":" + s.hotel.client_secret).toString("base64") },
  });
  const t = await tok.json();
  const idt = decodeJwt(t.id_token);
  ok(tok.status === 200 && idt.nonce === nonce && idt.sub && idt.sub !== s.id_number && idt.id_number === s.id_number,
    "signed in with oid4vc-ts's wallet: pairwise sub " + String(idt.sub).slice(0, 10) + "…");
}

// ---------- 3. their verifier checks shenfen's wallet ----------
const theirVerifier = new Openid4vpVerifier({ callbacks });
const registry = async (h) => {
  const r = await fetch(s.desk.url + "/api/verifiers/" + encodeURIComponent(h));
  return r.status === 200 ? r.json() : null;
};
const root = await rq.loadRoot({ anchors: [{ pem: s.desk.root }] });
async function theirRequest(claims, signerX5c = s.desk.online.x5c, mode = "direct_post") {
  const dcql = { credentials: [{ id: "pid", format: "dc+sd-jwt", meta: { vct_values: [s.desk.vct] },
    claims: claims.map((c) => ({ id: c.join("_"), path: c })) }] };
  const nonce = randomBytes(16).toString("base64url");
  const { authorizationRequest, jar } = await theirVerifier.createOpenId4vpAuthorizationRequest({
    authorizationRequestPayload: { response_type: "vp_token", client_id: s.desk.online.client_id, response_mode: mode,
      response_uri: s.desk.url + "/their-verifier/response", nonce, dcql_query: dcql, aud: rq.STATIC_AUDIENCE,
      ...(mode === "direct_post.jwt" ? { client_metadata: { jwks: { keys: [theirEncJwk] }, encrypted_response_enc_values_supported: ["A256GCM"] } } : {}) },
    jar: { jwtSigner: { method: "x5c", x5c: signerX5c, alg: "ES256" }, requestUri: s.desk.url + "/their-verifier/request", expiresInSeconds: 300 },
  });
  return { object: jar.authorizationRequestJwt, link: authorizationRequest, dcql, nonce };
}
{
  const { object, dcql } = await theirRequest([["age_equal_or_over", "18"], ["given_name"]]);
  const checked = await rq.checkRequest(object, { root, lookup: registry, outerClientID: s.desk.online.client_id });
  ok(checked.verifier.name.en === "Bar", "shenfen's wallet accepted oid4vc-ts's signed request and names the registered verifier: " + checked.verifier.name.zh);
  // shenfen's wallet presents with its own modules; the device key is the card's.
  const key = { privateKey: await webcrypto.subtle.importKey("jwk", s.holder_jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]) };
  const card = await sdjwt.parse(s.card);
  const vp = await sdjwt.present(card, checked.claims.map((c) => c.path.join(".")), checked.request.client_id, checked.request.nonce, key);
  const responsePayload = { vp_token: { [checked.query.id]: [vp] } };
  const v = validateOpenid4vpAuthorizationResponsePayload({ authorizationRequestPayload: checked.request, authorizationResponsePayload: responsePayload });
  ok(v.type === "dcql", "oid4vc-ts validated shenfen's wallet response as a DCQL response");
  // The test cards name a status list on a host that does not exist: their
  // verifier is given one (made with @sd-jwt/jwt-status-list) where the
  // card is valid.
  const statusKeys = await ES256.generateKeyPair();
  const ref = cardClaims.status.status_list;
  const list = new StatusList(new Array(Math.max(128, ref.idx + 8)).fill(0), 2);
  const { header: slh, payload: slp } = createHeaderAndPayload(list, { iss: "https://id.shenfen.test", sub: ref.uri, iat: Math.floor(Date.now() / 1000) },
    { alg: "ES256", typ: "statuslist+jwt" });
  const statusJWT = await new SignJWT(slp).setProtectedHeader(slh).sign(await importJWK(statusKeys.privateKey, "ES256"));
  const sd = new SDJwtVcInstance({
    hasher: digest, hashAlg: "sha-256",
    statusListFetcher: async (uri) => { if (uri !== ref.uri) throw new Error("status uri " + uri); return statusJWT; },
    statusVerifier: await ES256.getVerifier(statusKeys.publicKey),
    verifier: async (data, sig) => {
      const header = JSON.parse(Buffer.from(vp.split(".")[0], "base64url"));
      const leaf = new X509Certificate(Buffer.from(header.x5c[0], "base64"));
      return (await ES256.getVerifier(leaf.publicKey.export({ format: "jwk" })))(data, sig);
    },
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
  });
  const res = await sd.verify(vp, { keyBindingNonce: checked.request.nonce, requireKeyBindings: true });
  ok(res.kb.payload.aud === s.desk.online.client_id && res.payload.age_equal_or_over["18"] === true,
    "@sd-jwt/sd-jwt-vc verified shenfen's wallet presentation (issuer signature, KB-JWT aud and nonce)");
  const pres = DcqlPresentationResult.fromDcqlPresentation({ pid: [{ credential_format: "dc+sd-jwt", vct: res.payload.vct, claims: res.payload, cryptographic_holder_binding: true }] },
    { dcqlQuery: DcqlQuery.parse(dcql) });
  ok(pres.can_be_satisfied, "dcql: shenfen's wallet presentation satisfies their verifier's query");
}
{
  // An encrypted response: their verifier asks for direct_post.jwt with
  // its ephemeral key (A256GCM only); shenfen's wallet encrypts its answer
  // (respond.js, WebCrypto ECDH-ES) and their verifier decrypts it.
  const { object } = await theirRequest([["age_equal_or_over", "18"]], s.desk.online.x5c, "direct_post.jwt");
  const checked = await rq.checkRequest(object, { root, lookup: registry, outerClientID: s.desk.online.client_id });
  const key = { privateKey: await webcrypto.subtle.importKey("jwk", s.holder_jwk, { name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]) };
  const vp = await sdjwt.present(await sdjwt.parse(s.card), checked.claims.map((c) => c.path.join(".")), checked.request.client_id, checked.request.nonce, key);
  const body = await respond.responseBody(checked, { [checked.query.id]: [vp] });
  const jh = decodeProtectedHeader(body.get("response"));
  const parsed = await theirVerifier.parseOpenid4vpAuthorizationResponse({
    authorizationResponse: Object.fromEntries(body), authorizationRequestPayload: checked.request, callbacks,
  });
  ok(checked.encryption.enc === "A256GCM" && !body.has("vp_token") && jh.alg === "ECDH-ES" && jh.enc === "A256GCM" && jh.kid === "their-enc-1" &&
    parsed.type === "dcql" && parsed.authorizationResponsePayload.vp_token.pid[0] === vp,
    "oid4vc-ts decrypted shenfen's wallet direct_post.jwt response (ECDH-ES/A256GCM, kid) and validated it as a DCQL response");
  let refusedPlain = false;
  try {
    await theirVerifier.parseOpenid4vpAuthorizationResponse({ authorizationResponse: { vp_token: { pid: [vp] } }, authorizationRequestPayload: checked.request, callbacks });
  } catch { refusedPlain = true; }
  ok(refusedPlain, "oid4vc-ts refuses a plain response to its direct_post.jwt request (the control)");
  const j128 = await respond.encrypt({ jwk: theirEncJwk, kid: "their-enc-1", enc: "A128GCM" }, { vp_token: { pid: [vp] }, state: "s" });
  const { plaintext, protectedHeader: ph } = await compactDecrypt(j128, theirEncKey.privateKey);
  ok(ph.enc === "A128GCM" && JSON.parse(new TextDecoder().decode(plaintext)).vp_token.pid[0] === vp, "jose decrypts shenfen's wallet ECDH-ES/A128GCM JWE too");
}
{
  // Over-asking: the bar is registered for age and given name only.
  const { object } = await theirRequest([["age_equal_or_over", "18"], ["id_number"]]);
  let code = "";
  try { await rq.checkRequest(object, { root, lookup: registry }); } catch (e) { code = e.code; }
  ok(code === "over-asking", "shenfen's wallet refuses oid4vc-ts's over-asking request (" + code + ")");
  // Signed by a key the authority never certified (a self-made certificate).
  const leaf = await selfSigned();
  const r2 = await theirRequest([["age_equal_or_over", "18"]], [leaf]).catch((e) => ({ error: e }));
  code = "";
  if (r2.object) { try { await rq.checkRequest(r2.object, { root, lookup: registry }); } catch (e) { code = e.code; } }
  ok(code === "untrusted" || code === "signature", "shenfen's wallet refuses a request signed under a certificate the authority did not issue (" + code + ")");
}

// selfSigned is a certificate for the online verifier's own key, signed by
// that key itself (not by the authority).
async function selfSigned() {
  const { execFileSync } = await import("node:child_process");
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { createPrivateKey } = await import("node:crypto");
  const dir = mkdtempSync("/tmp/oid4vp-");
  writeFileSync(dir + "/k.pem", createPrivateKey({ key: s.desk.online.jwk, format: "jwk" }).export({ format: "pem", type: "pkcs8" }));
  execFileSync("openssl", ["req", "-new", "-x509", "-key", dir + "/k.pem", "-out", dir + "/c.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
    "-addext", "subjectAltName=DNS:127.0.0.1", "-addext", "extendedKeyUsage=critical,1.0.18013.5.1.6"], { stdio: "ignore" });
  return new X509Certificate(readFileSync(dir + "/c.pem")).raw.toString("base64");
}

console.log(`oid4vc-ts / dcql interop: ${checks} checks passed`);
