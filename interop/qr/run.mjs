// The browser half of the offline QR interop test (scripts/test.d/qr-js.sh):
// the wallet's and the verifier page's own modules, web/static/web/mdocqr.js,
// run in Node (WebCrypto, CompressionStream) against package credential/qr.
//
//   node interop/qr/run.mjs keygen DIR   the wallet's device key: DIR/device.jwk, DIR/device.pub.jwk
//   node interop/qr/run.mjs run DIR      verify Go's payloads as the page does; make the wallet's: DIR/js.json
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as qr from "../../web/static/web/mdocqr.js";
import * as cbor from "../../web/static/web/cbor.js";

const [cmd, dir] = process.argv.slice(2);
const read = (f) => readFileSync(join(dir, f), "utf8");
const EC = { name: "ECDSA", namedCurve: "P-256" };
let failures = 0;
function check(cond, msg) {
  if (!cond) { failures++; console.error("FAIL " + msg); } else console.log("ok   " + msg);
}
const hex = (s) => (s ? Uint8Array.from(s.match(/../g), (h) => parseInt(h, 16)) : null);
const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

async function keygen() {
  // Extractable only so the two steps of the test share it; the wallet's is not.
  const k = await crypto.subtle.generateKey(EC, true, ["sign", "verify"]);
  const priv = await crypto.subtle.exportKey("jwk", k.privateKey);
  writeFileSync(join(dir, "device.jwk"), JSON.stringify(priv));
  writeFileSync(join(dir, "device.pub.jwk"), JSON.stringify({ x: priv.x, y: priv.y }));
}

async function code(p) {
  try { await p; return "ok"; } catch (e) {
    if (!(e instanceof qr.QRError)) throw e;
    return e.code;
  }
}

// The CBOR decoder's limits (the page decodes what a stranger shows it).
function cborLimits() {
  const refuses = (hexs, why) => {
    let err = null;
    try { cbor.decode(hex(hexs)); } catch (e) { err = e; }
    check(err instanceof cbor.CBORError, `cbor: ${why}: refused (${err && err.message})`);
  };
  refuses("a2616101616102", "duplicate map key");
  refuses("9f01ff", "indefinite-length array");
  refuses("0102", "trailing bytes");
  refuses("5a00010000", "byte string longer than the input");
  refuses("81".repeat(20) + "01", "nesting deeper than 16");
  refuses("990401" + "01".repeat(1025), "array of 1025 items");
  refuses("c2420001", "bignum tag");
  refuses("1b0020000000000000", "integer beyond 2^53");
  refuses("62c328", "invalid UTF-8");
  refuses("d81801", "tag 24 around an integer");
  const v = { b: new Uint8Array([1, 2]), a: [1, -2, "x", null, true], 10: new cbor.Tagged(1004, "2000-01-01") };
  const round = cbor.decode(cbor.encode(v));
  check(round.get("b")[1] === 2 && round.get("a")[1] === -2 && round.get("10").value === "2000-01-01" && [...round.keys()].join() === "a,b,10",
    "cbor: round trip, keys in deterministic order");
}

