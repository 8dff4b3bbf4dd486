import assert from 'node:assert/strict';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { CaError } from '../../src/errors.js';
import {
  commonNameDer,
  encodeOid,
  encodeTime,
  goSanOrder,
  ipAddressBytes,
  issueLeaf,
  prepareSigningCa,
  provisionerExtensionDer,
  type LeafSpec,
  type SigningCa,
} from '../../src/pki/certificate.js';
import { x509 } from '../../src/pki/crypto.js';
import { parseCsr } from '../../src/pki/csr.js';
import { decodeOid, readSingle } from '../../src/pki/der.js';
import { PROVISIONER_EXTENSION_OID } from '../../src/pki/extension.js';
import { findExtension } from '../../src/pki/inspect/extensions.js';
import { parseCertificate } from '../../src/pki/inspect/model.js';
import { ipString, namesOfType } from '../../src/pki/inspect/names.js';
import { exportPkcs8, generateKeyPair, type KeySpec } from '../../src/pki/keys.js';
import { certificateText, makeCsr, openssl } from '../authority/helpers.js';
import { testdir } from '../helpers/testdir.js';

/** A self-signed CA with a key of the given kind, ready to sign leaves. */
async function selfSignedCa(spec: KeySpec): Promise<{ ca: SigningCa; pem: string; key: KeyObject }> {
  const keys = await generateKeyPair(spec);
  const alg = spec.kty === 'EC' ? { name: 'ECDSA', hash: spec.curve === 'P-384' ? 'SHA-384' : 'SHA-256' } : spec.kty === 'RSA' ? { name: 'RSASSA-PKCS1-v1_5' } : { name: 'Ed25519' };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=Test CA',
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const key = createPrivateKey({ key: await exportPkcs8(keys.privateKey), format: 'der', type: 'pkcs8' });
  return { ca: prepareSigningCa(new Uint8Array(cert.rawData), key, { cert: 'ca.crt', key: 'ca.key' }), pem: cert.toString('pem'), key };
}

async function leafSpec(csrKey: KeySpec, overrides: Partial<LeafSpec> = {}): Promise<LeafSpec> {
  const csr = await parseCsr(await makeCsr({ key: csrKey }));
  const now = Date.now();
  return {
    subject: commonNameDer('user-1'),
    sans: [{ type: 'email', value: 'alice@example.com' }, { type: 'uri', value: 'https://idp.example#user-1' }],
    spki: csr.spki,
    publicKeyBits: csr.publicKeyBits,
    keyKind: csr.key.kind,
    notBefore: new Date(Math.floor(now / 1000) * 1000 - 60_000),
    notAfter: new Date(Math.floor(now / 1000) * 1000 + 86_400_000),
    extraExtensions: [provisionerExtensionDer({ type: 2, name: 'Google', credentialId: 'client-1' })],
    ...overrides,
  };
}

async function opensslVerify(caPem: string, leafPem: string): Promise<string> {
  const d = await testdir({ 'ca.crt': caPem, 'leaf.crt': leafPem });
  try {
    return await openssl(['verify', '-CAfile', d.path('ca.crt'), '-purpose', 'sslclient', d.path('leaf.crt')]);
  } finally {
    await d.cleanup();
  }
}

describe('DER pieces', () => {
  test('encodeOid matches known encodings and round-trips', () => {
    assert.equal(Buffer.from(encodeOid('2.5.4.3')).toString('hex'), '0603550403');
    assert.equal(Buffer.from(encodeOid('1.2.840.113549.1.1.11')).toString('hex'), '06092a864886f70d01010b');
    for (const oid of [PROVISIONER_EXTENSION_OID, '1.3.6.1.5.5.7.3.2', '2.999.1']) {
      assert.equal(decodeOid(readSingle(encodeOid(oid))), oid);
    }
  });

  test('ipAddressBytes reads v4, v6 and v4-in-v6 as Go writes them', () => {
    assert.deepEqual([...ipAddressBytes('10.0.0.1')], [10, 0, 0, 1]);
    for (const ip of ['::1', '2001:db8::1', 'fe80::1:2:3:4:5', '1:2:3:4:5:6:7:8', '::', '2001:db8:0:1::']) {
      assert.equal(ipString(ipAddressBytes(ip)), ip, ip);
    }
    assert.equal(ipAddressBytes('::ffff:10.0.0.1').length, 16);
    assert.equal(ipString(ipAddressBytes('::ffff:10.0.0.1')), '10.0.0.1');
    assert.throws(() => ipAddressBytes('example.com'), TypeError);
  });

  test('times: UTCTime through 2049, GeneralizedTime from 2050, whole seconds', () => {
    assert.equal(Buffer.from(encodeTime(new Date('2049-12-31T23:59:59.900Z'))).toString('latin1').slice(2), '491231235959Z');
    assert.equal(encodeTime(new Date('2049-12-31T23:59:59Z'))[0], 0x17);
    assert.equal(Buffer.from(encodeTime(new Date('2050-01-01T00:00:00Z'))).toString('latin1').slice(2), '20500101000000Z');
    assert.equal(encodeTime(new Date('2050-01-01T00:00:00Z'))[0], 0x18);
  });

  test('goSanOrder: DNS, email, IP, URI, keeping order within a kind', () => {
    const sorted = goSanOrder([
      { type: 'uri', value: 'u' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'dns', value: 'b' },
      { type: 'email', value: 'e' },
      { type: 'dns', value: 'a' },
    ]);
    assert.deepEqual(sorted.map((n) => n.value), ['b', 'a', 'e', '10.0.0.1', 'u']);
  });
});

