/**
 * Remote administration across replicas on one real PostgreSQL: two `ca serve` processes started
 * at once on a CA that just turned enableAdmin on move ca.json's provisioners into the database
 * once, and a provisioner added on one replica signs on the other without a reload.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { toLinked } from '../../src/config/linkedca.js';
import { startPostgres, type TestPostgres } from '../fixtures/postgres.js';
import { adminCall, adminCredentials, createAdminHome, newJwkProvisioner, signWithJwk } from './admin-helpers.js';
import { JWK_PROVISIONER, setDatabase, startServe, type CaHome, type Serving } from './helpers.js';

let pgt: TestPostgres;
let home: CaHome;
let replicas: Serving[] = [];

before(async () => {
  pgt = await startPostgres();
  home = await createAdminHome();
  await setDatabase(home, { type: 'postgresql', dataSource: pgt.url(), database: `ca_admin_${process.pid}` });
});

after(async () => {
  await Promise.all(replicas.map((r) => r.stop('SIGKILL')));
  await pgt?.close();
  await home?.cleanup();
});

describe('remote administration on PostgreSQL, two replicas', () => {
  test("replicas starting at once move ca.json's provisioners into the database once", async () => {
    replicas = await Promise.all([startServe(home, { workers: 1 }), startServe(home, { workers: 1 })]);
    const moved = replicas.filter((r) => /moved the 1 provisioner\(s\) of ca.json into the database/.test(r.stdout()));
    assert.equal(moved.length, 1, replicas.map((r) => r.stdout()).join('\n---\n'));
    const step = await adminCredentials(replicas[0]!, home, 'step');
    const list = await adminCall(replicas[1]!, step, { method: 'GET', path: '/admin/provisioners' });
    assert.deepEqual((list.body.provisioners as { name: string }[]).map((p) => p.name), [JWK_PROVISIONER]);
    const admins = await adminCall(replicas[1]!, step, { method: 'GET', path: '/admin/admins' });
    assert.deepEqual((admins.body.admins as { subject: string }[]).map((a) => a.subject), ['step']);
  });

  test('a provisioner added on one replica signs on the other at once, and the other lists it', async () => {
    const [a, b] = replicas as [Serving, Serving];
    const step = await adminCredentials(a, home, 'step');
    const { json, secret } = await newJwkProvisioner('fleet');
    const added = await adminCall(a, step, { method: 'POST', path: '/admin/provisioners', body: toLinked(json) });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const signed = await signWithJwk(b, home, secret, 'node-1.example.com');
    assert.equal(signed.res.status, 201, signed.res.body);
    // The change feed (LISTEN/NOTIFY) brings it to the other replica's public list; bounded wait.
    let names: string[] = [];
    for (let i = 0; i < 100 && !names.includes('fleet'); i++) {
      names = (JSON.parse((await b.request('GET', '/provisioners')).body) as { provisioners: { name: string }[] }).provisioners.map((p) => p.name);
      if (!names.includes('fleet')) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok(names.includes('fleet'), names.join(', '));

    const removed = await adminCall(b, step, { method: 'DELETE', path: '/admin/provisioners/fleet' });
    assert.equal(removed.status, 200);
    let refusedOnA = 0;
    for (let i = 0; i < 100 && refusedOnA === 0; i++) {
      const res = (await signWithJwk(a, home, secret, `node-${i}.example.com`)).res;
      if (res.status === 401) refusedOnA = 1;
      else await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(refusedOnA, 1, 'a provisioner removed on one replica stops signing on the other');
  });
});
