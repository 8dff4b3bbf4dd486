/**
 * The pure parts of `ca admin ...` and the remote `ca provisioner update`: step's admin table,
 * finding an admin by subject (and provisioner), and what a PUT keeps of the provisioner it changes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaError, UsageError } from '../../src/errors.js';
import { adminTable, findAdmin, type ProvisionerRef } from '../../src/cli/commands/admin/shared.js';
import { withIdentity } from '../../src/cli/commands/provisioner/update.js';
import type { AdminRecord } from '../../src/client/admin-client.js';

const byId = new Map<string, ProvisionerRef>([
  ['p1', { id: 'p1', name: 'admin', type: 'JWK' }],
  ['p2', { id: 'p2', name: 'Okta', type: 'OIDC' }],
]);
const admins: AdminRecord[] = [
  { id: 'a1', subject: 'step', provisionerId: 'p1', type: 'SUPER_ADMIN' },
  { id: 'a2', subject: 'alice@example.com', provisionerId: 'p2', type: 'ADMIN' },
  { id: 'a3', subject: 'alice@example.com', provisionerId: 'p1', type: 'SUPER_ADMIN' },
  { id: 'a4', subject: 'bob@example.com', provisionerId: 'gone', type: 'ADMIN' },
];

test("step's admin table: SUBJECT, PROVISIONER (NAME (TYPE)), TYPE, aligned", () => {
  assert.equal(
    adminTable(admins, byId),
    [
      'SUBJECT            PROVISIONER  TYPE',
      'step               admin (JWK)  SUPER_ADMIN',
      'alice@example.com  Okta (OIDC)  ADMIN',
      'alice@example.com  admin (JWK)  SUPER_ADMIN',
      'bob@example.com    gone         ADMIN',
    ].join('\n'),
  );
});

test('an admin by subject: one, or the provisioner must say which; none names what exists', () => {
  assert.equal(findAdmin(admins, 'step', undefined, byId).id, 'a1');
  assert.equal(findAdmin(admins, 'alice@example.com', 'Okta', byId).id, 'a2');
  assert.throws(
    () => findAdmin(admins, 'alice@example.com', undefined, byId),
    (e: unknown) => e instanceof UsageError && e.message === 'alice@example.com is an admin of 2 provisioners (Okta, admin): pass --provisioner NAME',
  );
  assert.throws(
    () => findAdmin(admins, 'step', 'Okta', byId),
    (e: unknown) => e instanceof CaError && e.message === 'there is no admin step of provisioner Okta; step is an admin of admin (JWK)',
  );
  assert.throws(() => findAdmin(admins, 'nobody', undefined, byId), /^CaError: there is no admin nobody$|there is no admin nobody/);
});

test('a changed provisioner keeps its id, authority, dates and templates for the PUT', () => {
  const current = { id: 'p2', authorityId: 'auth', type: 'OIDC', name: 'Okta', details: { OIDC: { clientId: 'c' } }, createdAt: '2026-01-01T00:00:00Z', x509Template: { template: 'x' } };
  const next = { type: 'OIDC', name: 'Okta', details: { OIDC: { clientId: 'c', admins: ['bob@example.com'] } } };
  assert.deepEqual(withIdentity(next, current), { ...next, id: 'p2', authorityId: 'auth', createdAt: '2026-01-01T00:00:00Z', x509Template: { template: 'x' } });
  assert.deepEqual(withIdentity({ ...next, x509Template: { template: 'new' } }, current).x509Template, { template: 'new' });
});
