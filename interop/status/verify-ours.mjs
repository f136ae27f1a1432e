// Reads shenfen's status list tokens (DIR/ours.json) with the independent
// @sd-jwt/jwt-status-list library: the signature is checked with jose
// against the x5c leaf, the leaf against shenfen's root certificate with
// node:crypto, and every expected status read with getListFromStatusListJWT.
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { jwtVerify, importX509, decodeProtectedHeader } from 'jose';
import { getListFromStatusListJWT } from '@sd-jwt/jwt-status-list';

const dir = process.argv[2];
const ours = JSON.parse(readFileSync(`${dir}/ours.json`, 'utf8'));
const root = new X509Certificate(ours.root_pem);
const pem = (der) => `-----BEGIN CERTIFICATE-----\n${der.match(/.{1,64}/g).join('\n')}\n-----END CERTIFICATE-----\n`;

for (const c of ours.cases) {
  const h = decodeProtectedHeader(c.token);
  if (h.typ !== 'statuslist+jwt' || h.alg !== 'ES256') throw new Error(`header ${JSON.stringify(h)}`);
  const leaf = new X509Certificate(pem(h.x5c[0]));
  if (!leaf.checkIssued(root) || !leaf.verify(root.publicKey)) throw new Error('x5c leaf not issued by the shenfen root');
  const key = await importX509(pem(h.x5c[0]), 'ES256');
  const { payload } = await jwtVerify(c.token, key, { typ: 'statuslist+jwt' });
  if (payload.sub !== c.uri) throw new Error(`sub ${payload.sub} != ${c.uri}`);
  if (!(payload.exp > payload.iat) || !(payload.ttl > 0)) throw new Error('exp/ttl missing');
  const list = getListFromStatusListJWT(c.token);
  if (list.getBitsPerStatus() !== c.bits) throw new Error(`bits ${list.getBitsPerStatus()} != ${c.bits}`);
  let n = 0;
  for (const [idx, want] of Object.entries(c.expected)) {
    const got = list.getStatus(Number(idx));
    if (got !== want) throw new Error(`${c.bits}-bit list index ${idx}: ${got}, want ${want}`);
    n++;
  }
  // A tampered token must not verify.
  const parts = c.token.split('.');
  const bad = [parts[0], parts[1].slice(0, -2) + (parts[1].endsWith('A') ? 'BA' : 'AA'), parts[2]].join('.');
  let rejected = false;
  try { await jwtVerify(bad, key); } catch { rejected = true; }
  if (!rejected) throw new Error('tampered token verified');
  console.log(`interop/status: @sd-jwt/jwt-status-list read shenfen's ${c.bits}-bit list (${list.statusList.length} entries, ${n} checked)`);
}
