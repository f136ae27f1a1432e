// The wallet's request check (web/static/wallet/request.js) run in Node on
// the request objects of interop/vprequest/main.go: every verdict must be
// the Go verifier.Checker's (scripts/test.d/wallet-request.sh).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as rq from "../../web/static/wallet/request.js";

const dir = process.argv[2];
const v = JSON.parse(readFileSync(join(dir, "vectors.json"), "utf8"));
const root = await rq.loadRoot(Uint8Array.from(Buffer.from(v.root, "base64")));
const answered = new Set(v.answered);
let failures = 0;
for (const c of v.cases) {
  let got = "ok", optional = [];
  try {
    const r = await rq.checkRequest(c.object, {
      root, outerClientID: c.outer || "",
      lookup: async (h) => v.registry[h] || null,
      seen: async (k) => answered.has(k),
    });
    optional = r.claims.filter((x) => x.optional).map((x) => x.name);
    if (r.verifier.name.zh === "" || !r.verifier.purpose.en) got = "no-registration-shown";
  } catch (e) {
    if (!(e instanceof rq.Refused)) throw e;
    got = e.code;
  }
  const want = c.want;
  const okOpt = JSON.stringify(optional) === JSON.stringify(c.optional || []);
  if (got !== want || !okOpt) {
    failures++;
    console.error(`FAIL ${c.name}: wallet says ${got} (optional ${optional}), Go says ${want} (optional ${c.optional || []})`);
  } else {
    console.log(`ok   ${c.name}: ${got}`);
  }
}
// A verifier's certificate is checked once: a second request of the same
// verifier costs one signature verification (the request's own).
const good = v.cases.find((c) => c.name === "registered desk");
const before = rq.stats.verifications;
await rq.checkRequest(good.object, { root, lookup: async (h) => v.registry[h] || null });
const cost = rq.stats.verifications - before;
if (cost !== 1) { failures++; console.error(`FAIL a known verifier's request cost ${cost} signature verifications, want 1`); } else {
  console.log("ok   a known verifier's request costs 1 signature verification");
}
if (failures) { console.error(`${failures} wallet request check(s) disagree with Go`); process.exit(1); }
console.log(`wallet request check: ${v.cases.length} cases agree with verifier.Checker`);
