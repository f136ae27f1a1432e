// The wallet's OpenID4VP response (OpenID4VP 1.0 §8.2, §8.3): the form a
// checked request (request.js) gets posted to its response_uri.
//
// direct_post: vp_token=<the DCQL object as JSON>&state=<state>.
// direct_post.jwt: response=<JWE>, a compact JWE (RFC 7516) to the
// verifier's key from client_metadata.jwks: alg ECDH-ES (direct key
// agreement, RFC 7518 §4.6, with the Concat KDF over SHA-256 and no
// apu/apv), enc A128GCM or A256GCM, kid the key's, an ephemeral P-256 key
// in epk; the plaintext is {"vp_token": {...}, "state": ...}. WebCrypto
// does every step (ECDH, SHA-256, AES-GCM); the ephemeral key is used once.
//
// No DOM, no storage: it also runs under Node (the interop suite).
import { b64u, b64uJSON, utf8 } from "../web/b64.js";

const ENC_BITS = { A128GCM: 128, A256GCM: 256 };

function u32(n) {
  return new Uint8Array([(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let i = 0;
  for (const p of parts) { out.set(p, i); i += p.length; }
  return out;
}

// concatKDF derives the content key of ECDH-ES in direct mode: one round
// of SHA-256(counter || Z || OtherInfo), OtherInfo = AlgorithmID (the enc
// name) || PartyUInfo || PartyVInfo (both empty) || SuppPubInfo (key bits).
async function concatKDF(z, enc, bits) {
  const alg = utf8(enc);
  const info = concat(u32(alg.length), alg, u32(0), u32(0), u32(bits));
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(u32(1), z, info)));
  return d.slice(0, bits / 8);
}

// encrypt returns the compact JWE of payload (an object) to encryption
// ({jwk, kid, enc}, as request.js's checkRequest gives it).
export async function encrypt(encryption, payload) {
  const bits = ENC_BITS[encryption.enc];
  if (!bits) throw new Error("unsupported content encryption " + encryption.enc);
  const EC = { name: "ECDH", namedCurve: "P-256" };
  const theirs = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: encryption.jwk.x, y: encryption.jwk.y }, EC, false, []);
  const eph = await crypto.subtle.generateKey(EC, true, ["deriveBits"]);
  const z = new Uint8Array(await crypto.subtle.deriveBits({ name: "ECDH", public: theirs }, eph.privateKey, 256));
  const epk = await crypto.subtle.exportKey("jwk", eph.publicKey);
  const header = { alg: "ECDH-ES", enc: encryption.enc, epk: { kty: "EC", crv: "P-256", x: epk.x, y: epk.y } };
  if (encryption.kid) header.kid = encryption.kid;
  const protectedHeader = b64uJSON(header);
  const cek = await crypto.subtle.importKey("raw", await concatKDF(z, encryption.enc, bits), "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: utf8(protectedHeader), tagLength: 128 },
    cek, utf8(JSON.stringify(payload))));
  return [protectedHeader, "", b64u(iv), b64u(sealed.subarray(0, sealed.length - 16)), b64u(sealed.subarray(sealed.length - 16))].join(".");
}

// responseBody is the form to post to checked.request.response_uri with
// vpToken (the DCQL object {query id: [presentation]}).
export async function responseBody(checked, vpToken) {
  const body = new URLSearchParams();
  const state = checked.request.state;
  if (checked.request.response_mode === "direct_post.jwt") {
    if (!checked.encryption) throw new Error("direct_post.jwt request without an encryption key");
    const plain = { vp_token: vpToken };
    if (state) plain.state = state;
    body.set("response", await encrypt(checked.encryption, plain));
    return body;
  }
  body.set("vp_token", JSON.stringify(vpToken));
  if (state) body.set("state", state);
  return body;
}
