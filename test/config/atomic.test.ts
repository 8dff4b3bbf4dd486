import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { withFileLock, writeFileAtomic } from '../../src/config/atomic.js';
import { editCaConfig, readCaConfig } from '../../src/config/ca-config.js';
import { CA_BIN, runCli } from '../helpers/run-cli.js';
import { testdir } from '../helpers/testdir.js';

const GOOGLE = 'https://accounts.google.com/.well-known/openid-configuration';

test('atomic write keeps the mode and leaves no temporary files', async (t) => {
  const d = await testdir({ 'ca.json': '{}' });
  t.after(d.cleanup);
  const { chmod } = await import('node:fs/promises');
  await chmod(d.path('ca.json'), 0o640);
  await writeFileAtomic(d.path('ca.json'), '{"a":1}\n');
  assert.equal(await readFile(d.path('ca.json'), 'utf8'), '{"a":1}\n');
  assert.equal((await stat(d.path('ca.json'))).mode & 0o777, 0o640);
  assert.deepEqual(await readdir(d.dir), ['ca.json']);
});

test('a failing edit leaves the file byte-identical and unlocked', async (t) => {
  const original = '{\n  "custom": [1, 2, 3], "authority": {"provisioners": []}\n}\n';
  const d = await testdir({ 'ca.json': original });
  t.after(d.cleanup);
  await assert.rejects(
    editCaConfig(d.path('ca.json'), () => {
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.equal(await readFile(d.path('ca.json'), 'utf8'), original);
  assert.deepEqual(await readdir(d.dir), ['ca.json']);
});

test('edits in the same process take turns under the lock', async (t) => {
  const d = await testdir({ 'ca.json': { authority: { provisioners: [] } } });
  t.after(d.cleanup);
  await Promise.all(
    Array.from({ length: 25 }, (_, i) =>
      editCaConfig(d.path('ca.json'), async (c) => {
        c.authority?.provisioners?.push({ type: 'OIDC', name: `p${i}` });
        await new Promise((r) => setTimeout(r, 1));
      }),
    ),
  );
  assert.equal((await readCaConfig(d.path('ca.json'))).authority?.provisioners?.length, 25);
});

test('a lock left by a dead process is taken over', async (t) => {
  const d = await testdir({ 'ca.json': '{}' });
  t.after(d.cleanup);
  await writeFile(d.path('ca.json.lock'), '999999999');
  assert.equal(await withFileLock(d.path('ca.json'), async () => 'ran', { timeoutMs: 2000 }), 'ran');
});

test('a live lock times out with a message that says what to do', async (t) => {
  const d = await testdir({ 'ca.json': '{}' });
  t.after(d.cleanup);
  await writeFile(d.path('ca.json.lock'), String(process.pid));
  await assert.rejects(withFileLock(d.path('ca.json'), async () => 'ran', { timeoutMs: 200 }), /is locked by another ca process/);
});

test('an empty or garbage lock (a writer killed before it wrote its pid) is taken over once a few seconds old', async (t) => {
  const d = await testdir({ 'ca.json': '{}' });
  t.after(d.cleanup);
  const lock = d.path('ca.json.lock');
  for (const content of ['', 'garbage', '\u0000\u0000']) {
    await writeFile(lock, content);
    const old = new Date(Date.now() - 10_000);
    await utimes(lock, old, old);
    assert.equal(await withFileLock(d.path('ca.json'), async () => 'ran', { timeoutMs: 2_000 }), 'ran', JSON.stringify(content));
    // A fresh one is given its few seconds, then taken over too (well before the 15 s timeout).
    await writeFile(lock, content);
    assert.equal(await withFileLock(d.path('ca.json'), async () => 'ran', { timeoutMs: 10_000 }), 'ran', JSON.stringify(content));
    await assert.rejects(stat(lock), /ENOENT/, 'released');
  }
});

/** The pid of a process that has just exited (so no live process has it). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid as number;
}

test('the next edit removes the temporary files (client secrets) a killed editor left', async (t) => {
  const d = await testdir({ 'ca.json': { authority: { provisioners: [] } } });
  t.after(d.cleanup);
  const sleeper = spawn('sleep', ['30']);
  t.after(() => sleeper.kill());
  const dead = await deadPid();
  const left = [`.ca.json.${dead}.0a1b2c3d.tmp`, `.ca.json.lock.${dead}.0a1b2c3d.tmp`, `.ca.json.lock.stale.${dead}.0a1b2c3d.tmp`];
  const live = `.ca.json.${sleeper.pid}.0a1b2c3d.tmp`;
  for (const name of [...left, live]) await writeFile(d.path(name), '{"clientSecret": "s3cr3t"}');
  await writeFile(d.path('.other.json.1.aa.tmp'), 'not ours');
  await editCaConfig(d.path('ca.json'), (c) => void c.authority?.provisioners?.push({ type: 'OIDC', name: 'p' }));
  assert.deepEqual((await readdir(d.dir)).sort(), ['.other.json.1.aa.tmp', 'ca.json', live].sort(), "a live process's file and other files stay");
});

test('kill -9 of real `ca provisioner add` processes at the moment they lock or stage: the next edit goes through at once and cleans up', { timeout: 180_000 }, async (t) => {
  const d = await testdir({
    'ca/config/ca.json': { root: 'certs/root_ca.crt', crt: 'certs/intermediate_ca.crt', key: 'secrets/intermediate_ca_key', authority: { provisioners: [] } },
  });
  t.after(d.cleanup);
  const dir = d.path('ca/config');
  const env = { PATH: process.env.PATH, HOME: '/nonexistent-home', CA_PATH: d.path('ca') };
  const moments: [string, RegExp][] = [
    ['the lock appears', /^ca\.json\.lock$/],
    ['the lock is being prepared', /^\.ca\.json\.lock\.\d+\.[0-9a-f]+\.tmp$/],
    ['ca.json is being staged', /^\.ca\.json\.\d+\.[0-9a-f]+\.tmp$/],
  ];
  const killedAt = new Map<string, number>();
  for (let i = 0; i < 30; i += 1) {
    const [moment, pattern] = moments[i % moments.length] as [string, RegExp];
    const child = spawn(process.execPath, [CA_BIN, 'provisioner', 'add', `P${i}`, '--client-id', `c${i}`, '--client-secret', 'top-secret', '--configuration-endpoint', GOOGLE, '--no-check'], { env, stdio: 'ignore' });
    const watcher = watch(dir, (_event, name) => {
      if (name && pattern.test(String(name)) && child.exitCode === null) {
        child.kill('SIGKILL');
        killedAt.set(moment, (killedAt.get(moment) ?? 0) + 1);
      }
    });
    const bound = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await once(child, 'exit');
    clearTimeout(bound);
    watcher.close();
  }
  assert.ok((killedAt.get('the lock appears') ?? 0) > 0, `killed at: ${JSON.stringify(Object.fromEntries(killedAt))}`);

  // Whatever the kills left, the next edit takes over the lock (its owner is gone) and succeeds
  // well within its 15 s lock timeout, and removes the temporary files.
  const next = await runCli(['provisioner', 'add', 'Final', '--client-id', 'final', '--configuration-endpoint', GOOGLE, '--no-check'], { env });
  assert.equal(next.code, 0, next.stderr);
  assert.deepEqual(await readdir(dir), ['ca.json'], 'no lock or temporary file left');
  const names = (await readCaConfig(d.path('ca/config/ca.json'))).authority?.provisioners?.map((p) => p.name);
  assert.ok(names?.includes('Final'));
});
