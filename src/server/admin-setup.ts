/**
 * Starting with remote administration (`authority.enableAdmin`): the provisioners come from the
 * store. A CA that turns it on keeps its ca.json provisioners: the first start moves them into the
 * store (with their OIDC `admins` as super admins, else `step` on the first JWK provisioner, as
 * step-ca's default), and from then on ca.json's list is ignored, with one log line saying so.
 */
import { randomUUID } from 'node:crypto';
import { provisionersOf, type CaConfigJson, type ProvisionerJson } from '../config/ca-config.js';
import { isJwk } from '../config/jwk.js';
import { isOidc } from '../config/provisioner.js';
import { CaError } from '../errors.js';
import { DEFAULT_ADMIN_SUBJECT } from '../store/admin-rules.js';
import type { Store, StoredAdmin, StoredProvisioner } from '../store/types.js';
import type { JsonLog } from './log.js';
import { adminEnabled } from './admin-api.js';

/** Remote administration keeps its records in the database: refuse to start without one. */
export function checkAdminDatabase(config: CaConfigJson, configPath: string): void {
  if (!adminEnabled(config) || (config.db !== undefined && config.db !== null)) return;
  throw new CaError('ERR_CONFIG_INVALID', `${configPath}: "authority.enableAdmin" needs a database (provisioners and admins are kept there), and ca.json has no "db"`, {
    hint: 'add "db": {"type": "sqlite", "dataSource": "db"} (or a PostgreSQL one), or set "enableAdmin": false',
  });
}

/** The store's rows for a ca.json list, and who may administer them. */
export function seedRecords(list: readonly ProvisionerJson[], now: Date): { provisioners: StoredProvisioner[]; admins: StoredAdmin[] } {
  const provisioners = list.map((config) => ({ id: randomUUID(), name: config.name, type: config.type, config: structuredClone(config), createdAt: now }));
  const admins: StoredAdmin[] = [];
  for (const p of provisioners) {
    if (!isOidc(p.config)) continue;
    for (const subject of new Set(p.config.admins ?? [])) admins.push({ id: randomUUID(), subject, provisionerId: p.id, type: 'SUPER_ADMIN', createdAt: now });
  }
  const jwk = provisioners.find((p) => isJwk(p.config));
  if (admins.length === 0 && jwk) admins.push({ id: randomUUID(), subject: DEFAULT_ADMIN_SUBJECT, provisionerId: jwk.id, type: 'SUPER_ADMIN', createdAt: now });
  return { provisioners, admins };
}

/** At start: move ca.json's provisioners into an empty store (one process wins), and say what is ignored. */
export async function seedAdminStore(config: CaConfigJson, configPath: string, store: Store, log: JsonLog, now: Date): Promise<void> {
  const listed = provisionersOf(structuredClone(config));
  if (listed.length === 0) return;
  const { provisioners, admins } = seedRecords(listed, now);
  const audit = { at: now, actor: 'ca serve (first start with enableAdmin)', action: 'provisioner.import', target: configPath, detail: JSON.stringify({ provisioners: listed.map((p) => p.name), admins: admins.map((a) => a.subject) }) };
  if (await store.seedProvisioners(provisioners, admins, audit)) {
    log({
      level: 'info',
      msg: `moved the ${listed.length} provisioner(s) of ca.json into the database (remote administration); ca.json's provisioner list is ignored from now on`,
      provisioners: listed.map((p) => p.name),
      superAdmins: admins.map((a) => a.subject),
    });
  } else {
    log({ level: 'info', msg: `ca.json lists ${listed.length} provisioner(s); with "authority.enableAdmin" the provisioners come from the database, and ca.json's list is ignored` });
  }
}

/** The configuration a generation is built from: ca.json with the store's provisioners. */
export function withProvisioners(config: CaConfigJson, stored: readonly StoredProvisioner[]): CaConfigJson {
  return { ...config, authority: { ...config.authority, provisioners: stored.map((p) => structuredClone(p.config)) } };
}

export function provisionersKey(stored: readonly StoredProvisioner[]): string {
  return JSON.stringify(stored.map((p) => [p.id, p.config]));
}
