/**
 * What every Store must do for remote administration (sqlite.test.ts, postgres.test.ts run it):
 * provisioners and admins with their rules, each change audited and announced, the first-start
 * seed done once, and concurrent adds of one name decided by the database.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CaError } from '../../src/errors.js';
import type { AuditEntry, Store, StoreChange, StoredAdmin, StoredProvisioner } from '../../src/store/types.js';
import { testdir } from '../helpers/testdir.js';
import { t0 } from './rules.js';

let seq = 0;
export function provisioner(name: string, extra: Record<string, unknown> = {}): StoredProvisioner {
  seq += 1;
  return { id: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, name, type: 'JWK', config: { type: 'JWK', name, key: { kty: 'EC', kid: `kid-${seq}` }, ...extra }, createdAt: new Date(t0.getTime() + seq * 1000) };
}

export function admin(subject: string, p: StoredProvisioner, type: StoredAdmin['type'] = 'SUPER_ADMIN'): StoredAdmin {
  seq += 1;
  return { id: `10000000-0000-4000-8000-${String(seq).padStart(12, '0')}`, subject, provisionerId: p.id, type, createdAt: new Date(t0.getTime() + seq * 1000) };
}

const audit = (action: string, target: string): AuditEntry => ({ at: t0, actor: 'step (provisioner admin)', action, target, detail: '' });

async function refused(promise: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof CaError && err.status === status && message.test(err.message));
}

export function adminStoreRules(name: string, open: (dir: string) => Store | Promise<Store>, opts: { shared: boolean }): void {
  describe(`${name} store: remote administration`, () => {
    test('provisioners: add, list in order, update, names unique, unknown ids', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      const a = provisioner('a', { claims: { maxTLSCertDuration: '1h0m0s' } });
      const b = provisioner('b');
      await store.addProvisioner(a, audit('provisioner.add', 'a'));
      await store.addProvisioner(b, audit('provisioner.add', 'b'));
      assert.deepEqual(await store.listProvisioners(), [a, b]);
      await refused(store.addProvisioner({ ...provisioner('a'), name: 'a' }, audit('provisioner.add', 'a')), 400, /a provisioner named "a" already exists/);
      await refused(store.updateProvisioner({ ...b, name: 'a', config: { ...b.config, name: 'a' } }, audit('provisioner.update', 'b')), 400, /already exists/);
      await refused(store.updateProvisioner(provisioner('ghost'), audit('provisioner.update', 'ghost')), 404, /not found/);
      const renamed = { ...b, name: 'b2', config: { ...b.config, name: 'b2' } };
      await store.updateProvisioner(renamed, audit('provisioner.update', 'b'));
      assert.deepEqual((await store.listProvisioners()).map((p) => p.name), ['a', 'b2']);
      assert.deepEqual((await store.listAudit()).map((e) => [e.action, e.target]), [['provisioner.add', 'a'], ['provisioner.add', 'b'], ['provisioner.update', 'b']], 'refused changes leave no audit row');
    });

    test('admins: unique per subject and provisioner; a super admin always remains', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      const p = provisioner('admin');
      const other = provisioner('other');
      await store.addProvisioner(p, audit('provisioner.add', 'admin'));
      await store.addProvisioner(other, audit('provisioner.add', 'other'));
      const step = admin('step', p);
      await store.addAdmin(step, audit('admin.add', 'step'));
      await refused(store.addAdmin(admin('step', p, 'ADMIN'), audit('admin.add', 'step')), 400, /already exists/);
      await refused(store.addAdmin(admin('x', provisioner('nowhere')), audit('admin.add', 'x')), 400, /not found/);
      const carol = admin('carol', other, 'ADMIN');
      await store.addAdmin(carol, audit('admin.add', 'carol'));
      await store.addAdmin(admin('step', other, 'ADMIN'), audit('admin.add', 'step'));

      await refused(store.updateAdmin(step.id, 'ADMIN', audit('admin.update', 'step')), 400, /no super admin/);
      await refused(store.removeAdmin(step.id, audit('admin.remove', 'step')), 400, /no super admin/);
      await refused(store.removeProvisioner(p.id, audit('provisioner.remove', 'admin')), 400, /no super admin/);
      await refused(store.removeAdmin('nope', audit('admin.remove', 'nope')), 404, /not found/);

      assert.deepEqual(await store.updateAdmin(carol.id, 'SUPER_ADMIN', audit('admin.update', 'carol')), { ...carol, type: 'SUPER_ADMIN' });
      // Now the other provisioner has a super admin: this one (and its admins) may go.
      await store.removeProvisioner(p.id, audit('provisioner.remove', 'admin'));
      assert.deepEqual((await store.listProvisioners()).map((x) => x.name), ['other']);
      assert.deepEqual((await store.listAdmins()).map((a) => [a.subject, a.type]).sort(), [['carol', 'SUPER_ADMIN'], ['step', 'ADMIN']]);
    });

    test('each change announces its topic', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      const store = await open(d.dir);
      t.after(() => store.close());
      const heard: StoreChange[] = [];
      const stops = await Promise.all(['provisioners', 'admins'].map((topic) => store.watch(topic, (c) => heard.push(c))));
      t.after(() => stops.forEach((stop) => stop()));
      const p = provisioner('announced');
      await store.addProvisioner(p, audit('provisioner.add', 'announced'));
      await store.addAdmin(admin('step', p), audit('admin.add', 'step'));
      for (let i = 0; i < 100 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(heard.map((c) => c.topic).sort(), ['admins', 'provisioners']);
    });

    test('the first-start seed happens once; concurrent adds of one name: one wins', async (t) => {
      const d = await testdir();
      t.after(d.cleanup);
      // One after the other: the first open makes the database the second shares.
      const stores = [await open(d.dir)];
      if (opts.shared) stores.push(await open(d.dir));
      t.after(() => Promise.all(stores.map((s) => s.close())));
      const seeds = await Promise.all(
        stores.flatMap((s) => [0, 1].map(() => {
          const p = provisioner('first');
          return s.seedProvisioners([p], [admin('step', p)], audit('provisioner.import', 'ca.json'));
        })),
      );
      assert.equal(seeds.filter(Boolean).length, 1, JSON.stringify(seeds));
      assert.deepEqual((await stores[0]!.listProvisioners()).map((p) => p.name), ['first']);
      assert.equal((await stores[0]!.listAdmins()).length, 1);

      const adds = await Promise.allSettled(stores.flatMap((s) => [0, 1, 2].map(() => s.addProvisioner(provisioner('same'), audit('provisioner.add', 'same')))));
      assert.equal(adds.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of adds) if (r.status === 'rejected') assert.ok(r.reason instanceof CaError && r.reason.status === 400, String(r.reason));
    });
  });
}
