// A small CBOR (RFC 8949) encoder and strict decoder: what the offline QR
// presentation (mdocqr.js, ISO/IEC 18013-5 structures) needs and no more.
//
// Encoding: integers (safe range), text, byte strings (Uint8Array), arrays,
// Map and plain objects (maps; keys sorted bytewise by their encoding, the
// core deterministic order of RFC 8949 §4.2.1), null, booleans, Tagged
// values and Raw (bytes emitted verbatim: an item embedded as received, so
// the digests and signatures over it still hold).
//
// Decoding is strict and bounded, like the Go verifier's: definite lengths
// only, shortest-form not required (Go does not require it either) but
// every length checked against the input, nesting ≤ maxDepth, ≤ maxItems
// per array or map, no duplicate map keys, map keys only integers or text,
// valid UTF-8, no trailing bytes, only the tags 0, 1004 (dates), 24
// (embedded CBOR) and 1, integers only within Number.MAX_SAFE_INTEGER.
// Byte strings are returned as subarrays of the input (no copy), and the
// exact encoding of every decoded array, Map or Tagged value is kept for
// rawOf().

export class Tagged {
  constructor(tag, value) { this.tag = tag; this.value = value; }
}

// Raw is pre-encoded CBOR written as is by encode().
export class Raw {
  constructor(bytes) { this.bytes = bytes; }
}

export class CBORError extends Error {
  constructor(msg) { super("cbor: " + msg); this.name = "CBORError"; }
}

const raws = new WeakMap();

// rawOf returns the exact encoding an array, Map or Tagged value was
// decoded from (undefined for values not made by decode).
export function rawOf(v) { return raws.get(v); }

// ---------- encoding ----------

function head(out, major, n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new CBORError("length or integer out of range");
  const m = major << 5;
  if (n < 24) out.push(m | n);
  else if (n < 0x100) out.push(m | 24, n);
  else if (n < 0x10000) out.push(m | 25, n >> 8, n & 0xff);
  else if (n < 0x100000000) out.push(m | 26, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  else {
    const hi = Math.floor(n / 0x100000000), lo = n >>> 0;
    out.push(m | 27, (hi >>> 24) & 0xff, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff,
      (lo >>> 24) & 0xff, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff);
  }
}

function pushBytes(out, b) { for (let i = 0; i < b.length; i++) out.push(b[i]); }

function cmpBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

function enc(out, v, depth) {
  if (depth > 32) throw new CBORError("nesting too deep to encode");
  if (v === null) return out.push(0xf6);
  if (v === undefined) return out.push(0xf7);
  if (v === false) return out.push(0xf4);
  if (v === true) return out.push(0xf5);
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v)) throw new CBORError("only safe integers are encoded");
    return v >= 0 ? head(out, 0, v) : head(out, 1, -1 - v);
  }
  if (typeof v === "string") {
    const b = new TextEncoder().encode(v);
    head(out, 3, b.length);
    return pushBytes(out, b);
  }
  if (v instanceof Raw) return pushBytes(out, v.bytes);
  if (v instanceof Uint8Array) {
    head(out, 2, v.length);
    return pushBytes(out, v);
  }
  if (v instanceof ArrayBuffer) return enc(out, new Uint8Array(v), depth);
  if (v instanceof Tagged) {
    head(out, 6, v.tag);
    return enc(out, v.value, depth + 1);
  }
  if (Array.isArray(v)) {
    head(out, 4, v.length);
    for (const x of v) enc(out, x, depth + 1);
    return;
  }
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  const encoded = entries.map(([k, x]) => [encode(k), x]);
  encoded.sort((a, b) => cmpBytes(a[0], b[0]));
  for (let i = 1; i < encoded.length; i++) if (cmpBytes(encoded[i - 1][0], encoded[i][0]) === 0) throw new CBORError("duplicate map key");
  head(out, 5, encoded.length);
  for (const [k, x] of encoded) { pushBytes(out, k); enc(out, x, depth + 1); }
}

// encode returns the CBOR encoding of v.
export function encode(v) {
  const out = [];
  enc(out, v, 0);
  return Uint8Array.from(out);
}

// ---------- decoding ----------

const DEFAULTS = { maxBytes: 64 << 10, maxDepth: 16, maxItems: 1024, tags: [0, 1, 24, 1004] };
const utf8 = new TextDecoder("utf-8", { fatal: true });

