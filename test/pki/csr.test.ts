import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { CaError } from '../../src/errors.js';
import { parseCsr } from '../../src/pki/csr.js';
import { parsePem, toPem } from '../../src/pki/pem.js';
import { makeCsr } from '../authority/helpers.js';

/** A CSR made by `openssl req` with a fresh key: `newkey` as openssl takes it, e.g. ['ec', '-pkeyopt', 'ec_paramgen_curve:P-256']. */
function opensslCsr(newkey: string[], extra: string[] = []): Promise<string> {
  const args = ['req', '-new', '-nodes', '-keyout', '/dev/null', '-newkey', ...newkey, '-subj', '/CN=alice@example.com', ...extra];
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { encoding: 'utf8' }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)));
  });
}

const ec = (curve: string) => ['ec', '-pkeyopt', `ec_paramgen_curve:${curve}`];

async function refused(pem: string, message: RegExp): Promise<void> {
  await assert.rejects(parseCsr(pem), (err: unknown) => {
    assert.ok(err instanceof CaError, String(err));
    assert.equal(err.code, 'ERR_CSR_INVALID');
    assert.equal(err.status, 400);
    assert.match(err.message, message);
    return true;
  });
}

/** The CSR with one byte of its DER changed at `offsetFromEnd` bytes before the end. */
function tampered(pem: string, offsetFromEnd: number): string {
  const der = Buffer.from(parsePem(pem, 'csr')[0]!.der);
  der[der.length - offsetFromEnd]! ^= 0x01;
  return toPem('CERTIFICATE REQUEST', der);
}

