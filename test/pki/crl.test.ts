// Revocation words (reasons, serials) and `ca inspect` on CRLs that openssl made: the same facts
// openssl reads, in step's layout, from PEM, DER and standard input.
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { parseReasonCode, parseSerial, reasonName } from '../../src/pki/revocation.js';
import { parsePem } from '../../src/pki/pem.js';
import { parseCrl } from '../../src/pki/inspect/crl.js';
import { UsageError } from '../../src/errors.js';
import { run } from '../helpers/exec.js';
import { runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

test("reason codes: numbers 0-10 but 7, and step's names in any case, with or without blanks", () => {
  assert.equal(parseReasonCode(undefined), 0);
  assert.equal(parseReasonCode('4'), 4);
  assert.equal(parseReasonCode('keyCompromise'), 1);
  assert.equal(parseReasonCode('Key Compromise'), 1);
  assert.equal(parseReasonCode('CESSATIONOFOPERATION'), 5);
  assert.equal(parseReasonCode('aaCompromise'), 10);
  assert.throws(() => parseReasonCode('7'), (e) => e instanceof UsageError && /0 to 10, except 7/.test(e.message));
  assert.throws(() => parseReasonCode('11'), UsageError);
  assert.throws(() => parseReasonCode('stolen'), (e) => e instanceof UsageError && /unrecognized revocation reason code 'stolen'/.test(e.message) && /keyCompromise/i.test(e.hint ?? ''));
  assert.equal(reasonName(1), 'Key Compromise');
  assert.equal(reasonName(7), 'ReasonCode(7): unknown');
});

test('serials: decimal as step prints them, or hex with 0x; anything else is a usage error', () => {
  assert.equal(parseSerial('308893286343609293989051180431574390766'), '308893286343609293989051180431574390766');
  assert.equal(parseSerial('0x04D2'), '1234');
  assert.equal(parseSerial(' 0001234 '), '1234');
  for (const bad of ['', '12ab', '0x', '-5', '4c:1f']) assert.throws(() => parseSerial(bad), UsageError, bad);
});

let work: Awaited<ReturnType<typeof testdir>>;

/** A tiny openssl CA that issued two certificates and revoked both, with reasons. */
before(async () => {
  work = await testdir({
    'ca.cnf': [
      '[ ca ]',
      'default_ca = d',
      '[ d ]',
      'dir = .',
      'database = index.txt',
      'new_certs_dir = .',
      'certificate = ca.crt',
      'private_key = ca.key',
      'serial = serial',
      'crlnumber = crlnumber',
      'default_md = sha256',
      'default_crl_days = 1',
      'policy = p',
      '[ p ]',
      'commonName = supplied',
      '',
    ].join('\n'),
    'index.txt': '',
    serial: '04D2\n',
    crlnumber: '07\n',
  });
  const openssl = (args: string[]) => run('openssl', args, { cwd: work.dir });
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/O=Test/CN=Test CA']);
  for (const [name, reason] of [['a', 'keyCompromise'], ['b', 'superseded']] as const) {
    await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await openssl(['ca', '-batch', '-config', 'ca.cnf', '-in', `${name}.csr`, '-out', `${name}.crt`, '-days', '1']);
    await openssl(['ca', '-config', 'ca.cnf', '-revoke', `${name}.crt`, '-crl_reason', reason]);
  }
  await openssl(['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem']);
  await openssl(['crl', '-in', 'crl.pem', '-outform', 'DER', '-out', 'crl.der']);
});

after(async () => work?.cleanup());

test("ca inspect prints an openssl CRL with openssl's facts: issuer, updates, number, each serial with date and reason", async () => {
  const opensslText = (await run('openssl', ['crl', '-in', work.path('crl.pem'), '-noout', '-text'])).stdout;
  const res = await runCli(['inspect', work.path('crl.pem')]);
  assert.equal(res.code, 0, res.stderr);
  const text = res.stdout;
  assert.match(text, /^Certificate Revocation List \(CRL\):\n {4}Data:\n {8}Version: 2 \(0x1\)\n {4}Signature algorithm: ECDSA-SHA256\n {8}Issuer: O=Test,CN=Test CA\n/);
  assert.match(text, /X509v3 CRL Number:\n {16}7\n/);
  assert.match(text, /Serial Number: 1234 \(0x04D2\)\n {16}Revocation Date: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC\n {16}CRL Entry Extensions:\n {20}X509v3 CRL Reason Code:\n {24}Key Compromise\n/);
  assert.match(text, /Serial Number: 1235 \(0x04D3\)[\s\S]*Superseded/);
  // The same instants openssl reads.
  const crl = parseCrl(parsePem(await readFile(work.path('crl.pem'), 'utf8'), 'crl.pem')[0]!.der);
  const opensslLast = new Date(/Last Update: (.*)/.exec(opensslText)![1]!);
  assert.equal(crl.thisUpdate.getTime(), opensslLast.getTime());
  assert.equal(crl.nextUpdate?.getTime(), new Date(/Next Update: (.*)/.exec(opensslText)![1]!).getTime());

  // From standard input, in the short form; DER in JSON.
  const short = await runCli(['inspect', '-', '--short'], { input: await readFile(work.path('crl.pem'), 'utf8') });
  assert.equal(short.code, 0, short.stderr);
  assert.match(short.stdout, /^X\.509v2 Certificate Revocation List \[Number: 7\]\n {2}Issuer: {6}Test CA\n/);
  assert.match(short.stdout, /Revoked: {5}1234 at \S+Z \(Key Compromise\)\n {15}1235 at \S+Z \(Superseded\)\n/);
  const json = JSON.parse((await runCli(['inspect', work.path('crl.der'), '--format', 'json'])).stdout);
  assert.equal(json.crl_number, '7');
  assert.deepEqual(
    json.revoked_certificates.map((r: { serial_number: string; reason: string; reason_code: number }) => [r.serial_number, r.reason_code, r.reason]),
    [['1234', 1, 'Key Compromise'], ['1235', 4, 'Superseded']],
  );
  assert.deepEqual(json.issuer, { common_name: ['Test CA'], organization: ['Test'] });
  // --format pem gives the PEM openssl wrote, and re-reads.
  const pem = (await runCli(['inspect', work.path('crl.der'), '--format', 'pem'])).stdout;
  assert.equal(pem, await readFile(work.path('crl.pem'), 'utf8'));
});

test('a broken CRL is a clear error, not a crash', async () => {
  const der = await readFile(work.path('crl.der'));
  const broken = der.subarray(0, der.length - 10); // cut short: the structure runs past the end
  await writeFile(work.path('broken.pem'), `-----BEGIN X509 CRL-----\n${broken.toString('base64')}\n-----END X509 CRL-----\n`);
  const res = await runCli(['inspect', work.path('broken.pem')]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /^ca: block 1 is not a valid certificate revocation list: /);
  assert.doesNotMatch(res.stderr, /internal error/);
});
