// verify-ours.mjs verifies, with independent implementations, the SD-JWT VC
// and mdoc that shenfen's Go library issued and presented (made by
// `go run ./interop/credential/gen -make`):
//   - SD-JWT VC + KB-JWT with @sd-jwt/sd-jwt-vc (issuer key from the x5c
//     chain checked against our root with node:crypto; status through a
//     Token Status List made with @sd-jwt/jwt-status-list);
//   - the mdoc DeviceResponse with @auth0/mdl (IACA root, value digests,
//     device signature over the OpenID4VP session transcript);
//   - the same DeviceResponse with @animo-id/mdoc (its own CBOR parsing,
//     COSE Sig_structures, DeviceAuthentication bytes and digest checks;
//     the platform functions it asks its caller for, hashing, ECDSA and
//     X.509, are given with node:crypto below).
// Usage: node verify-ours.mjs DIR
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createHash, createPublicKey, randomBytes, verify as cryptoVerify } from 'node:crypto';
import assert from 'node:assert/strict';
import { SDJwtVcInstance } from '@sd-jwt/sd-jwt-vc';
import { ES256, digest } from '@sd-jwt/crypto-nodejs';
import { StatusList, createHeaderAndPayload } from '@sd-jwt/jwt-status-list';
import { SignJWT, importJWK } from 'jose';
import { Verifier as MdlVerifier } from '@auth0/mdl';
import { Verifier as AnimoVerifier } from '@animo-id/mdoc';

const dir = process.argv[2];
const read = (f) => readFileSync(join(dir, f));
const params = JSON.parse(read('params.json'));
const root = new X509Certificate(read('root.pem'));

// issuerKeyFromX5c checks the x5c chain up to our root and returns the
// leaf's public key as a JWK.
function issuerKeyFromX5c(jwt) {
  const header = JSON.parse(Buffer.from(jwt.split('.')[0], 'base64url'));
  assert.equal(header.typ, 'dc+sd-jwt');
  const chain = header.x5c.map((c) => new X509Certificate(Buffer.from(c, 'base64')));
  const now = new Date();
  for (let i = 0; i < chain.length; i++) {
    const issuer = i + 1 < chain.length ? chain[i + 1] : root;
    assert.ok(chain[i].checkIssued(issuer) && chain[i].verify(issuer.publicKey), 'x5c chain does not lead to the root');
    assert.ok(new Date(chain[i].validFrom) <= now && now <= new Date(chain[i].validTo), 'certificate not valid now');
  }
  return chain[0].publicKey.export({ format: 'jwk' });
}

// A status list: valid_idx valid, revoked_idx revoked (status 1).
const statusKeys = await ES256.generateKeyPair();
const list = new StatusList(new Array(128).fill(0), 2);
list.setStatus(params.revoked_idx, 1);
const { header: slh, payload: slp } = createHeaderAndPayload(
  list,
  { iss: 'https://id.shenfen.test', sub: params.status_uri, iat: Math.floor(Date.now() / 1000) },
  { alg: 'ES256', typ: 'statuslist+jwt' },
);
const statusJWT = await new SignJWT(slp).setProtectedHeader(slh).sign(await importJWK(statusKeys.privateKey, 'ES256'));

// typeMetadata is what the issuer serves at {issuer}/vct/{vct}; the
// library's own integrity check reads the digest as hex, so the fetcher
// checks the W3C SRI form (base64) the credential carries.
let typeMetadata = read('type-metadata.json');
async function vctFetcher(uri, integrity) {
  assert.equal(uri, params.vct, 'vct');
  const sri = 'sha256-' + createHash('sha256').update(typeMetadata).digest('base64');
  assert.equal(integrity, sri, 'vct#integrity does not match the type metadata (SRI sha256)');
  return JSON.parse(typeMetadata.toString());
}

async function verifySdJwt(presentation) {
  const jwt = presentation.split('~')[0];
  const vc = new SDJwtVcInstance({
    loadTypeMetadataFormat: true,
    vctFetcher,
    hasher: digest,
    hashAlg: 'sha-256',
    verifier: await ES256.getVerifier(issuerKeyFromX5c(jwt)),
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    statusListFetcher: async (uri) => {
      assert.equal(uri, params.status_uri);
      return statusJWT;
    },
    statusVerifier: await ES256.getVerifier(statusKeys.publicKey),
  });
  const res = await vc.verify(presentation, {
    keyBindingNonce: params.nonce,
    requiredClaimKeys: ['family_name', 'given_name'],
  });
  assert.equal(res.kb.payload.aud, params.aud, 'KB-JWT audience');
  return res;
}

let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log('ok:', name);
  } catch (e) {
    failures++;
    console.error('FAIL:', name, '-', e.stack);
  }
}
// refuses expects fn to throw an error whose message matches want (so a
// refusal for an unrelated reason does not count).
async function refuses(name, want, fn) {
  try {
    await fn();
    failures++;
    console.error('FAIL:', name, '- accepted');
  } catch (e) {
    if (!want.test(e.message)) {
      failures++;
      console.error('FAIL:', name, '- refused for another reason:', e.stack);
      return;
    }
    console.log('ok:', name, '(refused:', e.message.slice(0, 80) + ')');
  }
}