function halfToNumber(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

// decode decodes exactly one CBOR data item filling buf, under the limits
// in opts ({maxBytes, maxDepth, maxItems, tags}); it throws CBORError.
export function decode(buf, opts = {}) {
  const lim = { ...DEFAULTS, ...opts };
  if (!(buf instanceof Uint8Array)) throw new CBORError("input is not bytes");
  if (buf.length > lim.maxBytes) throw new CBORError(`input of ${buf.length} bytes exceeds ${lim.maxBytes}`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let p = 0;
  const need = (n) => { if (n > buf.length - p) throw new CBORError("truncated input"); };
  const arg = (ai) => {
    if (ai < 24) return ai;
    let n;
    switch (ai) {
      case 24: need(1); n = buf[p]; p += 1; return n;
      case 25: need(2); n = dv.getUint16(p); p += 2; return n;
      case 26: need(4); n = dv.getUint32(p); p += 4; return n;
      case 27: {
        need(8);
        const hi = dv.getUint32(p), lo = dv.getUint32(p + 4);
        p += 8;
        if (hi > 0x1fffff) throw new CBORError("integer beyond 2^53");
        return hi * 0x100000000 + lo;
      }
      case 31: throw new CBORError("indefinite lengths are not allowed");
      default: throw new CBORError("reserved additional information");
    }
  };
  const item = (depth) => {
    if (depth > lim.maxDepth) throw new CBORError("nesting too deep");
    const start = p;
    need(1);
    const ib = buf[p++], major = ib >> 5, ai = ib & 0x1f;
    if (major === 7) {
      switch (ai) {
        case 20: return false;
        case 21: return true;
        case 22: return null;
        case 23: return undefined;
        case 25: need(2); p += 2; return halfToNumber(dv.getUint16(p - 2));
        case 26: need(4); p += 4; return dv.getFloat32(p - 4);
        case 27: need(8); p += 8; return dv.getFloat64(p - 8);
        default: throw new CBORError("unsupported simple value");
      }
    }
    const n = arg(ai);
    switch (major) {
      case 0: return n;
      case 1: return -1 - n;
      case 2: need(n); p += n; return buf.subarray(p - n, p);
      case 3: {
        need(n);
        p += n;
        try { return utf8.decode(buf.subarray(p - n, p)); } catch (e) { throw new CBORError("invalid UTF-8"); }
      }
      case 4: {
        if (n > lim.maxItems) throw new CBORError(`array of ${n} items`);
        const a = [];
        for (let i = 0; i < n; i++) a.push(item(depth + 1));
        raws.set(a, buf.subarray(start, p));
        return a;
      }
      case 5: {
        if (n > lim.maxItems) throw new CBORError(`map of ${n} pairs`);
        const m = new Map();
        for (let i = 0; i < n; i++) {
          const k = item(depth + 1);
          if (typeof k !== "string" && typeof k !== "number") throw new CBORError("map key is neither integer nor text");
          if (m.has(k)) throw new CBORError("duplicate map key " + JSON.stringify(k));
          m.set(k, item(depth + 1));
        }
        raws.set(m, buf.subarray(start, p));
        return m;
      }
      case 6: {
        if (!lim.tags.includes(n)) throw new CBORError(`tag ${n} not allowed`);
        const t = new Tagged(n, item(depth + 1));
        if (n === 24 && !(t.value instanceof Uint8Array)) throw new CBORError("tag 24 does not hold a byte string");
        if ((n === 0 || n === 1004) && typeof t.value !== "string") throw new CBORError(`tag ${n} does not hold text`);
        if (n === 1 && typeof t.value !== "number") throw new CBORError("tag 1 does not hold a number");
        raws.set(t, buf.subarray(start, p));
        return t;
      }
    }
    throw new CBORError("unreachable");
  };
  const v = item(0);
  if (p !== buf.length) throw new CBORError(`${buf.length - p} bytes after the data item`);
  return v;
}

// decode24 decodes the CBOR embedded in a tag-24 value.
export function decode24(t, opts) {
  if (!(t instanceof Tagged) || t.tag !== 24) throw new CBORError("not an embedded CBOR item (tag 24)");
  return decode(t.value, opts);
}
