// SD-JWT (RFC 9901) on the holder's side: read the card's claims, choose
// which disclosures to reveal, and add the key-binding JWT signed with the
// device key. Signature checks are the verifier's job (the server).
import { b64u, b64uText, parseB64uJSON, sha256, utf8 } from "./b64.js";
import { sign } from "./jws.js";

// parse splits an issued SD-JWT "JWT~D1~...~Dn~" into its parts and
// resolves every disclosure to its claim path.
export async function parse(sdjwt) {
  const parts = sdjwt.split("~");
  const jwt = parts[0];
  const discs = parts.slice(1).filter((d) => d && d.split(".").length !== 3);
  const payload = parseB64uJSON(jwt.split(".")[1]);
  const byDigest = new Map();
  for (const d of discs) byDigest.set(b64u(await sha256(utf8(d))), { raw: d, value: parseB64uJSON(d) });
  const paths = new Map(); // raw disclosure -> path array
  const claims = resolve(payload, [], byDigest, paths);
  return { jwt, payload, claims, disclosures: discs, paths };
}

function resolve(node, path, byDigest, paths) {
  if (Array.isArray(node)) {
    const out = [];
    node.forEach((el, i) => {
      if (el && typeof el === "object" && !Array.isArray(el) && Object.keys(el).length === 1 && "..." in el) {
        const d = byDigest.get(el["..."]);
        if (d) {
          paths.set(d.raw, path.concat(i));
          out.push(resolve(d.value[1], path.concat(i), byDigest, paths));
        }
        return;
      }
      out.push(resolve(el, path.concat(i), byDigest, paths));
    });
    return out;
  }
  if (node && typeof node === "object") {
    const out = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "_sd" || k === "_sd_alg") continue;
      out[k] = resolve(v, path.concat(k), byDigest, paths);
    }
    for (const dg of node._sd || []) {
      const d = byDigest.get(dg);
      if (!d || d.value.length !== 3) continue;
      const name = d.value[1];
      paths.set(d.raw, path.concat(name));
      out[name] = resolve(d.value[2], path.concat(name), byDigest, paths);
    }
    return out;
  }
  return node;
}

function related(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (String(a[i]) !== String(b[i])) return false;
  return true;
}

// present returns "JWT~chosen disclosures~KB-JWT": the disclosures on the
// way to, or under, one of wanted (dotted claim paths, e.g. "address" or
// "age_equal_or_over.18"), bound to aud and nonce with the device key.
export async function present(card, wanted, aud, nonce, key) {
  const want = wanted.map((w) => (Array.isArray(w) ? w : String(w).split(".")));
  const chosen = card.disclosures.filter((d) => {
    const p = card.paths.get(d);
    return p && want.some((w) => related(p, w));
  });
  const body = card.jwt + "~" + chosen.map((d) => d + "~").join("");
  const kb = await sign(key, { typ: "kb+jwt" }, {
    iat: Math.floor(Date.now() / 1000), aud, nonce, sd_hash: b64u(await sha256(utf8(body))),
  });
  return body + kb;
}

// chosenClaims lists the top-level claim names present would reveal.
export function chosenNames(card, wanted) {
  return [...new Set(wanted.map((w) => String(w).split(".")[0]))];
}

export { b64uText };