const pres = read('sdjwt.txt').toString();
await check('@sd-jwt/sd-jwt-vc verifies our SD-JWT VC + KB-JWT', async () => {
  const { payload, header } = await verifySdJwt(pres);
  assert.equal(header.typ, 'dc+sd-jwt');
  assert.equal(payload.vct, params.vct);
  assert.equal(payload.given_name, '三');
  assert.equal(payload.family_name, '张');
  assert.equal(payload.birthdate, '1990-03-07');
  assert.equal(payload.age_equal_or_over['18'], true);
  assert.equal(payload.address.formatted.length > 0, true);
  assert.ok(payload.picture.startsWith('data:image/jpeg;base64,'));
  assert.equal(payload.id_number, undefined, 'undisclosed id_number');
  assert.equal(payload.status.status_list.idx, params.valid_idx);
});
await check('@sd-jwt/sd-jwt-vc reads our type metadata (vct#integrity), claims labelled in zh and en', async () => {
  const { typeMetadata: tm } = await verifySdJwt(pres);
  const meta = tm.mergedTypeMetadata;
  assert.equal(meta.vct, params.vct);
  const birth = meta.claims.find((c) => c.path.join('.') === 'birthdate');
  assert.deepEqual(birth.display.map((d) => d.locale).sort(), ['en', 'zh']);
  assert.ok(meta.display.some((d) => d.locale === 'zh' && d.name.length > 0));
});
await refuses('@sd-jwt/sd-jwt-vc refuses altered type metadata', /vct#integrity/, async () => {
  const good = typeMetadata;
  typeMetadata = Buffer.from(good.toString().replace('"sd":"always"', '"sd":"allowed"'));
  try {
    return await verifySdJwt(pres);
  } finally {
    typeMetadata = good;
  }
});
await refuses('@sd-jwt/sd-jwt-vc refuses our revoked SD-JWT VC', /[Ss]tatus/, () => verifySdJwt(read('sdjwt-revoked.txt').toString()));
await refuses('@sd-jwt/sd-jwt-vc refuses a tampered disclosure', /[Dd]igest|disclosure|sd_hash|[Mm]issing required claim keys: given_name/, () => {
  const parts = pres.split('~');
  const i = parts.findIndex((d, k) => k > 0 && Buffer.from(d, 'base64url').toString().includes('given_name'));
  parts[i] = Buffer.from(Buffer.from(parts[i], 'base64url').toString().replace('三', '四')).toString('base64url');
  return verifySdJwt(parts.join('~'));
});
await refuses('@sd-jwt/sd-jwt-vc refuses a wrong nonce', /[Nn]once/, async () => {
  const vc = new SDJwtVcInstance({
    hasher: digest, hashAlg: 'sha-256',
    verifier: await ES256.getVerifier(issuerKeyFromX5c(pres.split('~')[0])),
    kbVerifier: async (data, sig, payload) => (await ES256.getVerifier(payload.cnf.jwk))(data, sig),
    statusListFetcher: async () => statusJWT,
    statusVerifier: await ES256.getVerifier(statusKeys.publicKey),
  });
  return vc.verify(pres, { keyBindingNonce: 'another-nonce' });
});

const response = new Uint8Array(read('mdoc-response.cbor'));
// @auth0/mdl takes SessionTranscriptBytes: #6.24(bstr .cbor SessionTranscript).
function tag24(b) {
  const head = b.length < 24 ? [0x40 | b.length] : b.length < 256 ? [0x58, b.length] : [0x59, b.length >> 8, b.length & 0xff];
  return new Uint8Array([0xd8, 0x18, ...head, ...b]);
}
const transcript = tag24(read('mdoc-transcript.cbor'));
const mdl = new MdlVerifier([read('root.pem').toString()]);
await check('@auth0/mdl verifies our mdoc DeviceResponse (issuer chain, digests, device signature)', async () => {
  const mdoc = await mdl.verify(response, { encodedSessionTranscript: transcript });
  const doc = mdoc.documents[0];
  assert.equal(doc.docType, params.doctype);
  const items = Object.fromEntries(doc.getIssuerNameSpace(params.namespace) ? Object.entries(doc.getIssuerNameSpace(params.namespace)) : []);
  assert.equal(items.family_name, '张');
  assert.equal(items.given_name, '三');
  assert.equal(items.age_over_18, true);
  assert.equal(items.sex, 1);
  assert.ok(items.portrait instanceof Uint8Array && items.portrait[0] === 0xff && items.portrait[1] === 0xd8);
  assert.equal(String(items.birth_date), '1990-03-07');
  assert.equal(items.id_number, undefined, 'undisclosed id_number');
});
await refuses('@auth0/mdl refuses our mdoc under another session transcript', /[Dd]evice signature/, async () => {
  const other = new Uint8Array(transcript);
  other[other.length - 1] ^= 1; // the last byte of the handover digest
  return mdl.verify(response, { encodedSessionTranscript: other });
});
await refuses('@auth0/mdl refuses our mdoc with a tampered element', /[Dd]igest|[Ii]ssuer[ Ss]igned|value/, async () => {
  const t = Buffer.from(response);
  const i = t.indexOf(Buffer.from('三'));
  const u = Buffer.from(t);
  Buffer.from('四').copy(u, i);
  return mdl.verify(new Uint8Array(u), { encodedSessionTranscript: transcript });
});

