// shenfen's own wallet module (web/static/wallet/collect.js, as the browser
// wallet runs it) collects a card from shenfen's issuer and verifies each
// SD-JWT VC before keeping it: x5c chain to the issuer's root, signature,
// iss, vct, disclosures, cnf = the device key. Driven by TestOID4VCIInterop
// after the independent client's run (collect.mjs):
//   node wallet.mjs SETTINGS.json  (offer, server URL, issuer URL, root, device JWK)
import { readFileSync } from "node:fs";
import * as vci from "../../web/static/wallet/collect.js";

const s = JSON.parse(readFileSync(process.argv[2], "utf8"));
const fetchLocal = (url, init) => fetch(String(url).replace(s.issuer, s.server), init);
const EC = { name: "ECDSA", namedCurve: "P-256" };
const { d, ...pub } = s.device_jwk;
const device = {
  privateKey: await crypto.subtle.importKey("jwk", s.device_jwk, EC, false, ["sign"]),
  publicKey: await crypto.subtle.importKey("jwk", pub, EC, true, ["verify"]),
};
const roots = await vci.loadRoots([new Uint8Array(Buffer.from(s.root, "base64"))]);
const before = vci.stats.verifications;
const got = await vci.collect(s.offer, { fetch: fetchLocal, roots, key: device });
const n = vci.stats.verifications - before;
// Two verifications (chain, signature) for each of the signed metadata,
// the SD-JWT VC, the mdoc and the compact mdoc; the log key comes from the
// signed metadata.
if (Object.keys(got.credentials).length !== 3 || n !== 8 || got.logKey !== s.log_key) {
  console.error(`FAIL: collected ${Object.keys(got.credentials)}, ${n} verifications, log key ${got.logKey}`);
  process.exit(1);
}
// The same card with one byte of the issuer's signature changed is refused.
const sd = got.credentials.pid_sd_jwt;
const i = sd.indexOf("~") - 5;
const bad = sd.slice(0, i) + (sd[i] === "A" ? "B" : "A") + sd.slice(i + 1);
let code = "accepted";
try {
  await vci.verifyIssued(bad, { roots, issuer: got.issuer, vct: s.vct, jwk: pub });
} catch (e) { code = e.code; }
if (code !== "signature") { console.error("FAIL: a card with an altered signature: " + code); process.exit(1); }
// The mdoc with one element's value changed, or checked against another
// device key, is refused.
const md = Buffer.from(got.credentials.pid_mdoc, "base64url");
const at = md.indexOf(Buffer.from("family_name")) + 30;
const mdBad = Buffer.from(md);
mdBad[at] ^= 1;
const mdocCode = async (b, jwk = pub) => {
  try { await vci.verifyIssuedMdoc(b.toString("base64url"), { roots, doctype: s.doctype, jwk }); return "accepted"; } catch (e) { return e.code || e.message; }
};
const okMdoc = await mdocCode(md);
const alteredMdoc = await mdocCode(mdBad);
const otherKey = await crypto.subtle.generateKey(EC, true, ["sign"]);
const otherJwk = await crypto.subtle.exportKey("jwk", otherKey.publicKey);
const unboundMdoc = await mdocCode(md, otherJwk);
if (okMdoc !== "accepted" || alteredMdoc === "accepted" || unboundMdoc !== "binding") {
  console.error(`FAIL: mdoc checks: as issued ${okMdoc}, altered ${alteredMdoc}, other key ${unboundMdoc}`);
  process.exit(1);
}
// Signed metadata altered after signing is refused.
const meta = await (await fetchLocal(s.issuer + "/.well-known/openid-credential-issuer")).json();
const [h, p, sig] = meta.signed_metadata.split(".");
const claims = JSON.parse(Buffer.from(p, "base64url"));
claims.shenfen_transparency_log.verifier_key = "evil+00000000+AAAA";
let metaCode = "accepted";
try {
  await vci.verifySignedMetadata([h, Buffer.from(JSON.stringify(claims)).toString("base64url"), sig].join("."), { roots, issuer: got.issuer });
} catch (e) { metaCode = e.code; }
if (metaCode !== "signature") { console.error("FAIL: altered signed metadata: " + metaCode); process.exit(1); }
console.log(`ok   shenfen's wallet module collected all three configurations, verified the signed metadata, the SD-JWT VC and both mdocs (8 signature verifications) and pinned the log key from the signed metadata; an altered card signature, an mdoc with an altered element (${alteredMdoc}) or bound to another key, and altered signed metadata are refused`);