async function run() {
  cborLimits();
  const list = JSON.parse(read("trust-list.json"));
  const pin = read("root.sha256").trim();

  // The trust list: the pinned root, its document signers.
  const trust = await qr.loadTrust(list, { pin });
  check(trust.signers.size === list.signers.length && trust.rejected.length === 0, `trust list: ${trust.signers.size} document signer(s) verified under the pinned root`);
  check(await code(qr.loadTrust(list, { pin: "00".repeat(32) })) === "untrusted", "trust list under another pinned root: refused");
  const forged = structuredClone(list);
  const der = Buffer.from(forged.signers[0].pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
  der[der.length - 40] ^= 1; // inside the root's signature
  forged.signers[0].pem = `-----BEGIN CERTIFICATE-----\n${der.toString("base64")}\n-----END CERTIFICATE-----\n`;
  const ft = await qr.loadTrust(forged, { pin });
  check(ft.signers.size === 0 && ft.rejected.length === 1, "altered document signer certificate: not trusted (" + (ft.rejected[0] || {}).reason + ")");

  // The status lists, as the page caches them.
  const tokens = JSON.parse(read("status.json"));
  const lists = new Map();
  for (const [uri, jwt] of Object.entries(tokens)) lists.set(uri, await qr.loadStatusList(jwt, trust, uri));
  const [uri0, jwt0] = Object.entries(tokens)[0];
  const badSig = jwt0.slice(0, -4) + (jwt0.at(-4) === "A" ? "B" : "A") + jwt0.slice(-3);
  check(await code(qr.loadStatusList(badSig, trust, uri0)) === "signature", "status list token with a damaged signature: refused");
  check(await code(qr.loadStatusList(jwt0, trust, uri0 + "x")) === "status", "status list token fetched from another URI: refused");
  const status = async (u) => lists.get(u) || null;

  // (b) Go's payloads, verified by the page's module.
  const go = JSON.parse(read("go.json")).cases;
  const seen = qr.memorySeen();
  for (const c of go) {
    const got = await code(qr.verify(c.payload, { trust, status, seen, nonce: hex(c.nonce) }));
    check(got === c.want, `page verifier on ${c.name}: ${got} (want ${c.want})`);
    if (c.want === "ok" && !c.nonce) {
      const again = await code(qr.verify(c.payload, { trust, status, seen }));
      check(again === "replay", `page verifier on ${c.name}, shown again: ${again}`);
    }
  }
  const first = go[0];
  const res = await qr.verify(first.payload, { trust, status, seen: qr.memorySeen() });
  check(res.thumbnail && res.thumbnail.length > 300 && res.claims.id_number === "44011519900307001X" && res.claims.birth_date === "1990-03-07",
    `page verifier result: ${res.claims.name_original}, ${res.claims.birth_date}, thumbnail ${res.thumbnail && res.thumbnail.length} bytes, status ${res.status.value}`);
  check(await code(qr.verify(first.payload, { trust, status: async () => null, seen: qr.memorySeen() })) === "status", "no cached status list: refused (fail closed)");
  const flip = first.payload.slice(0, 900) + (first.payload[900] === "0" ? "1" : "0") + first.payload.slice(901);
  check(await code(qr.verify(flip, { trust, status, seen: qr.memorySeen() })) !== "ok", "payload with one Base45 character changed: refused");
  check(await code(qr.verify("SF1:" + "9".repeat(5000), { trust, status, seen: qr.memorySeen() })) === "too-large", "oversized payload: refused");
  const bomb = "SF1:" + qr.encodeBase45(await qr.deflate(new Uint8Array(1 << 20)));
  check(await code(qr.verify(bomb, { trust, status, seen: qr.memorySeen() })) === "too-large", `zlib bomb (${bomb.length} characters, 1 MiB inflated): refused`);

  // (a) The wallet module's payloads, for Go to verify.
  const jwk = JSON.parse(read("device.jwk"));
  const key = await crypto.subtle.importKey("jwk", jwk, EC, false, ["sign"]);
  const card = Uint8Array.from(Buffer.from(read("wallet-card.b64"), "base64url"));
  const timed = await qr.present(card, key);
  const { payload: req, nonce } = qr.newRequest();
  const answered = await qr.present(card, key, { nonce: qr.parseRequest(req) });
  const t0 = performance.now();
  const ageOnly = await qr.present(card, key, { elements: ["age_over_18", "portrait_thumbnail"] });
  const ms = performance.now() - t0;
  console.log(`wallet payloads: default ${timed.length} characters, age and thumbnail ${ageOnly.length}, made in ${ms.toFixed(1)} ms`);
  // The page accepts them too.
  check(await code(qr.verify(timed, { trust, status, seen: qr.memorySeen() })) === "ok", "page verifier on the wallet's time-mode payload");
  check(await code(qr.verify(answered, { trust, status, seen: qr.memorySeen(), nonce })) === "ok", "page verifier on the wallet's nonce-mode payload");
  check(await code(qr.verify(answered, { trust, status, seen: qr.memorySeen() })) === "nonce", "page verifier on the wallet's nonce-mode payload with no request pending: nonce");
  const stale = await qr.present(card, key, { now: new Date(Date.now() - 120000) });
  const resp = await qr.decodePayload(timed);
  const j = resp.findIndex((b, i) => b === 0xff && resp[i + 1] === 0xd8 && resp[i + 2] === 0xff);
  resp[j + 200] ^= 0x20; // inside the issuer-signed thumbnail
  const tampered = qr.PREFIX + qr.encodeBase45(await qr.deflate(resp));
  check(await code(qr.verify(tampered, { trust, status, seen: qr.memorySeen() })) === "disclosure", "page verifier on the wallet's payload with a changed thumbnail: disclosure");
  const cases = [
    { name: "wallet tampered thumbnail", payload: tampered, want: "disclosure" },
    { name: "wallet time mode", payload: timed, want: "ok" },
    { name: "wallet nonce mode", payload: answered, nonce: toHex(nonce), want: "ok" },
    { name: "wallet age and thumbnail only", payload: ageOnly, want: "ok" },
    { name: "wallet nonce mode, another nonce", payload: answered, nonce: "07".repeat(16), want: "holder-binding" },
    { name: "wallet time mode, two minutes old", payload: stale, want: "stale" },
    { name: "wallet time mode, verified as nonce mode", payload: timed, nonce: toHex(nonce), want: "holder-binding" },
  ];
  writeFileSync(join(dir, "js.json"), JSON.stringify({ cases }, null, 1));
}

if (cmd === "keygen") await keygen();
else if (cmd === "run") await run();
else { console.error("usage: run.mjs keygen|run DIR"); process.exit(2); }
if (failures) { console.error(`interop/qr: ${failures} check(s) failed`); process.exit(1); }
