/**
 * What the CA keeps: every issued certificate and every used token. The embedded implementation is
 * SQLite; a PostgreSQL adapter implements the same interface later.
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
  close(): Promise<void>;
}
