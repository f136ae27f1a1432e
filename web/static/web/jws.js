// The wallet's device key and compact JWS (RFC 7515) signed with it.
//
// The key is an ECDSA P-256 WebCrypto key made non-extractable and kept in
// IndexedDB: the private half cannot be read by any script, only used.
// WebCrypto's ECDSA signature is r||s (64 bytes), exactly the JWS ES256
// signature encoding, so no DER conversion is needed.
import { b64u, b64uJSON, utf8 } from "./b64.js";
import * as kv from "./idb.js";

const ALG = { name: "ECDSA", namedCurve: "P-256" };

// deviceKey returns the stored key pair, making one on first use.
export async function deviceKey() {
  let k = await kv.get("device-key");
  if (!k) {
    k = await crypto.subtle.generateKey(ALG, false, ["sign", "verify"]);
    await kv.set("device-key", k);
  }
  return k;
}

// newDeviceKey replaces the device key (re-enrollment on this device).
export async function newDeviceKey() {
  await kv.del("device-key");
  return deviceKey();
}

// publicJwk is the public half as a JWK {kty, crv, x, y}.
export async function publicJwk(k) {
  const j = await crypto.subtle.exportKey("jwk", k.publicKey);
  return { kty: j.kty, crv: j.crv, x: j.x, y: j.y };
}

// thumbprint is the RFC 7638 JWK thumbprint (SHA-256, base64url).
export async function thumbprint(jwk) {
  const canon = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return b64u(await crypto.subtle.digest("SHA-256", utf8(canon)));
}

// sign returns the compact JWS of payload (an object) under header (alg
// ES256 is set here).
export async function sign(k, header, payload) {
  const input = b64uJSON({ ...header, alg: "ES256" }) + "." + b64uJSON(payload);
  const sig = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k.privateKey, utf8(input));
  return input + "." + b64u(sig);
}

// signBytes signs raw bytes (r||s) for detached uses.
export async function signBytes(k, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, k.privateKey, bytes));
}
