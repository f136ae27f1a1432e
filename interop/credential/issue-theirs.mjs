// issue-theirs.mjs makes credentials with independent implementations for
// shenfen's Go library to verify (`go run ./interop/credential/gen -check`):
//   - an SD-JWT VC issued and presented (with a KB-JWT) by @sd-jwt/sd-jwt-vc,
//     under the issuer key and x5c chain the Go side made;
//   - an mdoc issued and presented (DeviceResponse with a device signature)
//     by @auth0/mdl.
// Usage: node issue-theirs.mjs DIR
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest, generateSalt } from '@sd-jwt/crypto-nodejs';
import { Document, MDoc, DeviceResponse } from '@auth0/mdl';

const dir = process.argv[2];
const read = (f) => readFileSync(join(dir, f));
const params = JSON.parse(read('params.json'));
const issuerJwk = createPrivateKey(read('issuer-key.pem')).export({ format: 'jwk' });
const issuerPem = read('issuer.pem').toString();
const x5c = [new X509Certificate(issuerPem).raw.toString('base64')];
const holder = await ES256.generateKeyPair();
const now = Math.floor(Date.now() / 1000);

// SD-JWT VC.
const vc = new SDJwtVcInstance({
  signer: await ES256.getSigner(issuerJwk),
  signAlg: 'ES256',
  kbSigner: await ES256.getSigner(holder.privateKey),
  kbSignAlg: 'ES256',
  hasher: digest,
  hashAlg: 'sha-256',
  saltGenerator: generateSalt,
});
const { key_ops, ext, ...holderPub } = holder.publicKey;
const issued = await vc.issue(
  {
    iss: params.iss, // must be the URI subjectAltName of the x5c leaf
    iat: now - 60,
    exp: now + 3600,
    vct: params.vct,
    cnf: { jwk: holderPub },
    family_name: '张',
    given_name: '三',
    id_number: '44011519900307001X',
    address: { formatted: '广东省广州市南沙区' },
    age_equal_or_over: { 18: true },
    nationalities: ['CN', 'HK'],
  },
  {
    _sd: ['family_name', 'given_name', 'id_number', 'address', 'age_equal_or_over'],
    nationalities: { _sd: [0, 1] }, // array elements disclosed one by one
    address: { _sd: ['formatted'] },
    age_equal_or_over: { _sd: ['18'] },
  },
  { header: { x5c, typ: 'dc+sd-jwt' } },
);
const presented = await vc.present(
  issued,
  { family_name: true, given_name: true, id_number: true, age_equal_or_over: { 18: true }, nationalities: { 0: true } },
  { kb: { payload: { iat: now, aud: params.aud, nonce: params.nonce } } },
);
writeFileSync(join(dir, 'theirs-sdjwt.txt'), presented);
console.log('made: SD-JWT VC + KB-JWT with @sd-jwt/sd-jwt-vc');

// mdoc.
const device = await ES256.generateKeyPair();
const { key_ops: _o, ext: _e, ...devicePub } = device.publicKey;
const { key_ops: _o2, ext: _e2, ...devicePriv } = device.privateKey;
const doc = await new Document(params.doctype)
  .addIssuerNameSpace(params.namespace, { family_name: '张', given_name: '三', age_over_18: true, id_number: '44011519900307001X' })
  .useDigestAlgorithm('SHA-256')
  .addValidityInfo({ signed: new Date(), validFrom: new Date(Date.now() - 60000), validUntil: new Date(Date.now() + 86400000) })
  .addDeviceKeyInfo({ deviceKey: devicePub })
  // COSE kid is a bstr (RFC 9052); @auth0/mdl would put a text string.
  .sign({ issuerPrivateKey: issuerJwk, issuerCertificate: issuerPem, alg: 'ES256', kid: new TextEncoder().encode('interop-issuer') });
const field = (n) => ({ path: [`$['${params.namespace}']['${n}']`], intent_to_retain: false });
const pd = {
  id: 'shenfen-interop',
  input_descriptors: [{
    id: params.doctype,
    format: { mso_mdoc: { alg: ['ES256'] } },
    constraints: { limit_disclosure: 'required', fields: ['family_name', 'given_name', 'age_over_18'].map(field) },
  }],
};
const st = read('mdoc-transcript.cbor');
const head = st.length < 24 ? [0x40 | st.length] : [0x58, st.length];
const stBytes = Buffer.from([0xd8, 0x18, ...head, ...st]);
const resp = await DeviceResponse.from(new MDoc([doc]))
  .usingPresentationDefinition(pd)
  .usingSessionTranscriptBytes(stBytes)
  // Without a kid in the JWK @auth0/mdl writes kid: undefined, which is not a
  // valid COSE header (a bstr); cose-kit encodes a JWK string kid as bstr.
  .authenticateWithSignature({ ...devicePriv, kid: 'device-1' }, 'ES256')
  .sign();
writeFileSync(join(dir, 'theirs-mdoc.cbor'), resp.encode());
console.log('made: mdoc DeviceResponse with @auth0/mdl');
