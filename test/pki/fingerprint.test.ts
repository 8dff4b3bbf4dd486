import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fingerprint } from '../../src/pki/fingerprint.js';
import { parsePem } from '../../src/pki/pem.js';
import { CERTIFICATES, fixtureText } from './fixtures.js';

test('the default fingerprint is the lowercase hex SHA-256 openssl computes', () => {
  for (const name of CERTIFICATES) {
    const [block] = parsePem(fixtureText(`${name}.crt`), name);
    // make.sh recorded `openssl x509 -fingerprint -sha256`: "sha256 Fingerprint=D9:B0:…".
    const expected = /sha256 Fingerprint=([0-9A-F:]+)/.exec(fixtureText(`${name}.openssl.txt`))![1]!;
    assert.equal(fingerprint(block!.der), expected.replace(/:/g, '').toLowerCase(), name);
  }
});

test('other digests and step encodings', () => {
  const data = new TextEncoder().encode('abc');
  // FIPS 180-2 test vector for SHA-256("abc").
  const hex = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
  assert.equal(fingerprint(data), hex);
  const base64 = Buffer.from(hex, 'hex').toString('base64');
  assert.equal(fingerprint(data, { encoding: 'base64' }), base64);
  assert.equal(fingerprint(data, { encoding: 'base64-raw' }), base64.replace(/=+$/, ''));
  assert.equal(fingerprint(data, { encoding: 'base64-url' }), base64.replace(/\+/g, '-').replace(/\//g, '_'));
  assert.equal(fingerprint(data, { encoding: 'base64-url-raw' }), Buffer.from(hex, 'hex').toString('base64url'));
  assert.equal(fingerprint(data, { algorithm: 'sha1' }), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(fingerprint(data, { algorithm: 'md5' }), '900150983cd24fb0d6963f7d28e17f72');
});
