import { test } from 'node:test';
import assert from 'node:assert/strict';
import { x509 } from '../../src/pki/crypto.js';
import {
  PROVISIONER_EXTENSION_OID,
  decodeProvisionerExtension,
  encodeProvisionerExtension,
  provisionerExtension,
  provisionerTypeName,
  provisionerTypeNumber,
} from '../../src/pki/extension.js';
import type { ProvisionerExtension } from '../../src/pki/extension.js';
import { fixtureText } from './fixtures.js';

const hex = (bytes: Uint8Array | ArrayBuffer) => Buffer.from(bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes).toString('hex');

/** The extension value in a fixture certificate, read with @peculiar/x509 rather than our own DER code. */
function fixtureExtension(name: string): Uint8Array {
  const cert = new x509.X509Certificate(fixtureText(name));
  const ext = cert.getExtension(PROVISIONER_EXTENSION_OID);
  assert.ok(ext, `${name} has the provisioner extension`);
  assert.equal(ext.critical, false);
  return new Uint8Array(ext.value);
}

const oidc: ProvisionerExtension = {
  type: 2,
  name: 'Google',
  credentialId: '1087160488420-8qt7bavg3qesdhs6it824mhnfgcfe8il.apps.googleusercontent.com',
};

const jwk: ProvisionerExtension = {
  type: 1,
  name: 'admin@example.com',
  credentialId: 'nqnW0d_g6ojQpF0xYZKLYWGaowGx3QHyIhCMYWQ6ZqA',
  keyValuePairs: ['team', 'platform & security', 'orphan'],
};

test('the encoding matches what openssl wrote into the fixtures, byte for byte', () => {
  // make.sh builds these extensions with openssl's ASN.1 generator, not with our encoder.
  assert.equal(hex(encodeProvisionerExtension(oidc)), hex(fixtureExtension('leaf-oidc.crt')));
  // "team" and "orphan" fit PrintableString, "platform & security" does not ('&'): UTF8String.
  assert.equal(hex(encodeProvisionerExtension(jwk)), hex(fixtureExtension('p521-jwk.crt')));
});

test('a small value, checked against hand-written DER', () => {
  const der = encodeProvisionerExtension({ type: 2, name: 'Google', credentialId: 'abc' });
  // SEQUENCE { INTEGER 2, OCTET STRING "Google", OCTET STRING "abc" }
  assert.equal(hex(der), '3010020102' + '0406476f6f676c65' + '0403616263');
});

test('decode reverses encode', () => {
  const cases: ProvisionerExtension[] = [
    oidc,
    jwk,
    { type: 11, name: 'née ünïcode', credentialId: '' },
    { type: 300, name: 'big type', credentialId: 'x', keyValuePairs: ['k', 'v'] },
  ];
  for (const value of cases) assert.deepEqual(decodeProvisionerExtension(encodeProvisionerExtension(value)), value);
  assert.deepEqual(decodeProvisionerExtension(fixtureExtension('leaf-oidc.crt')), oidc);
  assert.deepEqual(decodeProvisionerExtension(fixtureExtension('p521-jwk.crt')), jwk);
});

test('empty key/value pairs are left out, as Go omitempty does', () => {
  const withEmpty = encodeProvisionerExtension({ ...oidc, keyValuePairs: [] });
  assert.deepEqual(withEmpty, encodeProvisionerExtension(oidc));
  assert.deepEqual(decodeProvisionerExtension(withEmpty), oidc);
});

test('anything else decodes to undefined', () => {
  const good = encodeProvisionerExtension(oidc);
  const bad: Record<string, Uint8Array> = {
    empty: new Uint8Array(),
    'not a sequence': Uint8Array.from([0x04, 0x00]),
    truncated: good.subarray(0, good.length - 1),
    'trailing data': Uint8Array.from([...good, 0x00]),
    'name as UTF8String': Uint8Array.from(Buffer.from('3010020102' + '0c06476f6f676c65' + '0403616263', 'hex')),
    'negative type': Uint8Array.from(Buffer.from('3007' + '0201ff' + '0400' + '0400', 'hex')),
    'extra field': Uint8Array.from(Buffer.from('300b' + '020101' + '0400' + '0400' + '3000' + '0500', 'hex')),
  };
  for (const [what, der] of Object.entries(bad)) assert.equal(decodeProvisionerExtension(der), undefined, what);
});

test('type numbers and names', () => {
  assert.equal(provisionerTypeName(2), 'OIDC');
  assert.equal(provisionerTypeName(1), 'JWK');
  assert.equal(provisionerTypeName(11), 'Nebula');
  assert.equal(provisionerTypeName(12), undefined);
  assert.equal(provisionerTypeNumber('oidc'), 2);
  assert.equal(provisionerTypeNumber('K8sSA'), 8);
  assert.equal(provisionerTypeNumber('nope'), undefined);
  assert.throws(() => encodeProvisionerExtension({ ...oidc, type: -1 }), TypeError);
});

test('provisionerExtension builds a non-critical @peculiar/x509 Extension', async () => {
  const ext = await provisionerExtension(oidc);
  assert.ok(ext instanceof x509.Extension);
  assert.equal(ext.type, PROVISIONER_EXTENSION_OID);
  assert.equal(ext.critical, false);
  assert.equal(hex(ext.value), hex(encodeProvisionerExtension(oidc)));
});
