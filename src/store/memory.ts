/**
 * The store when ca.json has no `db`, as step-ca's in-memory "SimpleDB": the same rules as SQLite,
 * kept for the life of the process. Several server processes do not share it, so a token could be
 * used once per process; configure a `db` for a cluster.
 */
import { adminExists, noSuperAdminLeft, provisionerNameTaken, superAdminRemains, unknownAdmin, unknownProvisionerForAdmin, unknownProvisionerId } from './admin-rules.js';
import { ADMINS_TOPIC, ChangeFeed, changeDetail, checkTopic, PROVISIONERS_TOPIC, REVOCATIONS_TOPIC } from './changes.js';
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';
import type { AuditEntry, IssuedCertificate, Revocation, Store, StoredAdmin, StoredProvisioner } from './types.js';

const copyProvisioner = (p: StoredProvisioner): StoredProvisioner => structuredClone(p);
const copyAdmin = (a: StoredAdmin): StoredAdmin => ({ ...a, createdAt: new Date(a.createdAt) });

export function openMemoryStore(): Store {
  const certificates = new Map<string, IssuedCertificate>();
  /** Token id to expiry (ms). */
  const usedTokens = new Map<string, number>();
  let lastSweep = -Infinity;
  const revocations = new Map<string, Revocation>();
  let crlNumber = 0n;
  const feed = new ChangeFeed();
  /** Each topic's change count: the process is the whole world, so watchers hear at once. */
  const versions = new Map<string, number>();
  let provisioners: StoredProvisioner[] = [];
  let admins: StoredAdmin[] = [];
  const audits: AuditEntry[] = [];

  function audited(entry: AuditEntry, topic: string, detail: string): void {
    audits.push({ ...entry });
    announce(topic, detail);
  }

  function provisionerIndex(id: string): number {
    const i = provisioners.findIndex((p) => p.id === id);
    if (i < 0) throw unknownProvisionerId(id);
    return i;
  }

  function adminIndex(id: string): number {
    const i = admins.findIndex((a) => a.id === id);
    if (i < 0) throw unknownAdmin(id);
    return i;
  }

  function announce(topic: string, detail: string | undefined): void {
    const version = (versions.get(topic) ?? 0) + 1;
    versions.set(topic, version);
    feed.observe({ topic, version, detail: changeDetail(detail) });
  }

  function sweep(nowMs: number): void {
    if (nowMs - lastSweep < TOKEN_SWEEP_INTERVAL_MS) return;
    lastSweep = nowMs;
    for (const [id, expiresAt] of usedTokens) if (expiresAt <= nowMs) usedTokens.delete(id);
  }

  function record(cert: IssuedCertificate): void {
    if (certificates.has(cert.serial)) throw new Error(`a certificate with serial ${cert.serial} is already recorded`);
    certificates.set(cert.serial, { ...cert, sans: [...cert.sans] });
  }

  function isUsed(tokenId: string, nowMs: number): boolean {
    sweep(nowMs);
    const current = usedTokens.get(tokenId);
    return current !== undefined && current > nowMs;
  }

  return {
    async recordCertificate(cert) {
      record(cert);
    },
    async useToken(tokenId, expiresAt, now) {
      if (isUsed(tokenId, now.getTime())) return false;
      usedTokens.set(tokenId, expiresAt.getTime());
      return true;
    },
    async issueCertificate(token, cert, now) {
      if (isUsed(token.id, now.getTime())) return false;
      record(cert);
      usedTokens.set(token.id, token.expiresAt.getTime());
      return true;
    },
    async getCertificate(serial) {
      const cert = certificates.get(serial);
      return cert && { ...cert, sans: [...cert.sans] };
    },
    async revokeCertificate(revocation, { token, requireKnown, now }) {
      if (requireKnown && !certificates.has(revocation.serial)) return { result: 'unknown-serial' };
      const existing = revocations.get(revocation.serial);
      if (existing) return { result: 'already-revoked', existing: { ...existing } };
      if (token) {
        if (isUsed(token.id, now.getTime())) return { result: 'token-used' };
        usedTokens.set(token.id, token.expiresAt.getTime());
      }
      revocations.set(revocation.serial, { ...revocation });
      announce(REVOCATIONS_TOPIC, revocation.serial);
      return { result: 'revoked' };
    },
    async getRevocation(serial) {
      const found = revocations.get(serial);
      return found && { ...found };
    },
    async listRevocations(now) {
      return [...revocations.values()].filter((r) => r.notAfter.getTime() > now.getTime()).map((r) => ({ ...r }));
    },
    async revocationsVersion() {
      return revocations.size;
    },
    async renewCertificate(fromSerial, cert) {
      const revoked = revocations.get(fromSerial);
      if (revoked) return { ok: false, revoked: { ...revoked } };
      record(cert);
      return { ok: true };
    },
    async nextCrlNumber() {
      crlNumber += 1n;
      return crlNumber;
    },
    async listProvisioners() {
      return provisioners.map(copyProvisioner);
    },
    async listAdmins() {
      return admins.map(copyAdmin);
    },
    async addProvisioner(p, audit) {
      if (provisioners.some((q) => q.name === p.name)) throw provisionerNameTaken(p.name);
      provisioners.push(copyProvisioner(p));
      audited(audit, PROVISIONERS_TOPIC, p.name);
    },
    async updateProvisioner(p, audit) {
      const i = provisionerIndex(p.id);
      if (provisioners.some((q) => q.name === p.name && q.id !== p.id)) throw provisionerNameTaken(p.name);
      provisioners[i] = { ...copyProvisioner(p), createdAt: new Date((provisioners[i] as StoredProvisioner).createdAt) };
      audited(audit, PROVISIONERS_TOPIC, p.name);
    },
    async removeProvisioner(id, audit) {
      const i = provisionerIndex(id);
      if (!superAdminRemains(admins, (a) => a.provisionerId === id)) throw noSuperAdminLeft(`removing provisioner "${(provisioners[i] as StoredProvisioner).name}"`);
      admins = admins.filter((a) => a.provisionerId !== id);
      provisioners.splice(i, 1);
      audited(audit, PROVISIONERS_TOPIC, id);
      announce(ADMINS_TOPIC, id);
    },
    async addAdmin(a, audit) {
      if (!provisioners.some((p) => p.id === a.provisionerId)) throw unknownProvisionerForAdmin(a.provisionerId);
      if (admins.some((b) => b.subject === a.subject && b.provisionerId === a.provisionerId)) throw adminExists(a.subject);
      admins.push(copyAdmin(a));
      audited(audit, ADMINS_TOPIC, a.id);
    },
    async updateAdmin(id, type, audit) {
      const i = adminIndex(id);
      const admin = admins[i] as StoredAdmin;
      if (type !== 'SUPER_ADMIN' && !superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`making ${admin.subject} an ADMIN`);
      admins[i] = { ...admin, type };
      audited(audit, ADMINS_TOPIC, id);
      return copyAdmin(admins[i] as StoredAdmin);
    },
    async removeAdmin(id, audit) {
      const i = adminIndex(id);
      if (!superAdminRemains(admins, (a) => a.id === id)) throw noSuperAdminLeft(`removing ${(admins[i] as StoredAdmin).subject}`);
      admins.splice(i, 1);
      audited(audit, ADMINS_TOPIC, id);
    },
    async seedProvisioners(list, seedAdmins, audit) {
      if (provisioners.length > 0) return false;
      provisioners = list.map(copyProvisioner);
      admins = seedAdmins.map(copyAdmin);
      audited(audit, PROVISIONERS_TOPIC, 'seed');
      announce(ADMINS_TOPIC, 'seed');
      return true;
    },
    async listAudit() {
      return audits.map((e) => ({ ...e }));
    },
    async watch(topic, onChange) {
      checkTopic(topic);
      const watch = feed.add(topic, onChange);
      watch.arm(versions.get(topic) ?? 0);
      return watch.stop;
    },
    async notify(topic, detail) {
      checkTopic(topic);
      announce(topic, detail);
    },
    async ping() {
      // Always there.
    },
    async close() {
      // Nothing to release; the maps go with the process.
    },
  };
}
