// shenfen's wallet collects from an independent issuer: an OpenID4VCI 1.0
// credential issuer and authorization server built here with the
// OpenWallet Foundation's @openid4vc/openid4vci and @openid4vc/oauth2
// (issuer side: metadata, pre-authorized code token, nonce, credential
// request parsing, proof JWT verification with the expected c_nonce,
// access token check, credential response), issuing SD-JWT VCs with
// @sd-jwt/sd-jwt-vc, under certificates made by openssl. The wallet side
// is the wallet's own module web/static/wallet/collect.js with a WebCrypto
// device key (non-extractable, as in the browser). Then the issuer
// misbehaves in the ways the wallet must catch, one at a time, and the
// wallet must refuse each for the right reason
// (scripts/test.d/interop-wallet-vci.sh):
//   node interop/walletvci/run.mjs
import http from "node:http";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { X509Certificate, createHash, createPrivateKey, randomBytes } from "node:crypto";
import { Openid4vciIssuer, Openid4vciVersion } from "@openid4vc/openid4vci";
import { Oauth2AuthorizationServer, Oauth2ResourceServer, setGlobalConfig } from "@openid4vc/oauth2";
import { SDJwtVcInstance } from "@sd-jwt/sd-jwt-vc";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { SignJWT, compactVerify, importJWK } from "jose";
import * as vci from "../../web/static/wallet/collect.js";
import { publicJwk } from "../../web/static/web/jws.js";

setGlobalConfig({ allowInsecureUrls: true }); // the issuer listens on loopback http
let checks = 0;
const ok = (cond, msg) => {
  if (!cond) { console.error("FAIL: " + msg); process.exit(1); }
  checks++;
  console.log("ok   " + msg);
};

