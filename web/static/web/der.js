// Just enough DER (X.690) to check shenfen's trust list in the browser:
// parse an X.509 certificate into the fields the verifier page judges
// (to-be-signed bytes, signature, key, validity, basic constraints, key
// usage, extended key usage, issuer and subject), convert ECDSA signatures
// between DER and r||s, and read PEM. Lengths are checked against the
// input; anything unexpected throws.

export class DERError extends Error {
  constructor(msg) { super("der: " + msg); this.name = "DERError"; }
}

// tlv reads the element at off: {tag, start, hdr, end} (end exclusive).
function tlv(b, off, end = b.length) {
  if (off + 2 > end) throw new DERError("truncated");
  const tag = b[off];
  let len = b[off + 1], hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || off + 2 + n > end) throw new DERError("bad length");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[off + 2 + i];
    hdr += n;
  }
  if (off + hdr + len > end) throw new DERError("element overruns its container");
  return { tag, start: off, hdr, end: off + hdr + len };
}

// children lists the elements inside a constructed element.
function children(b, e) {
  const out = [];
  for (let p = e.start + e.hdr; p < e.end;) {
    const c = tlv(b, p, e.end);
    out.push(c);
    p = c.end;
  }
  return out;
}

const content = (b, e) => b.subarray(e.start + e.hdr, e.end);
const whole = (b, e) => b.subarray(e.start, e.end);

export function oid(bytes) {
  const parts = [];
  let v = 0;
  for (let i = 0; i < bytes.length; i++) {
    v = v * 128 + (bytes[i] & 0x7f);
    if (!(bytes[i] & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

function time(b, e) {
  const s = new TextDecoder().decode(content(b, e));
  let m;
  if (e.tag === 0x17 && (m = /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    const y = Number(m[1]);
    return new Date(Date.UTC(y < 50 ? 2000 + y : 1900 + y, m[2] - 1, m[3], m[4], m[5], m[6]));
  }
  if (e.tag === 0x18 && (m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s))) {
    return new Date(Date.UTC(Number(m[1]), m[2] - 1, m[3], m[4], m[5], m[6]));
  }
  throw new DERError("bad certificate time " + s);
}

const OID_BASIC_CONSTRAINTS = "2.5.29.19", OID_KEY_USAGE = "2.5.29.15", OID_EKU = "2.5.29.37", OID_SAN = "2.5.29.17";

// parseCertificate returns the fields of an X.509 certificate (DER).
export function parseCertificate(der) {
  const cert = tlv(der, 0);
  if (cert.tag !== 0x30 || cert.end !== der.length) throw new DERError("certificate is not one SEQUENCE");
  const [tbs, sigAlg, sigVal] = children(der, cert);
  if (!tbs || !sigAlg || !sigVal || sigVal.tag !== 0x03) throw new DERError("certificate structure");
  const algOID = oid(content(der, children(der, sigAlg)[0]));
  const sigBits = content(der, sigVal);
  if (sigBits[0] !== 0) throw new DERError("signature BIT STRING with unused bits");
  let f = children(der, tbs);
  if (f[0] && f[0].tag === 0xa0) f = f.slice(1); // version
  const [, , issuer, validity, subject, spki] = f;
  if (!spki || validity.tag !== 0x30 || spki.tag !== 0x30) throw new DERError("tbsCertificate structure");
  const [nb, na] = children(der, validity);
  const out = {
    der, tbs: whole(der, tbs), sigAlg: algOID, signature: sigBits.subarray(1),
    issuer: whole(der, issuer), subject: whole(der, subject), spki: whole(der, spki),
    notBefore: time(der, nb), notAfter: time(der, na),
    isCA: false, keyUsage: 0, eku: [], dnsNames: [], uris: [],
  };
  const ext = f.find((e) => e.tag === 0xa3);
  if (ext) {
    for (const x of children(der, children(der, ext)[0])) {
      const parts = children(der, x);
      const id = oid(content(der, parts[0]));
      const val = content(der, parts[parts.length - 1]);
      const v = tlv(val, 0);
      if (id === OID_BASIC_CONSTRAINTS) {
        const c = children(val, v);
        out.isCA = c.length > 0 && c[0].tag === 0x01 && val[c[0].start + c[0].hdr] !== 0;
      } else if (id === OID_KEY_USAGE) {
        const bits = content(val, v); // unused-bits byte, then the bits (MSB first)
        out.keyUsage = (bits[1] || 0) << 8 | (bits[2] || 0);
      } else if (id === OID_EKU) {
        out.eku = children(val, v).map((e) => oid(content(val, e)));
      } else if (id === OID_SAN) { // dNSName is [2] IMPLICIT IA5String
        out.dnsNames = children(val, v).filter((e) => e.tag === 0x82).map((e) => new TextDecoder().decode(content(val, e)));
        out.uris = children(val, v).filter((e) => e.tag === 0x86).map((e) => new TextDecoder().decode(content(val, e))); // [6] URI
      }
    }
  }
  return out;
}

// Key usage bits as parseCertificate reports them (bit 0 is 0x8000).
export const KU_DIGITAL_SIGNATURE = 0x8000, KU_KEY_CERT_SIGN = 0x0400;

// rawSignature converts a DER ECDSA-Sig-Value to r||s of size bytes each.
export function rawSignature(der, size = 32) {
  const seq = tlv(der, 0);
  if (seq.tag !== 0x30 || seq.end !== der.length) throw new DERError("ECDSA signature");
  const out = new Uint8Array(2 * size);
  children(der, seq).forEach((e, i) => {
    if (e.tag !== 0x02 || i > 1) throw new DERError("ECDSA signature");
    let v = content(der, e);
    while (v.length > size && v[0] === 0) v = v.subarray(1);
    if (v.length > size) throw new DERError("ECDSA signature integer too long");
    out.set(v, (i + 1) * size - v.length);
  });
  return out;
}

// pemToDER returns the DER of the first CERTIFICATE block of a PEM text.
export function pemToDER(pem) {
  const m = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+)-----END CERTIFICATE-----/.exec(pem || "");
  if (!m) throw new DERError("no PEM certificate");
  const bin = atob(m[1].replace(/\s+/g, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
