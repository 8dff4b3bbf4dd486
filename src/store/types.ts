/**
 * What the CA keeps: every issued certificate, every used token, every revocation and the CRL's
 * number. Implementations: SQLite (the embedded default), PostgreSQL (shared by several `ca serve`
 * replicas), memory (no `db`).
 */
import type { ProvisionerJson } from '../config/ca-config.js';

export interface IssuedCertificate {
  /** Decimal serial number. */
  serial: string;
  subject: string;
  sans: string[];
  provisioner: string;
  notBefore: Date;
  notAfter: Date;
  pem: string;
}

/** A revoked certificate, as the CRL lists it and renewals refuse it. */
export interface Revocation {
  /** Decimal serial number. */
  serial: string;
  /** RFC 5280 CRLReason code (0 = unspecified). */
  reasonCode: number;
  reason: string;
  revokedAt: Date;
  /** The certificate's notAfter: the CRL lists the serial until then. */
  notAfter: Date;
  /** The provisioner that issued the certificate ('' when unknown). */
  provisioner: string;
  /** How the revocation was authorized, for the record (a token's provisioner and subject, or mTLS). */
  revokedBy: string;
}

export type RevokeResult =
  | { result: 'revoked' }
  /** The serial is not one this CA recorded (only when `requireKnown`). */
  | { result: 'unknown-serial' }
  | { result: 'already-revoked'; existing: Revocation }
  /** The token paying for the revocation was used before. */
  | { result: 'token-used' };

/** A provisioner kept in the store (remote administration, `authority.enableAdmin`). */
export interface StoredProvisioner {
  /** A UUID, stable across renames. */
  id: string;
  /** Unique among the store's provisioners. */
  name: string;
  type: string;
  /** The provisioner in ca.json's shape (`type` and `name` equal the columns). */
  config: ProvisionerJson;
  createdAt: Date;
}

export type AdminType = 'ADMIN' | 'SUPER_ADMIN';

/** Someone who may use the admin API: a subject (a name in their admin certificate) on one provisioner. */
export interface StoredAdmin {
  id: string;
  subject: string;
  provisionerId: string;
  type: AdminType;
  createdAt: Date;
}

/** One recorded change: who (admin subject and provisioner), what, to which. */
export interface AuditEntry {
  at: Date;
  /** e.g. `alice@example.com (provisioner admin)`. */
  actor: string;
  /** e.g. `provisioner.add`, `admin.remove`. */
  action: string;
  /** The name or id changed. */
  target: string;
  /** More, as JSON text ('' when nothing). */
  detail: string;
}

/**
 * The provisioners and admins of remote administration, with their rules. Each change writes its
 * audit row and announces its topic in the same transaction. A broken rule is a CaError: 400 for a
 * duplicate or for leaving no super admin, 404 for an unknown id.
 */
export interface AdminStore {
  listProvisioners(): Promise<StoredProvisioner[]>;
  listAdmins(): Promise<StoredAdmin[]>;
  /** 400 when the name is taken. */
  addProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void>;
  /** Replace the one with `p.id` (name and config); 404 unknown, 400 name taken. */
  updateProvisioner(p: StoredProvisioner, audit: AuditEntry): Promise<void>;
  /** Remove it and its admins; 404 unknown, 400 when no super admin would remain. */
  removeProvisioner(id: string, audit: AuditEntry): Promise<void>;
  /** 400 when the provisioner is unknown or the subject is already an admin of it. */
  addAdmin(a: StoredAdmin, audit: AuditEntry): Promise<void>;
  /** 404 unknown, 400 when it would leave no super admin. */
  updateAdmin(id: string, type: AdminType, audit: AuditEntry): Promise<StoredAdmin>;
  /** 404 unknown, 400 when it would leave no super admin. */
  removeAdmin(id: string, audit: AuditEntry): Promise<void>;
  /**
   * The first start with remote administration: store these provisioners and admins only if the
   * store has no provisioner yet (several replicas starting at once: one does it). Returns whether
   * this call stored them.
   */
  seedProvisioners(provisioners: StoredProvisioner[], admins: StoredAdmin[], audit: AuditEntry): Promise<boolean>;
  /** The audit log, oldest first. */
  listAudit(): Promise<AuditEntry[]>;
}

export interface Store extends AdminStore {
  recordCertificate(cert: IssuedCertificate): Promise<void>;
  /**
   * Mark a token as used until it expires. Returns false when it was already used (a replay).
   * Safe across processes that share the store.
   */
  useToken(tokenId: string, expiresAt: Date, now: Date): Promise<boolean>;
  /**
   * Both at once, in one transaction: mark the token used and record the certificate made for it.
   * Returns false, recording nothing, when the token was already used. One durable write per
   * issued certificate instead of two.
   */
  issueCertificate(token: { id: string; expiresAt: Date }, cert: IssuedCertificate, now: Date): Promise<boolean>;
  getCertificate(serial: string): Promise<IssuedCertificate | undefined>;
  /**
   * Record a revocation, in one transaction with marking its token used (when a token paid for
   * it) and the checks that decide it: the serial is known (with `requireKnown`), not revoked
   * already, the token not used. Nothing is written unless the result is 'revoked'.
   */
  revokeCertificate(revocation: Revocation, opts: { token?: { id: string; expiresAt: Date }; requireKnown: boolean; now: Date }): Promise<RevokeResult>;
  getRevocation(serial: string): Promise<Revocation | undefined>;
  /** The revocations whose certificates have not expired at `now` (what a CRL lists), oldest first. */
  listRevocations(now: Date): Promise<Revocation[]>;
  /** A number that grows with every recorded revocation; cheap, for telling whether a CRL is stale. */
  revocationsVersion(): Promise<number>;
  /**
   * Record a renewed or rekeyed certificate, in one transaction with the check that the one it
   * replaces (`fromSerial`) is not revoked; when it is, nothing is recorded.
   */
  renewCertificate(fromSerial: string, cert: IssuedCertificate): Promise<{ ok: true } | { ok: false; revoked: Revocation }>;
  /** The next CRL number: increasing across every process sharing the store. */
  nextCrlNumber(): Promise<bigint>;
  /**
   * Hear about changes to `topic` (e.g. 'revocations', 'provisioners') made through this store or
   * any other process or replica sharing the database, within about a second. Resolves once
   * watching: every change committed after that reaches `onChange` at least once (several changes
   * may arrive as one, and a spurious call is possible), so watch first, then load what you keep.
   * Returns the function that stops watching.
   */
  watch(topic: string, onChange: (change: StoreChange) => void): Promise<() => void>;
  /**
   * Announce a change to `topic` to every watcher (in every process). Store methods that change
   * shared state announce it themselves, in the same transaction; this is for the rest.
   */
  notify(topic: string, detail?: string): Promise<void>;
  /** Resolves when the database answers now; rejects with a CaError (status 503) when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** What a watcher hears: the topic, its change counter, and a hint about the latest change. */
export interface StoreChange {
  topic: string;
  /** Counts the topic's changes; only grows. */
  version: number;
  /** A short hint (an id, a name) about the latest change, or ''. Re-read what you keep rather than trust it. */
  detail: string;
}
