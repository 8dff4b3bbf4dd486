/**
 * What the CA keeps: every issued certificate, every used token, every revocation and the CRL's
 * number. Implementations: SQLite (the embedded default), PostgreSQL (shared by several `ca serve`
 * replicas), memory (no `db`).
 */

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

export interface Store {
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
