// The parts renew and rekey share, with real files and processes: the certificate/key pair check,
// --signal names, and the hooks after a renewal (a real signal to a real process, a real command).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { CaError, UsageError } from '../../src/errors.js';
import { testIO } from '../../src/cli/io.js';
import { checkWithinValidity, hooksFrom, notDue, parseSignal, readCredentials, runHooks } from '../../src/cli/lifecycle.js';
import { selfSigned } from '../helpers/https.js';
import { testdir } from '../helpers/testdir.js';

let work: Awaited<ReturnType<typeof testdir>>;
before(async () => {
  work = await testdir();
});
after(async () => work?.cleanup());

test("--signal takes step's numbers and the names people write", () => {
  assert.equal(parseSignal('1'), 'SIGHUP');
  assert.equal(parseSignal('15'), 'SIGTERM');
  assert.equal(parseSignal('usr1'), 'SIGUSR1');
  assert.equal(parseSignal('SIGHUP'), 'SIGHUP');
  for (const bad of ['0', 'BOGUS', '999']) assert.throws(() => parseSignal(bad), (e) => e instanceof UsageError && /for flag '--signal'/.test(e.message), bad);
});

test('a certificate and key that belong together are read; a wrong key, a missing file or a CSR is a clear error', async () => {
  const a = await selfSigned(work.dir, 'a');
  const b = await selfSigned(work.dir, 'b');
  const creds = await readCredentials(a.crtFile, a.keyFile);
  assert.equal(creds.leaf.subject, 'a');
  assert.match(creds.chainPem, /^-----BEGIN CERTIFICATE-----\n/);
  assert.match(creds.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
  assert.ok(creds.leaf.notAfter > creds.leaf.notBefore);
  await assert.rejects(readCredentials(a.crtFile, b.keyFile), (e) => e instanceof CaError && e.message === `${b.keyFile} is not the private key of ${a.crtFile}`);
  await assert.rejects(readCredentials(work.path('none.crt'), a.keyFile), (e) => e instanceof CaError && /the certificate .*none\.crt does not exist/.test(e.message));
  await assert.rejects(readCredentials(a.keyFile, a.keyFile), (e) => e instanceof CaError && /contains no PEM certificate/.test(e.message));
});

test("--expires-in: not due says step's line; the flags must fit in the lifetime", () => {
  const now = new Date('2026-11-23T12:00:00Z');
  const leaf = { serial: '1', subject: 'x', notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + 10 * 3_600_000 + 5_000) };
  assert.equal(notDue(leaf, 8 * 3_600_000, now, 'renewed', () => 0), 'certificate not renewed: expires in 10h0m5s');
  assert.equal(notDue(leaf, 11 * 3_600_000, now, 'renewed', () => 0), undefined);
  assert.equal(notDue(leaf, undefined, now, 'renewed'), undefined);
  assert.throws(
    () => checkWithinValidity(leaf, [{ flag: '--renew-period', ms: 11 * 3_600_000 + 5_000, equalAllowed: false }]),
    /flag '--renew-period' must be within \(lower than\) the certificate validity period; renew-period=11h0m5s, cert-validity-period=11h0m5s/,
  );
  checkWithinValidity(leaf, [{ flag: '--expires-in', ms: 11 * 3_600_000 + 5_000, equalAllowed: true }]);
});

test('after a renewal: the process gets the signal, then the command runs (no shell); failures name what failed', async () => {
  const child = spawn(process.execPath, ['-e', "process.on('SIGUSR1', () => { console.log('reloaded'); process.exit(0); }); setInterval(() => {}, 1000); console.log('ready');"], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const marker = work.path('hook ran');
  const io = testIO();
  const hooks = await hooksFrom({ pid: String(child.pid), signal: 'USR1', exec: `node -e require('fs').writeFileSync(process.argv[1],'x') ${marker}` });
  // Blanks split: the marker path has a space, so it arrives as two arguments and the first is used.
  await runHooks(hooks, io);
  assert.equal(await exited, 0);
  assert.match(out, /reloaded/);
  assert.equal(await readFile(work.path('hook'), 'utf8'), 'x');

  await assert.rejects(runHooks({ signal: 'SIGHUP', exec: 'false' }, io), (e) => e instanceof CaError && e.message === "the --exec command 'false' exited with code 1");
  await assert.rejects(runHooks({ signal: 'SIGHUP', exec: 'no-such-command-here --flag' }, io), (e) => e instanceof CaError && /cannot run --exec no-such-command-here: command not found/.test(e.message));
  await assert.rejects(runHooks({ signal: 'SIGHUP', pid: 2 ** 22 + 12345 }, io), (e) => e instanceof CaError && /cannot send SIGHUP to process \d+: no such process/.test(e.message));
  await assert.rejects(hooksFrom({ pid: '12', pidFile: 'x' }), /incompatible/);
  await assert.rejects(hooksFrom({ pid: '-3' }), /invalid value '-3' for flag '--pid'/);
});

test('ca crl --der will not print binary to a terminal', async () => {
  const { crlRun } = await import('../../src/cli/commands/crl.js');
  await assert.rejects(
    crlRun({ der: true, force: false }, { io: testIO({ stdout: true }), env: {}, caPath: work.path('nowhere') }),
    (e) => e instanceof UsageError && /not writing a binary \(DER\) CRL to the terminal/.test(e.message),
  );
});
