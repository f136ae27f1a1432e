// The OpenWallet Foundation's OpenID4VCI client (@openid4vc/openid4vci)
// collects a card from shenfen's issuer: credential offer by value,
// issuer and authorization server metadata, pre-authorized code token,
// c_nonce, proof JWT signed with the enrolled device key, all three
// credential configurations; the SD-JWT VC is then verified with
// @sd-jwt/core (issuer x5c key, holder binding to the device key).
// Driven by TestOID4VCIInterop (package oid4vc, scripts/test.d/interop-oid4vci.sh):
//   node collect.mjs SETTINGS.json  (offer, server URL, issuer URL, device JWK)
import { readFileSync } from "node:fs";
import { X509Certificate, createHash, randomBytes } from "node:crypto";
import { Openid4vciClient } from "@openid4vc/openid4vci";
import { setGlobalConfig } from "@openid4vc/oauth2";
import { SDJwtInstance } from "@sd-jwt/core";
import { ES256, digest } from "@sd-jwt/crypto-nodejs";
import { SignJWT, importJWK } from "jose";

const s = JSON.parse(readFileSync(process.argv[2], "utf8"));
setGlobalConfig({ allowInsecureUrls: true }); // the test server is loopback http
let checks = 0;
const ok = (cond, msg) => { if (!cond) { console.error("FAIL: " + msg); process.exit(1); } checks++; console.log("ok   " + msg); };

// The issuer's URLs name its public host; the test server listens elsewhere.
const fetchLocal = (url, init) => fetch(String(url).replace(s.issuer, s.server), init);
const { d, ...pub } = s.device_jwk;
const client = new Openid4vciClient({
  callbacks: {
    fetch: fetchLocal,
    hash: (data, alg) => new Uint8Array(createHash(alg.replace("-", "").toLowerCase()).update(data).digest()),
    generateRandom: (n) => new Uint8Array(randomBytes(n)),
    signJwt: async (signer, jwt) => ({
      jwt: await new SignJWT(jwt.payload).setProtectedHeader(jwt.header).sign(await importJWK(s.device_jwk, "ES256")),
      signerJwk: pub,
    }),
    clientAuthentication: () => {},
  },
});

const offer = await client.resolveCredentialOffer("openid-credential-offer://?credential_offer=" + encodeURIComponent(JSON.stringify(s.offer)));
ok(offer.credential_issuer === s.issuer, "offer resolved by oid4vc-ts");
const md = await client.resolveIssuerMetadata(offer.credential_issuer);
ok(Object.keys(md.credentialIssuer.credential_configurations_supported).length === 3, "issuer metadata validated by oid4vc-ts (3 configurations)");
const { accessTokenResponse } = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({ credentialOffer: offer, issuerMetadata: md });
ok(!!accessTokenResponse.access_token, "pre-authorized code exchanged by oid4vc-ts");
const creds = {};
for (const id of offer.credential_configuration_ids) {
  const { c_nonce } = await client.requestNonce({ issuerMetadata: md });
  const { jwt } = await client.createCredentialRequestJwtProof({
    issuerMetadata: md, credentialConfigurationId: id, nonce: c_nonce, signer: { method: "jwk", alg: "ES256", publicJwk: pub },
  });
  const res = await client.retrieveCredentials({ issuerMetadata: md, accessToken: accessTokenResponse.access_token, credentialConfigurationId: id, proof: { proof_type: "jwt", jwt } });
  const c = res.credentialResponse.credentials?.[0]?.credential;
  ok(typeof c === "string" && c.length > 100, "credential " + id + " collected by oid4vc-ts");
  creds[id] = c;
}
// The SD-JWT VC verified by an independent library (@sd-jwt/core: issuer
// signature and disclosures; the test status list host does not exist),
// bound to the device key.
const header = JSON.parse(Buffer.from(creds.pid_sd_jwt.split(".")[0], "base64url"));
const leaf = new X509Certificate(Buffer.from(header.x5c[0], "base64"));
const vc = new SDJwtInstance({ hasher: digest, hashAlg: "sha-256", verifier: await ES256.getVerifier(leaf.publicKey.export({ format: "jwk" })) });
const v = await vc.verify(creds.pid_sd_jwt);
ok(v.payload.cnf.jwk.x === pub.x && v.payload.cnf.jwk.y === pub.y && v.payload.vct === s.vct, "@sd-jwt/core verified the collected card, bound to the device key");
console.log(`oid4vc-ts OpenID4VCI interop: ${checks} checks passed`);
