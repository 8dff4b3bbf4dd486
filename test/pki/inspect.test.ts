/**
 * Golden tests for `inspect`. The goldens in __fixtures__ were reviewed against the *.openssl.txt
 * dumps (crosscheck.test.ts repeats the mechanical part of that review on every run) and against
 * step's layout; regenerate them only together with the fixtures (see make.sh).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { CaError } from '../../src/errors.js';
import { inspect } from '../../src/pki/inspect/index.js';
import { serialText } from '../../src/pki/inspect/text.js';
import type { InspectOptions } from '../../src/pki/inspect/index.js';
import { parsePem } from '../../src/pki/pem.js';
import type { PemBlock } from '../../src/pki/pem.js';
import { CERTIFICATES, fixtureBytes, fixturePath, fixtureText } from './fixtures.js';

const UPDATE = process.env.UPDATE_GOLDENS === '1';

function assertGolden(name: string, actual: string): void {
  if (UPDATE || !existsSync(fixturePath(name))) {
    if (!UPDATE) assert.fail(`missing golden ${name}; run with UPDATE_GOLDENS=1 and review it`);
    writeFileSync(fixturePath(name), actual);
    return;
  }
  assert.equal(actual, fixtureText(name), name);
}

function blocksOf(file: string): PemBlock[] {
  return parsePem(fixtureText(file), file);
}

const text: InspectOptions = { format: 'text', short: false, bundle: false };
const short: InspectOptions = { format: 'text', short: true, bundle: false };
const json: InspectOptions = { format: 'json', short: false, bundle: false };

const SINGLE_FILES = [...CERTIFICATES.map((c) => ({ base: c, file: `${c}.crt` })), { base: 'p256', file: 'p256.csr' }];

for (const { base, file } of SINGLE_FILES) {
  test(`${file}: long text, short text and JSON match the goldens`, () => {
    const blocks = blocksOf(file);
    assertGolden(`${base}.txt`, inspect(blocks, text));
    assertGolden(`${base}.short.txt`, inspect(blocks, short));
    assertGolden(`${base}.json`, inspect(blocks, json));
  });
}

test('a bundle shows only its first certificate unless asked for all', () => {
  const chain = blocksOf('chain.crt');
  assert.equal(inspect(chain, text), fixtureText('leaf-oidc.txt'));
  assert.equal(inspect(chain, short), fixtureText('leaf-oidc.short.txt'));
  assert.equal(inspect(chain, json), fixtureText('leaf-oidc.json'));
});

test('with bundle, text forms follow one another and JSON is an array', () => {
  const chain = blocksOf('chain.crt');
  const parts = ['leaf-oidc', 'intermediate-ca', 'root-ca'];
  assert.equal(inspect(chain, { ...text, bundle: true }), parts.map((p) => fixtureText(`${p}.txt`)).join(''));
  assert.equal(inspect(chain, { ...short, bundle: true }), parts.map((p) => fixtureText(`${p}.short.txt`)).join(''));
  assertGolden('chain.bundle.json', inspect(chain, { ...json, bundle: true }));
  const array = JSON.parse(inspect(chain, { ...json, bundle: true })) as unknown[];
  assert.deepEqual(array, parts.map((p) => JSON.parse(fixtureText(`${p}.json`)) as unknown));
  // Asked for a bundle, a single certificate is still an array.
  const single = JSON.parse(inspect(blocksOf('ed25519.crt'), { ...json, bundle: true })) as unknown[];
  assert.equal(single.length, 1);
});

test('DER input inspects like the same certificate in PEM', () => {
  const der = parsePem(fixtureBytes('leaf-oidc.der'), 'leaf-oidc.der');
  assert.equal(inspect(der, text), fixtureText('leaf-oidc.txt'));
});

test('the pem format gives the blocks back, CSRs included', () => {
  assert.equal(inspect(blocksOf('chain.crt'), { format: 'pem', short: false, bundle: true }), fixtureText('chain.crt'));
  assert.equal(inspect(blocksOf('chain.crt'), { format: 'pem', short: false, bundle: false }), fixtureText('leaf-oidc.crt'));
  const legacy = fixtureText('p256.csr').replace(/CERTIFICATE REQUEST/g, 'NEW CERTIFICATE REQUEST');
  assert.equal(inspect(parsePem(legacy, 'legacy.csr'), { format: 'pem', short: false, bundle: false }), fixtureText('p256.csr'));
});

test('JSON escapes <, > and & as Go does', () => {
  // The kitchen-sink CA's organization is "Kitchen <&> Corp".
  const out = inspect(blocksOf('kitchen-sink.crt'), json);
  assert.ok(out.includes('"Kitchen \\u003c\\u0026\\u003e Corp"'));
  assert.equal((JSON.parse(out) as { subject: { organization: string[] } }).subject.organization[0], 'Kitchen <&> Corp');
});

test('a block whose DER is not what its label says is refused', () => {
  const csr = blocksOf('p256.csr')[0]!;
  assert.throws(
    () => inspect([{ label: 'CERTIFICATE', der: csr.der }], text),
    (err: unknown) => err instanceof CaError && err.code === 'ERR_CERT_INVALID' && /^block 1 is not a valid certificate: /.test(err.message),
  );
  const cert = blocksOf('rsa2048.crt')[0]!;
  assert.throws(
    () => inspect([{ label: 'CERTIFICATE REQUEST', der: cert.der }], text),
    (err: unknown) => err instanceof CaError && err.code === 'ERR_CSR_INVALID',
  );
  const truncated = { label: 'CERTIFICATE' as const, der: cert.der.subarray(0, 100) };
  assert.throws(() => inspect([truncated], json), (err: unknown) => err instanceof CaError && err.status === 400);
});

test('misuse is a TypeError: no blocks, or short with json/pem', () => {
  assert.throws(() => inspect([], text), TypeError);
  assert.throws(() => inspect(blocksOf('rsa2048.crt'), { format: 'json', short: true, bundle: false }), TypeError);
});

test("serial numbers in hex as step prints them (Go's %#x of a big.Int): no leading zero", () => {
  assert.equal(serialText(0x0123456789abcdefn), '81985529216486895 (0x123456789abcdef)');
  assert.equal(serialText(0x7fn), '127 (0x7f)');
  assert.equal(serialText(15n), '15 (0xf)');
  assert.equal(serialText(0n), '0 (0x0)');
  assert.equal(serialText(-0x1234n), '-4660 (-0x1234)');
  assert.equal(serialText(0xc2d1e0f4n), '3268534516 (0xc2d1e0f4)');
});
