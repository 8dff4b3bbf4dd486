/**
 * The store when ca.json has no `db`, as step-ca's in-memory "SimpleDB": the same rules as SQLite,
 * kept for the life of the process. Several server processes do not share it, so a token could be
 * used once per process; configure a `db` for a cluster.
 */
import { ChangeFeed, changeDetail, checkTopic, REVOCATIONS_TOPIC } from './changes.js';
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';
import type { IssuedCertificate, Revocation, Store } from './types.js';

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
