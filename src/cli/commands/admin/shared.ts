/**
 * What `ca admin add|list|update|remove` share: the admin's session, the CA's provisioners by id
 * (admins name theirs by id), finding an admin by subject, and step's table.
 */
import { CaError, UsageError } from '../../../errors.js';
import type { AdminClient, AdminRecord } from '../../../client/admin-client.js';
import { formatTable } from '../provisioner/list.js';

export interface ProvisionerRef {
  id: string;
  name: string;
  type: string;
}

/** The CA's provisioners by id: from the list when it carries ids, else one GET per provisioner. */
export async function provisionersById(admin: AdminClient): Promise<Map<string, ProvisionerRef>> {
  const byId = new Map<string, ProvisionerRef>();
  for (const p of await admin.provisioners()) {
    const id = typeof p.id === 'string' && p.id ? p.id : (await admin.provisioner(p.name)).id;
    if (id) byId.set(id, { id, name: p.name, type: p.type });
  }
  return byId;
}

/** `Okta (OIDC)`, as step's admin table names a provisioner; its id when the CA does not list it. */
export function provisionerText(id: string, byId: Map<string, ProvisionerRef>): string {
  const p = byId.get(id);
  return p ? `${p.name} (${p.type.toUpperCase()})` : id;
}

/** step's `ca admin list` table: SUBJECT, PROVISIONER, TYPE, header first, columns aligned. */
export function adminTable(admins: AdminRecord[], byId: Map<string, ProvisionerRef>): string {
  const rows = admins.map((a) => [a.subject, provisionerText(a.provisionerId, byId), a.type]);
  return formatTable([['SUBJECT', 'PROVISIONER', 'TYPE'], ...rows], true);
}

/**
 * The one admin with this subject (of the named provisioner, when given). Several: the
 * provisioner must be named; none: an error saying how to see the admins.
 */
export function findAdmin(admins: AdminRecord[], subject: string, provisioner: string | undefined, byId: Map<string, ProvisionerRef>): AdminRecord {
  const named = admins.filter((a) => a.subject === subject);
  const matching = provisioner === undefined ? named : named.filter((a) => byId.get(a.provisionerId)?.name === provisioner);
  if (matching.length === 1) return matching[0] as AdminRecord;
  if (matching.length === 0) {
    const where = provisioner === undefined ? '' : ` of provisioner ${provisioner}`;
    const others = provisioner !== undefined && named.length > 0 ? `; ${subject} is an admin of ${named.map((a) => provisionerText(a.provisionerId, byId)).join(', ')}` : '';
    throw new CaError('ERR_NOT_FOUND', `there is no admin ${subject}${where}${others}`, { hint: "'ca admin list' shows the admins", exitCode: 1 });
  }
  const names = matching.map((a) => byId.get(a.provisionerId)?.name ?? a.provisionerId);
  throw new UsageError(`${subject} is an admin of ${matching.length} provisioners (${names.join(', ')}): pass --provisioner NAME`, {
    hint: `e.g. --provisioner ${names[0]}`,
  });
}