describe('issueLeaf', () => {
  test('a P-256 CA signs a leaf openssl accepts, with every field in place', async () => {
    const { ca, pem } = await selfSignedCa({ kty: 'EC', curve: 'P-256' });
    const spec = await leafSpec({ kty: 'EC', curve: 'P-256' });
    const leaf = await issueLeaf(ca, spec);
    assert.match(await opensslVerify(pem, leaf.pem), /OK/);

    const cert = parseCertificate(leaf.der);
    assert.equal(cert.version, 3);
    assert.equal(cert.serial.toString(), leaf.serial);
    assert.ok(cert.serial > 0n && cert.serial < 1n << 128n, 'a positive serial of at most 128 bits');
    assert.equal(cert.signatureAlgorithm.name, 'ECDSA-SHA256');
    assert.deepEqual(cert.notBefore, spec.notBefore);
    assert.deepEqual(cert.notAfter, spec.notAfter);
    assert.deepEqual(cert.subject.attributes, [{ oid: '2.5.4.3', value: 'user-1' }]);
    assert.equal(findExtension(cert.extensions, 'keyUsage')?.bits, 1, 'digitalSignature only');
    assert.equal(cert.extensions.find((e) => e.oid === '2.5.29.15')?.critical, true);
    assert.deepEqual(findExtension(cert.extensions, 'extKeyUsage')?.oids, ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(findExtension(cert.extensions, 'basicConstraints'), undefined, 'no basic constraints');
    const caCert = parseCertificate(ca.certificate.der);
    assert.deepEqual(findExtension(cert.extensions, 'authorityKeyId')?.keyId, findExtension(caCert.extensions, 'subjectKeyId')?.keyId);
    assert.equal(findExtension(cert.extensions, 'subjectKeyId')?.keyId.length, 20);
    const names = findExtension(cert.extensions, 'subjectAltName')?.names ?? [];
    assert.deepEqual(namesOfType(names, 'email'), ['alice@example.com']);
    assert.deepEqual(namesOfType(names, 'uri'), ['https://idp.example#user-1']);
    assert.equal(cert.extensions.find((e) => e.oid === '2.5.29.17')?.critical, false);
    assert.deepEqual(findExtension(cert.extensions, 'stepProvisioner')?.provisioner, { type: 2, name: 'Google', credentialId: 'client-1' });
    assert.ok(leaf.pem.startsWith('-----BEGIN CERTIFICATE-----\n') && leaf.pem.endsWith('-----END CERTIFICATE-----\n'));
  });

  test('RSA request keys get keyEncipherment too; RSA, P-384 and Ed25519 CAs sign with their algorithms', async () => {
    const rsaLeaf = await issueLeaf((await selfSignedCa({ kty: 'EC', curve: 'P-256' })).ca, await leafSpec({ kty: 'RSA', size: 2048 }));
    assert.equal(findExtension(parseCertificate(rsaLeaf.der).extensions, 'keyUsage')?.bits, 0b101);
    assert.match(await certificateText(rsaLeaf.pem), /Digital Signature, Key Encipherment/);

    const cases: [KeySpec, string][] = [
      [{ kty: 'RSA', size: 2048 }, 'SHA256-RSA'],
      [{ kty: 'EC', curve: 'P-384' }, 'ECDSA-SHA384'],
      [{ kty: 'OKP' }, 'Ed25519'],
    ];
    for (const [spec, algorithm] of cases) {
      const { ca, pem } = await selfSignedCa(spec);
      const leaf = await issueLeaf(ca, await leafSpec({ kty: 'EC', curve: 'P-256' }));
      assert.equal(parseCertificate(leaf.der).signatureAlgorithm.name, algorithm);
      assert.match(await opensslVerify(pem, leaf.pem), /OK/, algorithm);
    }
  });

  test('an empty subject makes the SAN extension critical', async () => {
    const { ca, pem } = await selfSignedCa({ kty: 'EC', curve: 'P-256' });
    const leaf = await issueLeaf(ca, await leafSpec({ kty: 'EC', curve: 'P-256' }, { subject: Uint8Array.of(0x30, 0x00), sans: [{ type: 'dns', value: 'host.example' }, { type: 'ip', value: '::1' }] }));
    const cert = parseCertificate(leaf.der);
    assert.equal(cert.extensions.find((e) => e.oid === '2.5.29.17')?.critical, true);
    assert.deepEqual(namesOfType(findExtension(cert.extensions, 'subjectAltName')?.names ?? [], 'ip'), ['::1']);
    assert.match(await opensslVerify(pem, leaf.pem), /OK/);
  });

  test('serials differ from one leaf to the next', async () => {
    const { ca } = await selfSignedCa({ kty: 'EC', curve: 'P-256' });
    const spec = await leafSpec({ kty: 'EC', curve: 'P-256' });
    const serials = await Promise.all(Array.from({ length: 20 }, async () => (await issueLeaf(ca, spec)).serial));
    assert.equal(new Set(serials).size, 20);
  });
});

describe('prepareSigningCa', () => {
  test('refuses a key that is not the certificate\'s', async () => {
    const a = await selfSignedCa({ kty: 'EC', curve: 'P-256' });
    const b = await selfSignedCa({ kty: 'EC', curve: 'P-256' });
    assert.throws(() => prepareSigningCa(a.ca.certificate.der, b.key, { cert: '/ca/crt', key: '/ca/key' }), (err: unknown) => {
      assert.ok(err instanceof CaError);
      assert.equal(err.code, 'ERR_KEY_INVALID');
      assert.equal(err.message, 'the key /ca/key does not belong to the certificate /ca/crt');
      return true;
    });
  });
});