// ---------- the issuer's keys and certificates (openssl) ----------
const dir = mkdtempSync(join(tmpdir(), "walletvci-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const ossl = (...args) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
const file = (n) => join(dir, n);

function newKey(name) {
  ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file(name + ".ec"));
  ossl("pkcs8", "-topk8", "-nocrypt", "-in", file(name + ".ec"), "-out", file(name + ".key"));
  return createPrivateKey(readFileSync(file(name + ".key"))).export({ format: "jwk" });
}
const der = (name) => new X509Certificate(readFileSync(file(name + ".pem"))).raw;
function makeRoot(name) {
  newKey(name);
  ossl("req", "-new", "-x509", "-key", file(name + ".key"), "-out", file(name + ".pem"), "-days", "30", "-subj", "/C=XX/O=Independent/CN=" + name,
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  return new Uint8Array(der(name));
}
function makeLeaf(name, ca, ext) {
  const jwk = newKey(name);
  ossl("req", "-new", "-key", file(name + ".key"), "-out", file(name + ".csr"), "-subj", "/C=XX/O=Independent/CN=" + name);
  writeFileSync(file(name + ".ext"), ext.join("\n") + "\n");
  ossl("x509", "-req", "-in", file(name + ".csr"), "-CA", file(ca + ".pem"), "-CAkey", file(ca + ".key"), "-CAcreateserial",
    "-days", "10", "-out", file(name + ".pem"), "-extfile", file(name + ".ext"));
  return { x5c: [der(name).toString("base64")], jwk };
}

// ---------- the independent issuer (oid4vc-ts, issuer side) ----------
const server = http.createServer((req, res) => handle(req, res).catch((e) => {
  send(res, 500, { error: "server_error", error_description: String(e && e.message) });
}));
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}`;
const issuerURL = base + "/issuer"; // an identifier with a path: well-known insertion is exercised
const VCT = "https://independent.example/vct/person";

const trusted = makeRoot("trusted-root");
makeRoot("foreign-root");
const signerExt = ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "subjectAltName=URI:" + issuerURL];
const signer = makeLeaf("issuer", "trusted-root", signerExt);
const foreignSigner = makeLeaf("foreign-issuer", "foreign-root", signerExt);
const otherNameSigner = makeLeaf("other-name", "trusted-root", ["basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature", "subjectAltName=URI:https://someone-else.example"]);
const readerSigner = makeLeaf("reader", "trusted-root", [...signerExt, "extendedKeyUsage=critical,1.0.18013.5.1.6"]);
const asKey = newKey("as");
const { d: _asD, ...asPub } = asKey;
asPub.kid = "as-1";
asPub.alg = "ES256";

const hash = (data, alg) => new Uint8Array(createHash(alg.replace("-", "").toLowerCase()).update(data).digest());
const callbacks = {
  hash,
  generateRandom: (n) => new Uint8Array(randomBytes(n)),
  fetch: (...a) => fetch(...a),
  clientAuthentication: () => {},
  // The authorization server signs access tokens with its JWK; the issuer
  // signs its metadata with the key of an x5c certificate.
  signJwt: async (s, jwt) => {
    const leaf = s.method === "x5c" ? [signer, foreignSigner, otherNameSigner].find((l) => l.x5c[0] === s.x5c[0]) : null;
    const k = leaf ? leaf.jwk : asKey;
    const { d, ...pub } = k;
    return { jwt: await new SignJWT(jwt.payload).setProtectedHeader(jwt.header).sign(await importJWK(k, "ES256")), signerJwk: pub };
  },
  verifyJwt: async (s, jwt) => {
    if (s.method !== "jwk") return { verified: false };
    try { await compactVerify(jwt.compact, await importJWK(s.publicJwk, s.alg || "ES256")); } catch { return { verified: false }; }
    return { verified: true, signerJwk: s.publicJwk };
  },
};
const issuer = new Openid4vciIssuer({ callbacks });
const as = new Oauth2AuthorizationServer({ callbacks });
const rs = new Oauth2ResourceServer({ callbacks });

const asMetadata = as.createAuthorizationServerMetadata({
  issuer: issuerURL,
  token_endpoint: base + "/token",
  jwks_uri: base + "/jwks",
  grant_types_supported: ["urn:ietf:params:oauth:grant-type:pre-authorized_code"],
  "pre-authorized_grant_anonymous_access_supported": true,
});
const credentialIssuer = issuer.createCredentialIssuerMetadata({
  credential_issuer: issuerURL,
  credential_endpoint: base + "/credential",
  nonce_endpoint: base + "/nonce",
  display: [{ name: "Independent issuer", locale: "en" }],
  credential_configurations_supported: {
    person_sd_jwt: {
      format: "dc+sd-jwt",
      vct: VCT,
      cryptographic_binding_methods_supported: ["jwk"],
      credential_signing_alg_values_supported: ["ES256"],
      proof_types_supported: { jwt: { proof_signing_alg_values_supported: ["ES256"] } },
      credential_metadata: { display: [{ name: "Person", locale: "en" }] },
    },
  },
});
// signed_metadata (OpenID4VCI 1.0 §12.2.3), made by oid4vc-ts: by the
// issuer's certificate, or in the misbehaving modes by a certificate of
// another root or one that names another issuer, naming a log key.
const LOG_KEY = "independent.example/log+0a1b2c3d+AQ" + "A".repeat(42) + "=";
const signedMetadata = async (by) => issuer.createSignedCredentialIssuerMetadataJwt({
  credentialIssuerMetadata: { ...credentialIssuer, shenfen_transparency_log: { verifier_key: LOG_KEY } },
  signer: { method: "x5c", x5c: by.x5c, alg: "ES256" }, issuer: issuerURL,
});
const issuerMetadata = {
  originalDraftVersion: Openid4vciVersion.V1,
  credentialIssuer,
  authorizationServers: [asMetadata],
  knownCredentialConfigurations: issuer.getKnownCredentialConfigurationsSupported(credentialIssuer),
};

// What the issuer does on the next offer: honest, or one misdeed.
let mode = "honest";
const codes = new Map(); // pre-authorized code -> true while unused
const nonces = new Map(); // c_nonce -> expiry
const seen = { proofs: 0, nonceRetries: 0, lastProofNonce: "", lastProofJwk: null };
let staleOnce = false;

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
  res.end(JSON.stringify(body));
}
async function body(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}
const requestLike = (req) => ({ method: req.method, url: base + req.url, headers: new Headers(req.headers) });

async function handle(req, res) {
  const path = new URL(req.url, base).pathname;
  if (req.method === "GET" && path === "/.well-known/openid-credential-issuer/issuer") {
    if (mode === "metadata-issuer") return send(res, 200, { ...credentialIssuer, credential_issuer: base + "/someone-else" });
    const by = { "signed-metadata": signer, "metadata-foreign": foreignSigner, "metadata-other-name": otherNameSigner }[mode];
    if (by) return send(res, 200, { ...credentialIssuer, signed_metadata: await signedMetadata(by) });
    if (mode === "metadata-altered") {
      const [h, p, sg] = (await signedMetadata(signer)).split(".");
      const claims = JSON.parse(Buffer.from(p, "base64url"));
      claims.credential_endpoint = "https://evil.example/credential";
      return send(res, 200, { ...credentialIssuer, signed_metadata: [h, Buffer.from(JSON.stringify(claims)).toString("base64url"), sg].join(".") });
    }
    return send(res, 200, credentialIssuer);
  }
  if (req.method === "GET" && path === "/.well-known/oauth-authorization-server/issuer") return send(res, 200, asMetadata);
  if (req.method === "GET" && path === "/jwks") return send(res, 200, { keys: [asPub] });
  if (req.method === "POST" && path === "/token") {
    const form = Object.fromEntries(new URLSearchParams(await body(req)));
    const parsed = as.parseAccessTokenRequest({ request: requestLike(req), accessTokenRequest: form });
    const code = parsed.grant.preAuthorizedCode || "";
    if (!codes.get(code)) return send(res, 400, { error: "invalid_grant" });
    await as.verifyPreAuthorizedCodeAccessTokenRequest({
      authorizationServerMetadata: asMetadata, grant: parsed.grant, accessTokenRequest: parsed.accessTokenRequest,
      request: requestLike(req), expectedPreAuthorizedCode: code,
    });
    codes.set(code, false);
    const tok = await as.createAccessTokenResponse({
      authorizationServer: issuerURL, audience: issuerURL, subject: "holder-" + code.slice(0, 6), expiresInSeconds: 300,
      signer: { method: "jwk", alg: "ES256", publicJwk: asPub },
    });
    return send(res, 200, tok);
  }
  if (req.method === "POST" && path === "/nonce") {
    const n = Buffer.from(randomBytes(16)).toString("base64url");
    nonces.set(n, Date.now() + 60_000);
    return send(res, 200, issuer.createNonceResponse({ cNonce: n, cNonceExpiresIn: 60 }));
  }
  if (req.method === "POST" && path === "/credential") {
    try {
      await rs.verifyResourceRequest({ request: requestLike(req), resourceServer: issuerURL, authorizationServers: [asMetadata] });
    } catch (e) {
      return send(res, 401, { error: "invalid_token", error_description: e.message });
    }
    const cr = issuer.parseCredentialRequest({ issuerMetadata, credentialRequest: JSON.parse(await body(req)) });
    const jwt = cr.proofs && cr.proofs.jwt && cr.proofs.jwt[0];
    if (cr.credentialConfigurationId !== "person_sd_jwt" || !jwt) return send(res, 400, { error: "invalid_credential_request" });
    const proofNonce = JSON.parse(Buffer.from(jwt.split(".")[1], "base64url")).nonce;
    if (mode === "stale-nonce" && !staleOnce) { // as if the c_nonce had expired meanwhile
      staleOnce = true;
      seen.nonceRetries++;
      return send(res, 400, { error: "invalid_nonce", error_description: "c_nonce expired" });
    }
    const expiry = nonces.get(proofNonce);
    if (!expiry) return send(res, 400, { error: "invalid_nonce" });
    nonces.delete(proofNonce); // single use
    // The library checks typ, alg, aud = the credential issuer, iat, the
    // signature under the header's jwk, and nonce = the one we gave.
    const proof = await issuer.verifyCredentialRequestJwtProof({ issuerMetadata, jwt, expectedNonce: proofNonce, nonceExpiresAt: new Date(expiry) });
    seen.proofs++;
    seen.lastProofNonce = proofNonce;
    seen.lastProofJwk = proof.signer.publicJwk;
    const credential = await issue(proof.signer.publicJwk);
    return send(res, 200, issuer.createCredentialResponse({ credentialRequest: cr, credentials: [{ credential }] }));
  }
  send(res, 404, { error: "not_found" });
}

// issue makes the SD-JWT VC for the holder key, or a bad one in a bad mode.
async function issue(holderJwk) {
  const s = { foreign: foreignSigner, "other-name": otherNameSigner, reader: readerSigner }[mode] || signer;
  const vc = new SDJwtVcInstance({ hasher: digest, hashAlg: "sha-256", signer: await ES256.getSigner(s.jwk), signAlg: "ES256", saltGenerator: () => randomBytes(16).toString("base64url") });
  const now = Math.floor(Date.now() / 1000);
  let cnf = { jwk: holderJwk };
  if (mode === "unbound") {
    const { d, ...other } = newKey("someone-elses-device");
    cnf = { jwk: other };
  }
  const claims = {
    iss: mode === "wrong-iss" ? "https://someone-else.example" : issuerURL,
    vct: mode === "wrong-vct" ? VCT + "-other" : VCT,
    iat: now, exp: now + (mode === "expired" ? -60 : 86400), cnf,
    given_name: "Mei", family_name: "Wang", birthdate: "1990-05-01", address: { locality: "Hangzhou", country: "CN" },
  };
  let c = await vc.issue(claims, { _sd: ["given_name", "family_name", "birthdate", "address"], address: { _sd: ["locality"] } },
    { header: { typ: "dc+sd-jwt", x5c: s.x5c } });
  const [jws, ...rest] = c.split("~");
  const seg = jws.split(".");
  if (mode === "tampered") { // one claim changed after signing
    const p = JSON.parse(Buffer.from(seg[1], "base64url"));
    p.exp += 86400 * 365;
    c = [seg[0], Buffer.from(JSON.stringify(p)).toString("base64url"), seg[2]].join(".") + "~" + rest.join("~");
  }
  if (mode === "extra-disclosure") { // a claim the issuer never signed for
    const d = Buffer.from(JSON.stringify([randomBytes(16).toString("base64url"), "nationality", "XX"])).toString("base64url");
    c = c + d + "~";
  }
  if (mode === "alg-none") c = Buffer.from(JSON.stringify({ alg: "none", typ: "dc+sd-jwt" })).toString("base64url") + "." + seg[1] + ".~" + rest.join("~");
  return c;
}

// ---------- shenfen's wallet collects ----------
const roots = await vci.loadRoots([trusted]);
function offer() {
  const code = randomBytes(16).toString("base64url");
  codes.set(code, true);
  return "openid-credential-offer://?credential_offer=" + encodeURIComponent(JSON.stringify({
    credential_issuer: issuerURL,
    credential_configuration_ids: ["person_sd_jwt"],
    grants: { "urn:ietf:params:oauth:grant-type:pre-authorized_code": { "pre-authorized_code": code } },
  }));
}
const device = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
const deviceJwk = await publicJwk(device);
async function walletCollects() {
  try {
    return { result: await vci.collect(offer(), { fetch, roots, key: device }) };
  } catch (e) {
    if (!(e instanceof vci.Refused)) throw e;
    return { refused: e };
  }
}

mode = "honest";
const before = seen.proofs;
const { result, refused } = await walletCollects();
ok(!refused, "shenfen's wallet collects an SD-JWT VC from the oid4vc-ts issuer" + (refused ? ": " + refused.message : ""));
ok(seen.proofs === before + 1 && seen.lastProofJwk.x === deviceJwk.x && seen.lastProofJwk.y === deviceJwk.y,
  "oid4vc-ts verified the wallet's proof JWT (typ, aud, iat, signature) over the c_nonce it gave, signed by the device key");
const c = result.credentials.person_sd_jwt;
const { d: _sd, ...signerPub } = signer.jwk;
const theirs = new SDJwtVcInstance({ hasher: digest, hashAlg: "sha-256", verifier: await ES256.getVerifier(signerPub) });
const v = await theirs.verify(c);
ok(v.payload.vct === VCT && v.payload.cnf.jwk.x === deviceJwk.x, "the credential the wallet kept verifies with @sd-jwt/sd-jwt-vc and is bound to the device key");
ok(result.metadata.credential_issuer === issuerURL && result.token.token_type.toLowerCase() === "bearer", "the wallet read the issuer and authorization server metadata at their well-known paths (path inserted)");

// The wallet presents what it collected: its SD-JWT module selects the
// disclosures and adds a KB-JWT that @sd-jwt/sd-jwt-vc accepts.
const sdjwt = await import("../../web/static/web/sdjwt.js");
const pres = await sdjwt.present(await sdjwt.parse(c), ["given_name", "address.locality"], "https://verifier.example", "n-0S6_WzA2Mj", device);
const pv = await new SDJwtVcInstance({ hasher: digest, hashAlg: "sha-256", verifier: await ES256.getVerifier(signerPub), kbVerifier: await ES256.getVerifier(deviceJwk) })
  .verify(pres, { keyBindingNonce: "n-0S6_WzA2Mj", requiredClaimKeys: ["given_name"] });
ok(pv.payload.given_name === "Mei" && pv.payload.address.locality === "Hangzhou" && pv.payload.family_name === undefined && pv.kb,
  "a presentation of the collected card (given_name, address.locality) verifies with @sd-jwt/sd-jwt-vc, key binding included");

mode = "signed-metadata";
const sm = await walletCollects();
ok(!sm.refused && sm.result.logKey === LOG_KEY, "the wallet verified oid4vc-ts's signed_metadata (x5c, openidvci-issuer-metadata+jwt) and took the log key it names" +
  (sm.refused ? ": " + sm.refused.message : ""));
ok(result.logKey === null, "without signed metadata the wallet pins no log key from the metadata");

mode = "stale-nonce";
staleOnce = false;
const r2 = await walletCollects();
ok(!r2.refused && seen.nonceRetries === 1, "after invalid_nonce the wallet fetched a new c_nonce and its retry was accepted");

// Each misdeed, and the reason the wallet must give.
const misdeeds = [
  ["tampered", "signature", "a credential altered after signing"],
  ["alg-none", "signature", "an unsigned credential (alg none)"],
  ["foreign", "untrusted", "a credential signed under a root the wallet does not trust"],
  ["reader", "untrusted", "a credential signed with a verifier's reader certificate"],
  ["other-name", "issuer", "a credential whose certificate does not name the issuer"],
  ["wrong-iss", "issuer", "a credential whose iss is not the credential issuer"],
  ["wrong-vct", "type", "a credential of another vct than the configuration's"],
  ["expired", "expired", "an expired credential"],
  ["extra-disclosure", "disclosure", "a disclosure the issuer never signed for"],
  ["unbound", "binding", "a credential bound to another key than the proof's"],
  ["metadata-issuer", "metadata", "issuer metadata naming another credential_issuer"],
  ["metadata-altered", "signature", "signed metadata altered after signing"],
  ["metadata-foreign", "untrusted", "signed metadata under a root the wallet does not trust"],
  ["metadata-other-name", "issuer", "signed metadata whose certificate does not name the issuer"],
];
for (const [m, want, what] of misdeeds) {
  mode = m;
  const r = await walletCollects();
  ok(r.refused && r.refused.code === want, `the wallet refuses ${what} (${r.refused ? r.refused.code + ": " + r.refused.message : "accepted"})`);
}

// Offers the wallet does not take.
const badOffer = async (o, want, what) => {
  let code = "accepted";
  try { await vci.collect(o, { fetch, roots, key: device }); } catch (e) { if (!(e instanceof vci.Refused)) throw e; code = e.code; }
  ok(code === want, `the wallet refuses ${what} (${code})`);
};
mode = "honest";
const tx = JSON.parse(new URL(offer()).searchParams.get("credential_offer"));
tx.grants["urn:ietf:params:oauth:grant-type:pre-authorized_code"].tx_code = { length: 6, input_mode: "numeric" };
await badOffer(tx, "offer", "an offer asking for a transaction code it cannot take");
const plain = JSON.parse(new URL(offer()).searchParams.get("credential_offer"));
await badOffer({ ...plain, credential_issuer: plain.credential_issuer.replace("http://127.0.0.1", "http://issuer.example") }, "offer", "an http issuer off loopback");
await badOffer({ ...plain, credential_configuration_ids: ["not_offered"] }, "metadata", "a configuration the issuer does not describe");

server.close();
console.log(`wallet with an independent issuer (oid4vc-ts, @sd-jwt/sd-jwt-vc): ${checks} checks passed`);
