import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { withFileLock, writeFileAtomic } from '../../src/config/atomic.js';
import { editCaConfig, readCaConfig } from '../../src/config/ca-config.js';
import { testdir } from '../helpers/testdir.js';

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
