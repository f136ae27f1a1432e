// Makes status list tokens with the independent @sd-jwt/jwt-status-list
// library (StatusList, createHeaderAndPayload) signed ES256 with jose, for
// shenfen to verify (DIR/theirs.json).
import { writeFileSync } from 'node:fs';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';

const dir = process.argv[2];
const { publicKey, privateKey } = await generateKeyPair('ES256');
const jwk = await exportJWK(publicKey);
const cases = [];
for (const [bits, size] of [[1, 100000], [2, 5000], [4, 777], [8, 300]]) {
  const values = new Array(size).fill(0);
  const expected = {};
  for (let i = 0; i < size; i += 1 + (i % 13)) {
    const v = (i * 7919) % (2 ** bits);
    values[i] = v;
    expected[String(i)] = v;
  }
  expected[String(size - 1)] = values[size - 1];
  const list = new StatusList(values, bits);
  const uri = `https://theirs.example/lists/${bits}`;
  const iat = Math.floor(Date.now() / 1000);
  const { header, payload } = createHeaderAndPayload(list, { sub: uri, iat, exp: iat + 3600, ttl: 600 }, { alg: 'ES256' });
  const token = await new SignJWT(payload).setProtectedHeader(header).sign(privateKey);
  cases.push({ uri, token, bits, size, expected, jwk: { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } });
}
writeFileSync(`${dir}/theirs.json`, JSON.stringify({ cases }));
console.log(`interop/status: @sd-jwt/jwt-status-list issued ${cases.length} lists (1, 2, 4, 8 bits)`);
