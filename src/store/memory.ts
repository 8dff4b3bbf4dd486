/**
 * The store when ca.json has no `db`, as step-ca's in-memory "SimpleDB": the same rules as SQLite,
 * kept for the life of the process. Several server processes do not share it, so a token could be
 * used once per process; configure a `db` for a cluster.
 */
import { TOKEN_SWEEP_INTERVAL_MS } from './used-tokens.js';
import type { IssuedCertificate, Store } from './types.js';

export function openMemoryStore(): Store {
  const certificates = new Map<string, IssuedCertificate>();
  /** Token id to expiry (ms). */
  const usedTokens = new Map<string, number>();
  let lastSweep = -Infinity;

  function sweep(nowMs: number): void {
    if (nowMs - lastSweep < TOKEN_SWEEP_INTERVAL_MS) return;
    lastSweep = nowMs;
    for (const [id, expiresAt] of usedTokens) if (expiresAt <= nowMs) usedTokens.delete(id);
  }

  return {
    async recordCertificate(cert) {
      if (certificates.has(cert.serial)) throw new Error(`a certificate with serial ${cert.serial} is already recorded`);
      certificates.set(cert.serial, { ...cert, sans: [...cert.sans] });
    },
    async useToken(tokenId, expiresAt, now) {
      const nowMs = now.getTime();
      sweep(nowMs);
      const current = usedTokens.get(tokenId);
      if (current !== undefined && current > nowMs) return false;
      usedTokens.set(tokenId, expiresAt.getTime());
      return true;
    },
    async getCertificate(serial) {
      const cert = certificates.get(serial);
      return cert && { ...cert, sans: [...cert.sans] };
    },
    async close() {
      // Nothing to release; the maps go with the process.
    },
  };
}
