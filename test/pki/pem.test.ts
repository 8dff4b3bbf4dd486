import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaError } from '../../src/errors.js';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { fixtureBytes, fixtureText } from './fixtures.js';

function assertPemError(fn: () => unknown, message: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CaError);
    assert.equal(err.code, 'ERR_PEM_INVALID');
    assert.equal(err.status, 400);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test('a chain yields one block per certificate, in file order', () => {
  const blocks = parsePem(fixtureText('chain.crt'), 'chain.crt');
  assert.deepEqual(
    blocks.map((b) => b.label),
    ['CERTIFICATE', 'CERTIFICATE', 'CERTIFICATE'],
  );
  const leaf = parsePem(fixtureText('leaf-oidc.crt'), 'leaf.crt')[0]!;
  assert.deepEqual(blocks[0]!.der, leaf.der);
});

test('string and byte input give the same blocks', () => {
  assert.deepEqual(parsePem(fixtureBytes('chain.crt'), 'x'), parsePem(fixtureText('chain.crt'), 'x'));
});

test('CSRs are labelled CERTIFICATE REQUEST, also under the legacy NEW label', () => {
  const pem = fixtureText('p256.csr');
  const [csr] = parsePem(pem, 'p256.csr');
  assert.equal(csr!.label, 'CERTIFICATE REQUEST');
  const legacy = pem.replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST');
  assert.deepEqual(parsePem(legacy, 'legacy.csr'), [csr]);
});

test('raw DER is accepted and told apart: certificate or CSR', () => {
  const [fromDer] = parsePem(fixtureBytes('leaf-oidc.der'), 'leaf.der');
  const [fromPem] = parsePem(fixtureText('leaf-oidc.crt'), 'leaf.crt');
  assert.deepEqual(fromDer, fromPem);
  const csr = parsePem(fixtureText('p256.csr'), 'p256.csr')[0]!;
  assert.deepEqual(parsePem(csr.der, 'p256.der'), [{ label: 'CERTIFICATE REQUEST', der: csr.der }]);
});

test('other PEM blocks in the file are skipped', () => {
  // Never decoded, so a placeholder body will do.
  const key = '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n';
  const blocks = parsePem(key + fixtureText('ed25519.crt'), 'both.pem');
  assert.deepEqual(blocks.map((b) => b.label), ['CERTIFICATE']);
});

test('input without a certificate or CSR is refused with the file name', () => {
  assertPemError(() => parsePem('hello world\n', 'notes.txt'), 'file "notes.txt" contains no PEM certificate, CSR or CRL');
  assertPemError(() => parsePem(new Uint8Array([0x30, 0x03, 0x02, 0x01]), 'short.der'), /contains no PEM certificate, CSR or CRL/);
  assertPemError(() => parsePem(new Uint8Array(), 'empty'), /contains no PEM certificate, CSR or CRL/);
  assertPemError(
    () => parsePem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', 'key.pem'),
    'file "key.pem" contains no PEM certificate, CSR or CRL (found only: PRIVATE KEY)',
  );
});

test('broken PEM framing and bad base64 are refused', () => {
  const pem = fixtureText('rsa2048.crt');
  assertPemError(
    () => parsePem(pem.replace('-----END CERTIFICATE-----', ''), 'cut.crt'),
    'file "cut.crt": the CERTIFICATE block has no "-----END CERTIFICATE-----" line',
  );
  const lines = pem.split('\n');
  lines[3] = `${lines[3]!.slice(0, 10)}!${lines[3]!.slice(11)}`;
  assertPemError(() => parsePem(lines.join('\n'), 'bad.crt'), 'file "bad.crt": PEM block 1 (CERTIFICATE) is not valid base64');
});

test('toPem writes 64-character lines, as openssl does', () => {
  for (const name of ['rsa2048.crt', 'p256.csr', 'chain.crt']) {
    const text = fixtureText(name);
    assert.equal(parsePem(text, name).map((b) => toPem(b.label, b.der)).join(''), text);
  }
  assert.equal(toPem('X', new Uint8Array([1, 2, 3])), '-----BEGIN X-----\nAQID\n-----END X-----\n');
});