describe('parseCsr', () => {
  test('reads an openssl CSR: subject, SANs of every kind in order, EC P-256 key', async () => {
    const pem = await opensslCsr(ec('P-256'), [
      '-addext',
      'subjectAltName=DNS:a.example.com,IP:10.0.0.1,email:alice@example.com,URI:https://idp.example\\#user-1,IP:2001:db8::1',
    ]);
    const csr = await parseCsr(pem);
    assert.equal(csr.commonName, 'alice@example.com');
    assert.deepEqual(csr.commonNames, ['alice@example.com']);
    assert.equal(csr.subjectText, 'CN=alice@example.com');
    assert.deepEqual(csr.sans, [
      { type: 'dns', value: 'a.example.com' },
      { type: 'ip', value: '10.0.0.1' },
      { type: 'email', value: 'alice@example.com' },
      { type: 'uri', value: 'https://idp.example#user-1' },
      { type: 'ip', value: '2001:db8::1' },
    ]);
    assert.deepEqual(csr.key, { kind: 'ec', curve: 'P-256' });
    assert.equal(csr.publicKeyBits.length, 65);
  });

  test('accepts every key kind we issue for', async () => {
    const cases: [Promise<string>, unknown][] = [
      [opensslCsr(ec('P-384')), { kind: 'ec', curve: 'P-384' }],
      [opensslCsr(ec('P-521')), { kind: 'ec', curve: 'P-521' }],
      [opensslCsr(['rsa:2048']), { kind: 'rsa', bits: 2048 }],
      [opensslCsr(['rsa:2048'], ['-sigopt', 'rsa_padding_mode:pss', '-sha256']), { kind: 'rsa', bits: 2048 }],
      [opensslCsr(['ed25519']), { kind: 'ed25519' }],
      [makeCsr({ cn: 'x', key: { kty: 'EC', curve: 'P-256' } }), { kind: 'ec', curve: 'P-256' }],
      [makeCsr({ cn: 'x', key: { kty: 'OKP' } }), { kind: 'ed25519' }],
    ];
    for (const [pem, key] of cases) assert.deepEqual((await parseCsr(await pem)).key, key);
  });

  test('a CSR without subject or SANs has none', async () => {
    const csr = await parseCsr(await makeCsr({}));
    assert.equal(csr.commonName, '');
    assert.deepEqual(csr.commonNames, []);
    assert.deepEqual(csr.sans, []);
  });

  test('refuses a signature that does not verify: a changed signature, a changed subject', async () => {
    const pem = await opensslCsr(ec('P-256'));
    await refused(tampered(pem, 3), /^invalid csr: the signature does not verify/);
    const rsa = await opensslCsr(['rsa:2048']);
    await refused(tampered(rsa, 10), /^invalid csr: the signature does not verify/);
    // The last byte of the CN "alice@example.com" sits inside the signed info.
    const der = Buffer.from(parsePem(pem, 'csr')[0]!.der);
    const at = der.indexOf(Buffer.from('example.com')) + 1;
    der[at] = 'X'.charCodeAt(0);
    await refused(toPem('CERTIFICATE REQUEST', der), /^invalid csr: the signature does not verify/);
  });

  test('refuses an EC key whose point is not on its curve, before checking the signature', async () => {
    const pem = await opensslCsr(ec('P-256'));
    const der = Buffer.from(parsePem(pem, 'csr')[0]!.der);
    // The uncompressed point: 0x04 after the BIT STRING's "03 42 00" header; change its last byte.
    const point = der.indexOf(Buffer.from([0x03, 0x42, 0x00, 0x04])) + 3;
    der[point + 64]! ^= 0x01;
    await refused(toPem('CERTIFICATE REQUEST', der), /^invalid csr: malformed public key/);
  });

  test('refuses an EC key in compressed form', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'csr-'));
    try {
      const sh = (args: string[]) => new Promise<string>((resolve, reject) => execFile('openssl', args, { encoding: 'utf8' }, (err, out, stderr) => (err ? reject(new Error(stderr)) : resolve(out))));
      await sh(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', join(dir, 'k.pem')]);
      await sh(['ec', '-in', join(dir, 'k.pem'), '-conv_form', 'compressed', '-out', join(dir, 'c.pem')]);
      const pem = await sh(['req', '-new', '-key', join(dir, 'c.pem'), '-subj', '/CN=alice@example.com']);
      await refused(pem, /not a point in uncompressed form/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses weak or unknown keys, naming the key and what is allowed', async () => {
    const allowed = /this CA accepts EC P-256, P-384 or P-521, RSA of 2048 bits or more, or Ed25519$/;
    await refused(await opensslCsr(['rsa:1024']), /^the certificate request's key is RSA 1024 bits; /);
    await refused(await opensslCsr(['rsa:1024']), allowed);
    await refused(await opensslCsr(ec('prime192v1')), /^the certificate request's key is EC P-192; /);
    await refused(await opensslCsr(ec('secp256k1')), /^the certificate request's key is EC secp256k1; /);
    await refused(await opensslCsr(['ed448']), /^the certificate request's key is Ed448; /);
  });

  test('refuses SHA-1 signatures', async () => {
    await refused(await opensslCsr(ec('P-256'), ['-sha1']), /^invalid csr: signed with ECDSA-SHA1, which this CA does not accept/);
  });

  test('refuses names of kinds it cannot issue', async () => {
    const pem = await opensslCsr(ec('P-256'), ['-addext', 'subjectAltName=DNS:ok.example,otherName:1.2.3.4;UTF8:upn']);
    await refused(pem, /^invalid csr: the subjectAltName holds a name of kind otherName; this CA issues DNS, IP, email and URI names only/);
  });

  test('refuses what is not a PEM certificate request', async () => {
    await refused('hello', /^invalid csr: not a PEM "CERTIFICATE REQUEST"/);
    await refused('-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n', /^invalid csr: not a PEM/);
    await refused(toPem('CERTIFICATE REQUEST', Uint8Array.of(0x30, 0x03, 0x02, 0x01, 0x00)), /^invalid csr: malformed request/);
    const csr = await makeCsr({ cn: 'x' });
    await refused(csr + csr, /^invalid csr: expected one PEM "CERTIFICATE REQUEST" block, found CERTIFICATE REQUEST, CERTIFICATE REQUEST/);
    const der = parsePem(csr, 'csr')[0]!.der;
    await refused(toPem('CERTIFICATE', der), /^invalid csr: expected one PEM "CERTIFICATE REQUEST" block, found CERTIFICATE$/);
  });
});