// animoContext is the platform glue @animo-id/mdoc takes from its caller.
const unused = (what) => () => {
  throw new Error(`${what} is not used here`);
};
const animoContext = {
  crypto: {
    random: (n) => new Uint8Array(randomBytes(n)),
    digest: ({ digestAlgorithm, bytes }) => {
      assert.equal(digestAlgorithm, 'SHA-256');
      return new Uint8Array(createHash('sha256').update(bytes).digest());
    },
    calculateEphemeralMacKeyJwk: unused('deviceMac'),
  },
  cose: {
    sign1: {
      sign: unused('signing'),
      // The library builds the Sig_structure (getRawVerificationData);
      // this only checks the ES256 signature over it.
      verify: ({ sign1, jwk, options }) => {
        const { alg, signature, data } = sign1.getRawVerificationData(options);
        assert.equal(alg, 'ES256');
        const key = createPublicKey({ key: jwk, format: 'jwk' });
        return cryptoVerify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
      },
    },
    mac0: { sign: unused('deviceMac'), verify: unused('deviceMac') },
  },
  x509: {
    getIssuerNameField: ({ certificate, field }) =>
      new X509Certificate(certificate).issuer.split('\n').filter((l) => l.startsWith(field + '=')).map((l) => l.slice(field.length + 1)),
    getPublicKey: ({ certificate }) => new X509Certificate(certificate).publicKey.export({ format: 'jwk' }),
    // Each certificate must be issued and signed by the next one, the last
    // by a trusted root, all valid now.
    validateCertificateChain: ({ trustedCertificates, x5chain }) => {
      const chain = x5chain.map((c) => new X509Certificate(c));
      const roots = trustedCertificates.map((c) => new X509Certificate(c));
      const now = new Date();
      chain.forEach((c, i) => {
        const issuers = i + 1 < chain.length ? [chain[i + 1]] : roots;
        assert.ok(issuers.some((p) => c.checkIssued(p) && c.verify(p.publicKey)), 'x5chain does not lead to a trusted root');
        assert.ok(new Date(c.validFrom) <= now && now <= new Date(c.validTo), 'certificate not valid now');
      });
    },
    getCertificateData: ({ certificate }) => {
      const c = new X509Certificate(certificate);
      return {
        issuerName: c.issuer, subjectName: c.subject, serialNumber: c.serialNumber,
        thumbprint: c.fingerprint256.replaceAll(':', '').toLowerCase(),
        notBefore: new Date(c.validFrom), notAfter: new Date(c.validTo), pem: c.toString(),
      };
    },
  },
};
const animo = (encodedDeviceResponse, encodedSessionTranscript) =>
  new AnimoVerifier().verifyDeviceResponse(
    { encodedDeviceResponse, encodedSessionTranscript, trustedCertificates: [root.raw] },
    animoContext,
  );
await check('@animo-id/mdoc verifies our mdoc DeviceResponse (issuer chain, digests, device signature)', async () => {
  const mdoc = await animo(response, transcript);
  assert.equal(mdoc.documents.length, 1);
  const doc = mdoc.documents[0];
  assert.equal(doc.docType, params.doctype);
  const items = Object.fromEntries(doc.getIssuerNameSpace(params.namespace) ?? []);
  assert.equal(items.family_name, '张');
  assert.equal(items.given_name, '三');
  assert.equal(items.age_over_18, true);
  assert.ok(items.portrait instanceof Uint8Array && items.portrait[0] === 0xff && items.portrait[1] === 0xd8);
  assert.equal(items.id_number, undefined, 'undisclosed id_number');
});
await refuses('@animo-id/mdoc refuses our mdoc under another session transcript', /[Dd]evice signature/, async () => {
  const other = new Uint8Array(transcript);
  other[other.length - 1] ^= 1;
  return animo(response, other);
});
await refuses('@animo-id/mdoc refuses our mdoc with a tampered element', /digest/, async () => {
  const u = Buffer.from(response);
  Buffer.from('四').copy(u, u.indexOf(Buffer.from('三')));
  return animo(new Uint8Array(u), transcript);
});

if (failures) {
  console.error(`${failures} interop check(s) failed`);
  process.exit(1);
}
